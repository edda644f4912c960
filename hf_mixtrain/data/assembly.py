"""The data each of the six methods trains, selects and evaluates on, assembled from per-language splits."""

import logging
import numbers
from dataclasses import dataclass, field
from typing import Optional

from datasets import Dataset, concatenate_datasets

from .errors import DataError
from .languages import check_task
from .sampling import k_shot_indices
from .schema import harmonize_labels, label_names_of

logger = logging.getLogger(__name__)

METHODS = ("zero-shot", "ord-fs-dev", "ord-fs", "mix-ft", "naive-mix", "gradient-mix")
ONE_MODEL = ("zero-shot", "mix-ft", "naive-mix", "gradient-mix")  # the others train one model per target language


def method_conflict(method: str, selection: Optional[str], push_to_hub: bool) -> Optional[str]:
    """Why `method` cannot run with this selection rule or a Hub push (the message names the flag), or None."""
    if selection == "target-dev" and method != "ord-fs-dev":
        return (f"--selection target-dev uses the targets' dev sets, which only ord-fs-dev may see; {method} can use "
                "source-dev or last.")
    if push_to_hub and method not in ONE_MODEL:
        return (f"--push_to_hub: {method} trains one model per target language; push a one-model method "
                f"({', '.join(ONE_MODEL)}).")
    return None


DEFAULT_UNIT = {"ner": "sentences", "pos": "sentences", "qa": "questions", "xnli": "per_class"}
VALID_UNITS = {"ner": ("sentences", "labels"), "pos": ("sentences", "labels"), "qa": ("questions",),
               "xnli": ("per_class", "sentences")}
# Where target shots come from: XNLI has no (human) target train, so the authors draw from target dev.
SHOT_SPLIT = {"ner": "train", "pos": "train", "qa": "train", "xnli": "validation"}


@dataclass
class MixedData:
    """Everything a method needs, per language. Deterministic for a given input and seed.

    Attributes:
        source_train: the source train split (zero-shot, and the first stage of ord-fs / ord-fs-dev / mix-ft).
        shots: ``{target: its K-shot set}`` (empty for zero-shot).
        test: ``{lang: test split}`` for the source and every target.
        source_dev: the source validation split (model selection), or None if it has none.
        target_dev: ``{target: validation split}`` for ord-fs-dev only, else None. For XNLI the shots are drawn
            from that split, so they are removed from it.
        sources: ``{lang: where it came from}`` for the source and targets when ``data`` came from
            :func:`load_languages` (its ``sources``), else empty.
    """

    task: str
    source: str
    targets: list
    k: int
    seed: int
    unit: str
    label_names: Optional[list]
    method: str
    source_train: Dataset
    shots: dict = field(default_factory=dict)
    test: dict = field(default_factory=dict)
    source_dev: Optional[Dataset] = None
    target_dev: Optional[dict] = None
    sources: dict = field(default_factory=dict)

    @property
    def train(self) -> Dataset:
        """The full source train set followed by every target's shots (in ``targets`` order), each row with its
        ``lang``: what naive-mix and gradient-mix train on. Concatenated on each access."""
        return concatenate_datasets([self.source_train] + [self.shots[lang] for lang in self.targets if lang in self.shots])

    @property
    def oracle_pools(self) -> dict:
        """``{lang: rows}`` for gradient surgery: the source's full train set (the trainer subsamples it) and each
        target's shots. Only the source for zero-shot."""
        return {self.source: self.source_train, **self.shots}

    @property
    def languages(self) -> list:
        """The source followed by the targets: the index of a code here is a natural ``lang_id``."""
        return [self.source] + list(self.targets)


def _needed_splits(task: str, method: str, source: str, targets: list) -> dict:
    needed = {source: ["train", "test"]}
    for lang in targets:
        needed[lang] = ["test"]
        if method != "zero-shot":
            needed[lang].append(SHOT_SPLIT[task])
        if method == "ord-fs-dev" and "validation" not in needed[lang]:
            needed[lang].append("validation")
    return needed


