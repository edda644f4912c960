"""Seeded K-shot sampling, the same on every process and machine.

Randomness comes only from ``numpy.random.default_rng`` seeded with ``[seed, crc32(language code)]``, so a
language's shots depend on the seed and its code, not on the process (no ``hash()``), the other languages, or
the order they are sampled in.

Units:

- ``sentences`` (NER/POS, the authors): shuffle the pool with the seed, keep the first K rows.
- ``questions`` (QA, the authors' default): the same over questions (rows).
- ``per_class`` (XNLI, the authors): the first K rows of each class in the seeded order.
- ``labels`` (Zhao et al. 2021): every label at least K times in as few sentences as the greedy choice takes:
  repeatedly add the sentence that covers most of the still-missing label counts (ties: earliest in the
  seeded order). For IOB tag sets a label is the entity type and counts are mentions (B-X, or an I-X that
  does not continue an X mention); for other tag sets (POS) a label is a tag and counts are tokens.
"""

import logging
import zlib

import numpy as np
from datasets import ClassLabel, Dataset

from .errors import DataError

logger = logging.getLogger(__name__)

UNITS = ("sentences", "labels", "per_class", "questions")


def _rng(seed, key=None) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {seed!r}")
    entropy = [int(seed)] if key is None else [int(seed), zlib.crc32(str(key).encode("utf-8"))]
    return np.random.default_rng(entropy)


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise DataError(f"k must be a non-negative integer, got {k!r}")
    return int(k)


def _language_of(dataset: Dataset):
    if "lang" in dataset.column_names and len(dataset):
        codes = dataset.unique("lang")
        if len(codes) == 1:
            return codes[0]
    return None


def _too_few(lang, what: str, allow_fewer: bool) -> None:
    if not allow_fewer:
        raise DataError(f"language {lang!r}: {what}. Pass allow_fewer=True to take what there is (the count is "
                        f"logged), or lower k")
    logger.warning("language %r: %s; allow_fewer=True, taking what there is", lang, what)


def sample_rows(dataset: Dataset, n: int, seed: int, *, key: str = None, allow_fewer: bool = False) -> Dataset:
    """The first ``n`` rows of a permutation seeded by ``seed`` (and ``key``, e.g. a language code)."""
    n = _check_k(n)
    pool = len(dataset)
    if n > pool:
        _too_few(key, f"{n} rows asked but the pool has only {pool}", allow_fewer)
    return dataset.select(_rng(seed, key).permutation(pool)[:n].tolist())


def _label_counts(tag_rows, names):
    """Per sentence, how often each label occurs: (labels, counts[n_sentences, n_labels])."""
    iob = all(name == "O" or name[:2] in ("B-", "I-") for name in names)
    labels = list(dict.fromkeys(name[2:] for name in names if name != "O")) if iob else list(names)
    column = [labels.index(name[2:]) if name != "O" else -1 for name in names] if iob else list(range(len(names)))
    counts = np.zeros((len(tag_rows), len(labels)), dtype=np.int64)
    for i, tags in enumerate(tag_rows):
        previous = -1
        for tag in tags:
            c = column[tag]
            if c >= 0 and (not iob or names[tag][0] == "B" or previous != c):
                counts[i, c] += 1
            previous = c
    return labels, counts


def _labels_indices(dataset: Dataset, k: int, rng, lang, allow_fewer: bool) -> list:
    feature = dataset.features.get("tags")
    if feature is None or not isinstance(getattr(feature, "feature", None), ClassLabel):
        raise DataError("unit 'labels' needs a 'tags' column of ClassLabel sequences (task ner or pos)")
    labels, counts = _label_counts(dataset["tags"], feature.feature.names)
    totals = counts.sum(0)
    need = np.full(len(labels), k)
    problems = [f"label {lab!r} is absent" if t == 0 else f"label {lab!r} occurs {t} time(s)"
                for lab, t in zip(labels, totals) if t < k]
    if problems:
        _too_few(lang, f"'labels' shots need every label at least k={k} times, but in its pool of "
                       f"{len(dataset)} sentences " + "; ".join(problems), allow_fewer)
        need = np.minimum(need, totals)
    order = rng.permutation(len(dataset))
    permuted = counts[order]
    used = np.zeros(len(order), dtype=bool)
    chosen = []
    while need.any():
        gain = np.minimum(permuted, need).sum(1)
        gain[used] = -1
        j = int(np.argmax(gain))  # first maximum: ties go to the earliest sentence in the seeded order
        used[j] = True
        chosen.append(int(order[j]))
        need = np.maximum(need - permuted[j], 0)
    return chosen


def _per_class_indices(dataset: Dataset, k: int, rng, lang, allow_fewer: bool) -> list:
    feature = dataset.features.get("label")
    if not isinstance(feature, ClassLabel):
        raise DataError("unit 'per_class' needs a ClassLabel 'label' column (task xnli)")
    labels = np.asarray(dataset["label"])
    order = rng.permutation(len(dataset))
    counts = np.bincount(labels, minlength=feature.num_classes)
    short = [f"class {name!r} has {c} row(s)" for name, c in zip(feature.names, counts) if c < k]
    if short:
        _too_few(lang, f"k={k} per class asked but in its pool of {len(dataset)} rows " + "; ".join(short),
                 allow_fewer)
    keep = np.zeros(len(order), dtype=bool)
    ordered_labels = labels[order]
    for c in range(feature.num_classes):
        keep[np.flatnonzero(ordered_labels == c)[:k]] = True
    return order[keep].tolist()


def k_shot_indices(dataset: Dataset, k: int, *, seed: int, unit: str = "sentences", allow_fewer: bool = False,
                   lang: str = None) -> list:
    """Row indices of the K-shot sample (see :func:`sample_k_shot`), in the seeded order."""
    k = _check_k(k)
    if unit not in UNITS:
        raise DataError(f"unknown shot unit {unit!r}; valid units: {', '.join(UNITS)}")
    lang = lang if lang is not None else _language_of(dataset)
    rng = _rng(seed, lang)
    if k == 0:
        return []
    if unit == "labels":
        return _labels_indices(dataset, k, rng, lang, allow_fewer)
    if unit == "per_class":
        return _per_class_indices(dataset, k, rng, lang, allow_fewer)
    if k > len(dataset):
        _too_few(lang, f"k={k} {unit} asked but its pool has only {len(dataset)}", allow_fewer)
    return rng.permutation(len(dataset))[:k].tolist()


def sample_k_shot(dataset: Dataset, k: int, *, seed: int, unit: str = "sentences", allow_fewer: bool = False,
                  lang: str = None) -> Dataset:
    """Draw the K-shot set of one language from its pool ``dataset``.

    ``unit`` is one of "sentences", "labels", "per_class", "questions" (module docstring). The random stream
    is keyed by ``lang`` (default: the dataset's single ``lang`` value), so the result is stable across
    processes and machines. Asking for more than the pool holds raises, naming the language, the pool and K;
    with ``allow_fewer=True`` it takes what there is and logs the count.
    """
    indices = k_shot_indices(dataset, k, seed=seed, unit=unit, allow_fewer=allow_fewer, lang=lang)
    logger.info("language %r: %d row(s) of shots (k=%d, unit %s, seed %d)",
                lang if lang is not None else _language_of(dataset), len(indices), k, unit, seed)
    return dataset.select(indices)
