"""Per-language local data: CoNLL/IOB, CoNLL-U and JSON Lines files, or ``DatasetDict.save_to_disk`` folders.

The layout is described in :mod:`hf_mixtrain.data`. Errors name the file and line. Slightly over the project's
~350 lines: the three readers share the line numbering, decoding and error helpers kept here.
"""

import json
import logging
import re
from pathlib import Path

from datasets import Dataset, DatasetDict, load_from_disk

from .errors import DataError
from .schema import ALIASES, REQUIRED, TOKEN_TASKS, canonicalize, collect_label_names

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "dev", "valid"), "test": ("test",)}
CONLL_EXTS = (".conll", ".iob", ".txt")
EXTS = CONLL_EXTS + (".conllu", ".jsonl")
TOKEN_FORMS = ("words", "fused")  # see read_conllu
# The UPOS order by which XTREME's ud-conversion-tools (conllu_to_conll.py) pick a multiword token's head word
# among its words closest to the root, per language; UPOS not listed come last.
FUSED_HEAD_PRECEDENCE = {
    "default": "VERB NOUN PROPN PRON ADJ NUM ADV INTJ AUX ADP DET PART CCONJ SCONJ X PUNCT".split(),
    "es": "VERB AUX PRON ADP DET".split(),
    "fr": "VERB AUX PRON NOUN ADJ ADV ADP DET PART SCONJ CONJ".split(),
    "it": "VERB AUX ADV PRON ADP DET INTJ".split(),
}


def _split_of(name: str):
    """Split named by a file stem or saved split name: "train", "dev", "en_ewt-ud-train", "tydiqa.en.dev"."""
    last = name.lower().replace("-", ".").replace("_", ".").split(".")[-1]
    return next((split for split, names in SPLIT_NAMES.items() if last in names), None)