def assemble(task: str, data: dict, *, source: str = "en", targets, k: int, seed: int, method: str,
             unit: str = None, allow_fewer: bool = False) -> MixedData:
    """Draw the targets' K-shot sets and assemble the data of ``method`` (see :class:`MixedData`).

    Args:
        task: "ner", "pos", "qa" or "xnli".
        data: ``{lang: DatasetDict}`` in the canonical schema (:func:`load_languages`); must hold the source
            and every target.
        source: the source language (its full train set is used).
        targets: target languages; the source is dropped from them if listed.
        k: shots per target (zero-shot: ignored, may be 0).
        seed: the sampling seed (the same seed gives the same shots in any process).
        method: one of zero-shot, ord-fs-dev, ord-fs, mix-ft, naive-mix, gradient-mix.
        unit: the shot unit (default: "sentences" for ner/pos, "questions" for qa, "per_class" for xnli).
        allow_fewer: take all a language has when its pool is smaller than K (logged) instead of raising.
    """
    check_task(task)
    if method not in METHODS:
        raise DataError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    unit = unit or DEFAULT_UNIT[task]
    if unit not in VALID_UNITS[task]:
        raise DataError(f"shot unit {unit!r} does not apply to task {task!r}; valid: {', '.join(VALID_UNITS[task])}")
    if isinstance(targets, str):
        targets = targets.replace(",", " ").split()
    targets = list(dict.fromkeys(targets))
    if source in targets:
        logger.info("source language %r removed from the targets", source)
        targets.remove(source)
    if method != "zero-shot" and (isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1):
        raise DataError(f"method {method!r} needs k >= 1 shots per target, got k={k!r} (only zero-shot takes k=0)")

    absent = [lang for lang in [source] + targets if lang not in data]
    if absent:
        raise DataError(f"language(s) {absent} not in data (loaded: {sorted(data)}); load them first, e.g. "
                        f"load_languages({task!r}, {[source] + targets})")
    needed = _needed_splits(task, method, source, targets)
    missing = [f"{lang} lacks '{split}'" for lang, splits in needed.items() for split in splits
               if split not in data[lang]]
    if missing:
        raise DataError(
            f"method {method!r} needs splits that are missing: {'; '.join(missing)}. Provide those splits "
            f"(data_dir/<lang>/<split>.*), drop those languages from the targets, or choose a method that does "
            f"not need them (zero-shot needs only the targets' test splits)"
        )
    known = getattr(data, "sources", {})
    sources = {lang: known[lang] for lang in [source] + targets if lang in known}
    data = harmonize_labels(task, {lang: data[lang] for lang in [source] + targets}, reference=source)

    source_train = data[source]["train"]
    shots, shot_rows = {}, {}
    if method != "zero-shot":
        for lang in targets:
            pool = data[lang][SHOT_SPLIT[task]]
            shot_rows[lang] = k_shot_indices(pool, k, seed=seed, unit=unit, allow_fewer=allow_fewer, lang=lang)
            shots[lang] = pool.select(shot_rows[lang])
    target_dev = None
    if method == "ord-fs-dev":
        target_dev = {}
        for lang in targets:
            dev = data[lang]["validation"]
            if SHOT_SPLIT[task] == "validation":
                taken = set(shot_rows[lang])
                dev = dev.select([i for i in range(len(dev)) if i not in taken])
                logger.info("language %r: the %d shot rows are removed from its dev set (they come from it); "
                            "%d dev rows left", lang, len(taken), len(dev))
            target_dev[lang] = dev
    source_dev = data[source].get("validation")
    if source_dev is None:
        logger.info("source %r has no validation split: source_dev is None", source)

    mixed = MixedData(
        task=task, source=source, targets=targets, k=k, seed=seed, unit=unit,
        label_names=label_names_of(task, data[source]), method=method, source_train=source_train,
        shots=shots, test={lang: data[lang]["test"] for lang in [source] + targets}, source_dev=source_dev,
        target_dev=target_dev, sources=sources,
    )
    logger.info("%s %s k=%s seed=%d: source %r train %d; shots (%s) %s; mixed train %d rows", task, method, k, seed,
                source, len(source_train), unit, ", ".join(f"{lang} {len(s)}" for lang, s in shots.items()) or "none",
                len(source_train) + sum(len(s) for s in shots.values()))
    return mixed
