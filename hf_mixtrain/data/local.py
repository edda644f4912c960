"""Per-language local data: CoNLL/IOB, CoNLL-U and JSON Lines files, or ``DatasetDict.save_to_disk`` folders.

The layout is described in :mod:`hf_mixtrain.data`. Errors name the file and line.
"""

import json
import logging
from pathlib import Path

from datasets import Dataset, DatasetDict, load_from_disk

from .errors import DataError
from .schema import ALIASES, REQUIRED, TOKEN_TASKS, canonicalize, collect_label_names

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "dev", "valid"), "test": ("test",)}
CONLL_EXTS = (".conll", ".iob", ".txt")
EXTS = CONLL_EXTS + (".conllu", ".jsonl")


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
        line = raw.strip()
        cols = line.split("\t") if "\t" in line else line.split()
        if not line or cols[0] == "-DOCSTART-":
            docstarts += bool(line)
            if current["tokens"]:
                sentences.append(current)
                current = {"tokens": [], "tags": [], "lines": []}
            continue
        if len(cols) < 2:
            raise DataError(
                f"{path}:{number}: one column ({line!r}); CoNLL/IOB lines need a token and a tag separated by "
                f"a tab or spaces (tag in the last column), and sentences are separated by blank lines"
            )
        current["tokens"].append(cols[0].strip())
        current["tags"].append(cols[-1].strip())
        current["lines"].append(number)
    if current["tokens"]:
        sentences.append(current)
    logger.info("%s: read %d sentences (%d lines), skipped %d -DOCSTART- line(s)", path, len(sentences), number,
                docstarts)
    return sentences


def read_conllu(path) -> list:
    """Read a CoNLL-U file (Universal Dependencies): FORM and UPOS of every syntactic word.

    As UD specifies, multiword-token range lines (``1-2``) are skipped and their word lines kept, empty nodes
    (``5.1``) are skipped, ``#`` lines are comments. Returns dicts like :func:`read_conll`.
    """
    sentences, current = [], {"tokens": [], "tags": [], "lines": []}
    comments = ranges = empty = 0
    for number, raw in _numbered_lines(path):
        line = raw.rstrip("\r\n")
        if not line.strip():
            if current["tokens"]:
                sentences.append(current)
                current = {"tokens": [], "tags": [], "lines": []}
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
        if "-" in cols[0]:
            ranges += 1  # the words of this multiword token follow on their own lines
            continue
        if "." in cols[0]:
            empty += 1  # empty node of the enhanced graph: no surface word
            continue
        current["tokens"].append(cols[1])
        current["tags"].append(cols[3])
        current["lines"].append(number)
    if current["tokens"]:
        sentences.append(current)
    logger.info("%s: read %d sentences; skipped %d comment, %d multiword-range and %d empty-node line(s)",
                path, len(sentences), comments, ranges, empty)
    return sentences


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


def _read_split(task: str, lang: str, paths: list, label_names) -> list:
    rows = []
    for path in paths:
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            part = read_jsonl(path, task)
        elif suffix == ".conllu":
            part = read_conllu(path)
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


def load_local(task: str, lang: str, folder, *, label_names=None) -> DatasetDict:
    """Load language ``lang`` of ``task`` from its ``folder`` (see :func:`language_folder`) into the canonical schema."""
    folder = Path(folder)
    if (folder / "dataset_dict.json").is_file():
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
            rows = _read_split(task, lang, paths, label_names)
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
