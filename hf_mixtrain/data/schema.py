"""The canonical schema of each task, and the conversion of any dataset (Hub rows, files, saved folders) into it.

- ner, pos: ``tokens`` List(string), ``tags`` List(ClassLabel), ``lang``
- qa: ``id``, ``context``, ``question``, ``answers`` {``text``: List(string), ``answer_start``: List(int32)}, ``lang``
- xnli: ``premise``, ``hypothesis`` (absent for single-sentence data), ``label`` ClassLabel, ``lang``
"""

import logging

from datasets import ClassLabel, Dataset, Features, List, Value

from .errors import DataError

logger = logging.getLogger(__name__)

TOKEN_TASKS = ("ner", "pos")

WIKIANN_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
UPOS_TAGS = [
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ",
    "SYM", "VERB", "X",
]
# Petrov et al. (2012) universal tagset.
UNIVERSAL_TAGS = ["NOUN", "VERB", "ADJ", "ADV", "PRON", "DET", "ADP", "NUM", "CONJ", "PRT", ".", "X"]
XNLI_LABELS = ["entailment", "neutral", "contradiction"]
# When the labels seen in string-labelled data fit one of these, the whole known list (in its usual order) is
# used, so a language whose files happen to lack a rare label still gets the same label set as the others.
KNOWN_LABEL_SETS = {"ner": [WIKIANN_TAGS], "pos": [UPOS_TAGS, UNIVERSAL_TAGS], "xnli": [XNLI_LABELS]}

# Column names accepted for a canonical column (Hub and common file conventions).
ALIASES = {
    "tags": ("ner_tags", "pos_tags"),
    "premise": ("sentence1", "sentence", "text"),
    "hypothesis": ("sentence2",),
    "label": ("gold_label",),
}
REQUIRED = {"ner": ("tokens", "tags"), "pos": ("tokens", "tags"), "qa": ("context", "question", "answers"),
            "xnli": ("premise", "label")}
COLUMN_ORDER = {"ner": ("tokens", "tags"), "pos": ("tokens", "tags"),
                "qa": ("id", "context", "question", "answers"), "xnli": ("premise", "hypothesis", "label")}


def label_column(task: str):
    """Name of the label column for ``task`` (None for QA)."""
    return "tags" if task in TOKEN_TASKS else "label" if task == "xnli" else None


def canonical_features(task: str, label_names=None, pair: bool = True) -> Features:
    """The canonical ``Features`` of ``task`` (``pair=False``: single-sentence classification)."""
    if task in TOKEN_TASKS:
        cols = {"tokens": List(Value("string")), "tags": List(ClassLabel(names=list(label_names)))}
    elif task == "qa":
        cols = {"id": Value("string"), "context": Value("string"), "question": Value("string"),
                "answers": {"text": List(Value("string")), "answer_start": List(Value("int32"))}}
    else:
        cols = {"premise": Value("string")}
        if pair:
            cols["hypothesis"] = Value("string")
        cols["label"] = ClassLabel(names=list(label_names))
    cols["lang"] = Value("string")
    return Features(cols)


def _label_sort_key(name: str):
    # "O" first, then IOB tags grouped by entity type (B before I), then any other label alphabetically.
    if name == "O":
        return (0, "", False)
    if name[:2] in ("B-", "I-"):
        return (1, name[2:], name[0] == "I")
    return (2, name, False)


def infer_label_names(task: str, seen) -> list:
    """Label names for string labels ``seen``: a known list that contains them all, else a stable sorted order."""
    seen = set(seen)
    for known in KNOWN_LABEL_SETS.get(task, ()):
        if seen <= set(known):
            return list(known)
    return sorted(seen, key=_label_sort_key)


def _rename_aliases(task: str, ds: Dataset) -> Dataset:
    for canonical, aliases in ALIASES.items():
        if canonical not in COLUMN_ORDER[task] or canonical in ds.column_names:
            continue
        for alias in aliases:
            if alias in ds.column_names:
                ds = ds.rename_column(alias, canonical)
                break
    return ds


def _inner_feature(ds: Dataset, task: str):
    feature = ds.features[label_column(task)]
    return feature.feature if task in TOKEN_TASKS else feature


