"""One run's data, prepared once: the languages loaded, the K-shot sets drawn, everything tokenised.

The mixed training set and the oracle pools are built here, once, from the tokenised parts; every stage of a
recipe (see `recipes.py`) takes what it needs from the `Experiment`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Optional

from datasets import Dataset, concatenate_datasets
from transformers import AutoTokenizer

from .arguments import DataArguments, MixTrainingArguments, ModelArguments
from .batches import LANG_ID
from .data import PAPER_LANGUAGES, MixedData, assemble, load_languages, sample_rows
from .offline.covering import covering_model
from .tasks import Task, get_task
from .tasks.coverage import Coverage, log_coverage, texts_of

logger = logging.getLogger(__name__)


@dataclass
class Experiment:
    """Data, features and tokenizer of one run, prepared once and shared by its stages.

    `train` (the source train features followed by every target's shots) and `oracle_pools` (the source train
    features and each target's shots, by language) are the tokenised mixed set and pools of naive-mix and
    gradient-mix; the other fields hold the parts the two-stage methods and the evaluation use.
    `model_name_or_path` is the encoder whose tokenizer covers the run's text (see `prepare`), and `coverage` how
    each language tokenises with it.
    """

    task: Task
    mixed: MixedData
    tokenizer: object
    language_ids: dict
    train: Dataset
    oracle_pools: dict
    source_train: Dataset
    shots: dict
    test: dict
    source_dev: Optional[Dataset]
    target_dev: dict
    seed: int
    model_name_or_path: str
    coverage: dict[str, Coverage]


def prepare(task_name: str, method: str, model_args: ModelArguments, data_args: DataArguments,
            args: MixTrainingArguments) -> Experiment:
    """Load the languages, draw the K-shot sets of `method` and tokenise everything it needs."""
    task = get_task(task_name)
    source = args.source_language
    targets = data_args.targets or [lang for lang in PAPER_LANGUAGES[task_name] if lang != source]
    unit = data_args.shot_unit
    windows = unit == "windows"
    if windows and task_name != "qa":
        raise ValueError("--shot_unit windows applies to QA only (K windows after doc-stride splitting).")
    data = load_languages(
        task_name, [source] + targets, data_dir=data_args.data_dir, hub_dataset=data_args.hub_dataset,
        cache_dir=model_args.cache_dir, ud_token_form=data_args.ud_token_form,
    )
    if source in data and "train" in data[source]:
        data[source]["train"] = _head(data[source]["train"], data_args.max_train_samples, f"{source} train")
    mixed = assemble(
        task_name,
        data,
        source=source,
        targets=targets,
        k=data_args.k_shot,
        seed=args.seed if data_args.shot_seed is None else data_args.shot_seed,
        method=method,
        unit="questions" if windows else unit,
        allow_fewer=data_args.allow_fewer,
    )
    mixed = dataclasses.replace(
        mixed,
        test={lang: _head(ds, data_args.max_test_samples, f"{lang} test") for lang, ds in mixed.test.items()},
        source_dev=_head(mixed.source_dev, data_args.max_eval_samples, f"{mixed.source} dev"),
        target_dev={lang: _head(ds, data_args.max_eval_samples, f"{lang} dev") for lang, ds in mixed.target_dev.items()}
        if mixed.target_dev
        else mixed.target_dev,
    )
    # The text this run reads: every language's test split, the source train and dev sets, the shots (QA windows: the
    # train pool they are drawn from) and the targets' dev sets.
    used = {lang: [mixed.test[lang]] for lang in mixed.languages}
    used[mixed.source] += [ds for ds in (mixed.source_train, mixed.source_dev) if ds is not None]
    for lang, ds in mixed.shots.items():
        used[lang].append(data[lang]["train"] if windows else ds)
    for lang, ds in (mixed.target_dev or {}).items():
        used[lang].append(ds)
    texts = {lang: texts_of(parts) for lang, parts in used.items()}
    # An offline preset's vocabulary-pruned encoder only where it tokenises this text exactly (a language added to
    # the preset would lose pieces, or become <unk>); otherwise the full encoder it derives from, logged.
    model_name = covering_model(model_args.model_name_or_path, texts)
    tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name or model_name, cache_dir=model_args.cache_dir)
    coverage = log_coverage(tokenizer, texts)
    language_ids = {lang: i for i, lang in enumerate(mixed.languages)}
    max_length = data_args.max_seq_length or task.default_max_length

    def features(ds: Optional[Dataset], training: bool) -> Optional[Dataset]:
        if ds is None:
            return None
        ds = ds.map(lambda row: {LANG_ID: language_ids[row["lang"]]}, desc="language ids")
        return task.preprocess(
            ds,
            tokenizer,
            max_length=max_length,
            training=training,
            doc_stride=data_args.doc_stride,
            label_all_tokens=data_args.label_all_tokens,
        )

    with args.main_process_first(desc="tokenising"):
        source_train = features(mixed.source_train, True)
        if windows:
            # The authors' QA unit: K windows drawn from each target's featurised train pool.
            shots = {
                lang: sample_rows(features(data[lang]["train"], True), data_args.k_shot, seed=mixed.seed, key=lang,
                                  allow_fewer=data_args.allow_fewer)
                for lang in mixed.shots
            }
        else:
            shots = {lang: features(ds, True) for lang, ds in mixed.shots.items()}
        test = {lang: features(ds, False) for lang, ds in mixed.test.items()}
        source_dev = features(mixed.source_dev, False)
        target_dev = {lang: features(ds, False) for lang, ds in (mixed.target_dev or {}).items()}
    train = concatenate_datasets([source_train] + list(shots.values())) if shots else source_train
    return Experiment(
        task, mixed, tokenizer, language_ids, train, {mixed.source: source_train, **shots}, source_train, shots, test,
        source_dev, target_dev, args.seed, model_name, coverage,
    )


def _head(ds: Optional[Dataset], n: Optional[int], what: str) -> Optional[Dataset]:
    """The first `n` rows of `ds` (the --max_*_samples options), logged; `ds` itself when it is not longer."""
    if ds is None or n is None or len(ds) <= n:
        return ds
    logger.info("%s: keeping the first %d of %d rows (--max_*_samples)", what, n, len(ds))
    return ds.select(range(n))