def _numbered_lines(path):
    """(line number, line) over a UTF-8 text file (a leading BOM is dropped). A byte that is not UTF-8 raises a
    DataError naming the file, the line and the fix."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            yield from enumerate(f, 1)
    except UnicodeDecodeError:
        data = Path(path).read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:  # the same error, with its offset in the whole file
            line = data.count(b"\n", 0, err.start) + 1
            raise DataError(f"{path}:{line}: not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start}); "
                            f"convert the file to UTF-8, e.g. iconv -f <its encoding> -t UTF-8") from None
        raise


def read_conll(path) -> list:
    """Read a CoNLL/IOB file: token and tag per line, tag in the last column, a blank line between sentences.

    Columns are tab-separated when the line has a tab, else whitespace-separated. ``-DOCSTART-`` lines are
    skipped. Returns one dict per sentence: ``tokens``, ``tags`` and ``lines`` (1-based line of each token).
    """
    sentences, current, docstarts, number = [], {"tokens": [], "tags": [], "lines": []}, 0, 0
    for number, raw in _numbered_lines(path):
        line = raw.rstrip("\r\n")
        # With tabs, a column is what lies between them: a token may itself be a space (U+3000 in Japanese corpora).
        cols = [c.strip(" ") for c in line.split("\t")] if "\t" in line else line.split()
        if not line.strip() or cols[0] == "-DOCSTART-":
            docstarts += bool(line.strip())
            if current["tokens"]:
                sentences.append(current)
                current = {"tokens": [], "tags": [], "lines": []}
            continue
        if len(cols) < 2:
            raise DataError(
                f"{path}:{number}: one column ({line!r}); CoNLL/IOB lines need a token and a tag separated by "
                f"a tab or spaces (tag in the last column), and sentences are separated by blank lines"
            )
        if not cols[0] or not cols[-1]:
            raise DataError(f"{path}:{number}: an empty {'token' if not cols[0] else 'tag'} column ({line!r})")
        current["tokens"].append(cols[0])
        current["tags"].append(cols[-1])
        current["lines"].append(number)
    if current["tokens"]:
        sentences.append(current)
    logger.info("%s: read %d sentences (%d lines), skipped %d -DOCSTART- line(s)", path, len(sentences), number,
                docstarts)
    return sentences


def read_conllu(path, token_form: str = "words", lang: str = None) -> list:
    """Read a CoNLL-U file (Universal Dependencies): the FORM and UPOS of each token.

    ``token_form="words"``: every syntactic word, the unit UD annotates (google/xtreme's udpos rows hold these too).
    A multiword token's range line (``1-2 vámonos``) is skipped and its word lines (``vamos``, ``nos``) kept.
    ``token_form="fused"``: the tokens of the authors' data (XTREME's preprocessing: ud-conversion-tools'
    ``--replace_subtokens_with_fused_forms``, then utils_preprocess.py). A multiword token becomes one token, its
    surface form, tagged with the UPOS of its head word: the word of the span with the fewest ancestors in the
    dependency graph (HEAD and DEPS heads), ties broken by the UPOS order of ``FUSED_HEAD_PRECEDENCE`` for ``lang``.
    Spaces and zero-width non-joiners inside a form are removed, as XTREME did.

    Both skip empty nodes (``5.1``), ``#`` comments and sentences whose every FORM is ``_`` (treebanks distributed
    without their text, e.g. UD_English-ESL; counted in a warning). Returns dicts like :func:`read_conll`.
    """
    if token_form not in TOKEN_FORMS:
        raise DataError(f"token_form {token_form!r} is not one of {TOKEN_FORMS}")
    parsed, words, ranges = [], [], []
    comments = empty = 0
    for number, raw in _numbered_lines(path):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if words:
                parsed.append((words, ranges))
                words, ranges = [], []
            continue
        if line.startswith("#"):
            comments += 1
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise DataError(
                f"{path}:{number}: {len(cols)} tab-separated column(s); CoNLL-U word lines have 10 "
                f"(ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC)"
            )
        span = re.fullmatch(r"(\d+)-(\d+)", cols[0])
        if span:
            ranges.append((int(span[1]), int(span[2]), cols[1], number))
        elif re.fullmatch(r"\d+\.\d+", cols[0]):
            empty += 1  # empty node of the enhanced graph: no surface word
        elif cols[0].isdigit():
            heads = {int(h) for h in [cols[6]] + [dep.split(":")[0] for dep in cols[8].split("|")] if h.isdigit()}
            words.append((int(cols[0]), cols[1], cols[3], heads, number))
        else:
            raise DataError(f"{path}:{number}: ID {cols[0]!r} is not a word index (1), a multiword range (1-2) or "
                            f"an empty node (5.1)")
    if words:
        parsed.append((words, ranges))
    sentences = [_fuse(words, ranges, lang, path) if token_form == "fused" else
                 {"tokens": [w[1] for w in words], "tags": [w[2] for w in words], "lines": [w[4] for w in words]}
                 for words, ranges in parsed if any(w[1] != "_" for w in words)]
    textless = len(parsed) - len(sentences)
    if textless:
        logger.warning("%s: skipped %d sentence(s) whose every FORM is '_' (a treebank distributed without its "
                       "text)", path, textless)
    logger.info("%s: read %d sentences; %d multiword token(s) %s; skipped %d comment and %d empty-node line(s)",
                path, len(sentences), sum(len(r) for _, r in parsed),
                "fused" if token_form == "fused" else "kept as their words", comments, empty)
    return sentences


def _ancestors(node: int, parents: dict) -> int:
    """How many nodes have a path to ``node`` (``parents``: word -> its HEAD and DEPS heads)."""
    seen, todo = set(), [node]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    seen.discard(node)
    return len(seen)


def _fuse(words: list, ranges: list, lang: str, path) -> dict:
    """One sentence with each multiword token as one token tagged like its head word (see :func:`read_conllu`)."""
    parents = {w[0]: w[3] for w in words}
    upos = {w[0]: w[2] for w in words}
    order = FUSED_HEAD_PRECEDENCE.get(lang, FUSED_HEAD_PRECEDENCE["default"])
    fused = {}
    for start, end, form, number in ranges:
        span = list(range(start, end + 1))
        if start >= end or any(i not in upos for i in span):
            raise DataError(f"{path}:{number}: multiword token {start}-{end} does not span words of its sentence")
        depth = {i: _ancestors(i, parents) for i in span}
        highest = [i for i in span if depth[i] == min(depth.values())]
        head = min(highest, key=lambda i: order.index(upos[i]) if upos[i] in order else len(order))
        fused[start] = (end, form, upos[head], number)
    out, skip_to = {"tokens": [], "tags": [], "lines": []}, 0
    for index, form, tag, _, number in words:
        if index <= skip_to:
            continue
        if index in fused:
            skip_to, form, tag, number = fused[index]
        out["tokens"].append("".join(form.replace("\u200c", "").split(" ")))
        out["tags"].append(tag)
        out["lines"].append(number)
    return out


def _resolve_aliases(task: str, obj: dict) -> dict:
    for canonical, aliases in ALIASES.items():
        if canonical not in obj:
            for alias in aliases:
                if alias in obj:
                    obj[canonical] = obj.pop(alias)
                    break
    return obj


def read_jsonl(path, task: str) -> list:
    """Read JSON Lines in the canonical schema of ``task``, one object per line; checks each line.

    QA ``answers`` may also be a SQuAD-style list of ``{"text", "answer_start"}`` objects. Returns dicts with
    an extra ``line`` key.
    """
    rows = []
    for number, raw in _numbered_lines(path):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{path}:{number}: not valid JSON ({err.msg}); write one JSON object per line") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, found {type(obj).__name__}")
        obj = _resolve_aliases(task, obj)
        missing = [key for key in REQUIRED[task] if key not in obj]
        if missing:
            raise DataError(
                f"{path}:{number}: missing key(s) {missing}; the {task!r} schema needs {list(REQUIRED[task])}")
        if task in TOKEN_TASKS and len(obj["tokens"]) != len(obj["tags"]):
            raise DataError(
                f"{path}:{number}: {len(obj['tokens'])} tokens but {len(obj['tags'])} tags; every token needs "
                f"exactly one tag"
            )
        if task == "qa" and isinstance(obj["answers"], list):
            obj["answers"] = {"text": [a["text"] for a in obj["answers"]],
                              "answer_start": [a["answer_start"] for a in obj["answers"]]}
        obj["line"] = number
        rows.append(obj)
    if task == "xnli":
        with_hypothesis = {"hypothesis" in row for row in rows}
        if len(with_hypothesis) > 1:
            odd = next(row["line"] for row in rows if ("hypothesis" in row) != ("hypothesis" in rows[0]))
            raise DataError(f"{path}:{odd}: some lines have a 'hypothesis' and others not; all or none must")
    logger.info("%s: read %d rows", path, len(rows))
    return rows


def language_folder(data_dir, lang: str):
    """``data_dir/<lang>/`` (or ``data_dir`` itself when it is named ``lang``), or None when it has none."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"data_dir {str(root)!r} is not a folder; it should hold one folder per language code")
    if (root / lang).is_dir():
        return root / lang
    if root.name == lang:  # data_dir points at the language folder itself
        return root
    return None