def collect_label_names(task: str, splits, label_names=None, where: str = "dataset"):
    """The label names one language's splits will share.

    ``label_names`` wins when given. ClassLabel columns that agree keep their names and order (Hub data);
    otherwise the names seen (declared ClassLabel names and string values) go through :func:`infer_label_names`.
    """
    if label_column(task) is None:
        return None
    if label_names is not None:
        return list(label_names)
    declared, seen = [], set()
    for ds in splits:
        ds = _rename_aliases(task, ds)
        if label_column(task) not in ds.column_names:
            continue  # canonicalize reports the missing column
        inner = _inner_feature(ds, task)
        if isinstance(inner, ClassLabel):
            declared.append(list(inner.names))
            seen.update(inner.names)
        elif inner.dtype == "string":
            values = ds[label_column(task)]
            seen.update((v for row in values for v in row) if task in TOKEN_TASKS else values)
        else:
            raise DataError(
                f"{where}: the {label_column(task)!r} column holds {inner.dtype} values without label names; "
                f"pass label_names=[...] (index i means label_names[i]) or store labels as strings or ClassLabel"
            )
    if declared and all(names == declared[0] for names in declared) and seen == set(declared[0]):
        return declared[0]
    return infer_label_names(task, seen)


def _encode_labels(ds: Dataset, task: str, names: list, where: str) -> Dataset:
    """Rewrite the label column as indices into ``names`` (from strings, ints or another ClassLabel order)."""
    column, nested = label_column(task), task in TOKEN_TASKS
    inner = _inner_feature(ds, task)
    if isinstance(inner, ClassLabel) and list(inner.names) == names:
        return ds
    if isinstance(inner, ClassLabel):
        unknown = [n for n in inner.names if n not in names]
        if unknown:
            raise DataError(f"{where}: labels {unknown} are not in label_names {names}; add them to label_names")
        lookup = {i: names.index(n) for i, n in enumerate(inner.names)}
    elif inner.dtype == "string":
        lookup = {n: i for i, n in enumerate(names)}
    else:  # integers given together with label_names
        lookup = {i: i for i in range(len(names))}

    def encode(batch, indices):
        out = []
        for row_index, value in zip(indices, batch[column]):
            try:
                out.append([lookup[v] for v in value] if nested else lookup[value])
            except KeyError as err:
                raise DataError(
                    f"{where}, row {row_index}: label {err.args[0]!r} is not in the label set {names}; "
                    f"add it to label_names or fix the data"
                ) from None
        return {column: out}

    features = ds.features.copy()
    features[column] = List(ClassLabel(names=names)) if nested else ClassLabel(names=names)
    return ds.map(encode, batched=True, with_indices=True, features=features, keep_in_memory=True)


def _check_token_lengths(ds: Dataset, where: str) -> None:
    bad = [(i, len(t), len(g)) for i, (t, g) in enumerate(zip(ds["tokens"], ds["tags"])) if len(t) != len(g)]
    if bad:
        i, n_tok, n_tag = bad[0]
        raise DataError(
            f"{where}, row {i}: {n_tok} tokens but {n_tag} tags ({len(bad)} row(s) like this); every token needs "
            f"exactly one tag: fix or remove those rows"
        )


def _check_answers(ds: Dataset, where: str) -> None:
    answers = ds.features["answers"]
    if not isinstance(answers, dict) or set(answers) != {"text", "answer_start"}:
        raise DataError(
            f"{where}: 'answers' must be {{'text': [str, ...], 'answer_start': [int, ...]}} (SQuAD layout), "
            f"found {answers}"
        )
    off = 0
    for i, (context, ans) in enumerate(zip(ds["context"], ds["answers"])):
        if len(ans["text"]) != len(ans["answer_start"]):
            raise DataError(
                f"{where}, row {i}: {len(ans['text'])} answer texts but {len(ans['answer_start'])} answer_start "
                f"offsets; give one offset per answer text"
            )
        off += sum(context[s:s + len(t)] != t for s, t in zip(ans["answer_start"], ans["text"]))
    if off:
        # Kept: the evaluation compares texts, only training needs the offsets.
        logger.warning("%s: %d answer(s) whose text differs from context[answer_start:...]; kept", where, off)


def canonicalize(task: str, ds: Dataset, lang: str, *, label_names=None, where: str = None) -> Dataset:
    """Convert ``ds`` into the canonical schema of ``task``, every row tagged ``lang``.

    Accepts the Hub column names (``ner_tags``, ``pos_tags``, ``sentence1``/``sentence2``...), labels as strings,
    ClassLabel (re-ordered to ``label_names`` by name) or ints (with ``label_names``). Extra columns are dropped
    (logged). ``label_names`` defaults to :func:`collect_label_names` over ``ds``.
    """
    where = where or f"language {lang!r}"
    ds = _rename_aliases(task, ds)
    missing = [c for c in REQUIRED[task] if c not in ds.column_names]
    if missing:
        raise DataError(
            f"{where}: missing column(s) {missing}; the {task!r} schema needs {list(COLUMN_ORDER[task])} "
            f"(found {ds.column_names})"
        )
    if "lang" in ds.column_names:
        other = sorted(set(ds.unique("lang")) - {lang})
        if other:
            logger.warning("%s: rows tagged lang=%s are re-tagged %r (the folder/config decides)", where, other, lang)
    if task == "qa" and "id" not in ds.column_names:
        ds = ds.add_column("id", [f"{lang}-{i}" for i in range(len(ds))])
        logger.info("%s: no 'id' column; generated ids %s-0...", where, lang)
    keep = [c for c in COLUMN_ORDER[task] if c in ds.column_names]
    dropped = [c for c in ds.column_names if c not in keep]
    if dropped:
        logger.debug("%s: dropping columns %s", where, dropped)
    ds = ds.select_columns(keep)

    names = None
    if task in TOKEN_TASKS:
        _check_token_lengths(ds, where)
    elif task == "qa":
        _check_answers(ds, where)
    if label_column(task):
        names = collect_label_names(task, [ds], label_names, where) if label_names is None else list(label_names)
        label_feature = ds.features[label_column(task)]
        if task == "xnli" and not (isinstance(label_feature, Value) and label_feature.dtype == "string"):
            unlabelled = sum(v == -1 for v in ds["label"])
            if unlabelled:
                ds = ds.filter(lambda v: [x != -1 for x in v], batched=True, input_columns="label",
                               keep_in_memory=True)
                logger.info("%s: dropped %d rows with label -1 (no gold label), kept %d", where, unlabelled, len(ds))
        ds = _encode_labels(ds, task, names, where)
    ds = ds.add_column("lang", [lang] * len(ds))
    features = canonical_features(task, names, pair="hypothesis" in ds.column_names)
    return ds if ds.features == features else ds.cast(features, keep_in_memory=True)


def label_names_of(task: str, dataset_dict):
    """Label names of a canonical DatasetDict (or Dataset); None for QA."""
    if label_column(task) is None:
        return None
    ds = dataset_dict if isinstance(dataset_dict, Dataset) else next(iter(dataset_dict.values()))
    return list(_inner_feature(ds, task).names)


def harmonize_labels(task: str, data: dict, reference: str = None) -> dict:
    """Check that every language has the same label set as ``reference`` and re-order labels to its order.

    Raises naming, per language, the extra and missing labels, and the fix (one ``label_names`` for all).
    For classification, also checks that all languages are sentence pairs or all single sentences.
    """
    if not data or label_column(task) is None:
        return data
    reference = reference if reference is not None else next(iter(data))
    ref_names = label_names_of(task, data[reference])
    diffs, union = [], set(ref_names)
    for lang, dd in data.items():
        names = label_names_of(task, dd)
        union.update(names)
        extra, missing = sorted(set(names) - set(ref_names)), sorted(set(ref_names) - set(names))
        if extra or missing:
            diffs.append(f"{lang}: extra {extra}, missing {missing}")
    if diffs:
        raise DataError(
            f"label sets differ across languages (reference {reference!r}: {ref_names}); " + "; ".join(diffs)
            + f". Fix: pass label_names={infer_label_names(task, union)} so every language uses one label set, "
            f"or fix the data"
        )
    if task == "xnli":
        pair = {lang: "hypothesis" in next(iter(dd.values())).column_names for lang, dd in data.items()}
        if len(set(pair.values())) > 1:
            kinds = ", ".join(f"{lang}={'pair' if is_pair else 'single'}" for lang, is_pair in pair.items())
            raise DataError(
                f"some languages are sentence pairs and others single sentences ({kinds}); "
                f"give every language a 'hypothesis' column, or none"
            )
    out = {}
    for lang, dd in data.items():
        if label_names_of(task, dd) != ref_names:
            logger.info("language %r: label order re-mapped to that of %r", lang, reference)
            dd = type(dd)({split: _encode_labels(ds, task, ref_names, f"language {lang!r} {split}")
                           for split, ds in dd.items()})
        out[lang] = dd
    return out