def _split_files(folder: Path, task: str) -> dict:
    files = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in EXTS:
            continue
        split = _split_of(path.stem)
        if split is None:
            logger.warning("%s: ignored (file name names no split: train, validation/dev, test)", path)
            continue
        if task not in TOKEN_TASKS and path.suffix.lower() != ".jsonl":
            raise DataError(f"{path}: {path.suffix} files hold tokens and tags; task {task!r} reads .jsonl files "
                            f"in its canonical schema (or a save_to_disk folder)")
        if task == "ner" and path.suffix.lower() == ".conllu":
            raise DataError(f"{path}: CoNLL-U files carry UPOS tags, not entities; use them for task 'pos', and "
                            f"CoNLL/IOB (.conll .iob .txt) or .jsonl for 'ner'")
        files.setdefault(split, []).append(path)
    if not files:
        raise DataError(f"{folder}: no data found; expected a save_to_disk DatasetDict (dataset_dict.json) or files "
                        f"named train/validation (or dev)/test with extension {' '.join(EXTS)}")
    return files


def _strip_language_prefix(rows: list, lang: str, path) -> None:
    # Raw WikiANN/PAN-X files write tokens as "en:Paris".
    prefix = f"{lang}:"
    if rows and all(tok.startswith(prefix) and len(tok) > len(prefix) for row in rows for tok in row["tokens"]):
        for row in rows:
            row["tokens"] = [tok[len(prefix):] for tok in row["tokens"]]
        logger.info("%s: stripped the %r prefix from every token", path, prefix)


def _read_split(task: str, lang: str, paths: list, label_names, ud_token_form: str) -> list:
    rows = []
    for path in paths:
        suffix = path.suffix.lower()
        if task == "pos" and ud_token_form != "words" and suffix != ".conllu":
            logger.warning("%s: ud_token_form=%r applies to .conllu files; this file is read as it is", path,
                           ud_token_form)
        if suffix == ".jsonl":
            part = read_jsonl(path, task)
        elif suffix == ".conllu":
            part = read_conllu(path, ud_token_form, lang)
        else:
            part = read_conll(path)
            _strip_language_prefix(part, lang, path)
        if label_names is not None and task in TOKEN_TASKS:
            allowed = set(label_names) | set(range(len(label_names)))  # names, or indices into them
            for row in part:
                for i, tag in enumerate(row["tags"]):
                    if tag not in allowed or isinstance(tag, bool):
                        line = row["lines"][i] if "lines" in row else row["line"]
                        raise DataError(f"{path}:{line}: tag {tag!r} is not in label_names {list(label_names)}; "
                                        f"add it to label_names or fix the file")
        rows.extend(part)
    if len(paths) > 1:
        logger.info("language %r: concatenated %d files: %s", lang, len(paths), ", ".join(p.name for p in paths))
    return rows


def load_local(task: str, lang: str, folder, *, label_names=None, ud_token_form: str = "words") -> DatasetDict:
    """Load language ``lang`` of ``task`` from its ``folder`` (see :func:`language_folder`) into the canonical schema.

    ``ud_token_form``: how .conllu files are tokenised, "words" or "fused" (see :func:`read_conllu`).
    """
    folder = Path(folder)
    if (folder / "dataset_dict.json").is_file():
        if task == "pos" and ud_token_form != "words":
            logger.warning("%s: ud_token_form=%r applies to .conllu files; this saved DatasetDict is read as it is",
                           folder, ud_token_form)
        saved = load_from_disk(str(folder), keep_in_memory=True)
        splits = {}
        for name, ds in saved.items():
            split = _split_of(name)
            if split is None:
                logger.warning("%s: split %r ignored (not train, validation/dev or test)", folder, name)
            else:
                splits[split] = ds
        origin = {split: f"{folder} [{split}]" for split in splits}
    elif (folder / "state.json").is_file():
        raise DataError(f"{folder} holds a single saved Dataset; save a DatasetDict with train/validation/test "
                        f"splits instead (DatasetDict({{'train': ..., 'test': ...}}).save_to_disk(...))")
    else:
        splits, origin = {}, {}
        for split, paths in _split_files(folder, task).items():
            rows = _read_split(task, lang, paths, label_names, ud_token_form)
            origin[split] = ", ".join(str(p) for p in paths)
            if not rows:
                raise DataError(f"{origin[split]}: no {'sentences' if task in TOKEN_TASKS else 'rows'} (only blank "
                                f"or comment lines); put the {split} data in it or remove the file")
            for row in rows:
                row.pop("lines", None)
                row.pop("line", None)
            try:
                if task in TOKEN_TASKS:
                    splits[split] = Dataset.from_dict({"tokens": [r["tokens"] for r in rows],
                                                       "tags": [r["tags"] for r in rows]})
                else:
                    splits[split] = Dataset.from_list(rows)
            except (TypeError, ValueError) as err:  # pyarrow's ArrowInvalid/ArrowTypeError derive from these
                raise DataError(f"{origin[split]}: the rows do not form one table ({err}); every line must give "
                                f"each field the same type (e.g. labels all strings or all integers)") from None
    if not splits:
        raise DataError(f"{folder}: no train, validation or test split found")
    names = collect_label_names(task, splits.values(), label_names, where=str(folder))
    out = DatasetDict({split: canonicalize(task, splits[split], lang, label_names=names, where=origin[split])
                       for split in SPLITS if split in splits})
    logger.info("language %r from %s: %s", lang, folder, ", ".join(f"{s} {len(d)}" for s, d in out.items()))
    return out
