"""The paper's six methods as recipes: which stages train on which data, with which trainer, keeping which checkpoint.

| method       | stages                                                                 | evaluated with          |
|--------------|------------------------------------------------------------------------|-------------------------|
| zero-shot    | source train                                                           | the source model        |
| ord-fs-dev   | source train -> per target: adapt on its K shots, best on its dev set  | one model per target    |
| ord-fs       | source train -> per target: adapt on its K shots, last checkpoint      | one model per target    |
| mix-ft       | source train -> adapt ONE model on all targets' shots                  | the adapted model       |
| naive-mix    | one stage on source train + all shots                                  | the mixed model         |
| gradient-mix | naive-mix with stochastic gradient surgery (GradientMixTrainer)       | the mixed model         |

The source-trained model of the two-stage methods (and zero-shot's model) is cached per model, task, seed and
training settings, so a sweep trains it once per seed.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import io
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from typing import Optional

import torch
from datasets import Dataset, concatenate_datasets
from transformers import AutoConfig, AutoTokenizer, set_seed

from .arguments import DataArguments, MixTrainingArguments, ModelArguments
from .data import PAPER_LANGUAGES, MixedData, assemble, load_languages, sample_rows
from .data.hub import hub_config, resolve_source
from .modelcard import ModelCardInfo, training_command
from .presets import default_selection
from .tasks import Task, get_task
from .trainer import GradientMixTrainer

logger = logging.getLogger(__name__)

TWO_STAGE = ("zero-shot", "ord-fs-dev", "ord-fs", "mix-ft")


class TaskTrainer(GradientMixTrainer):
    """A GradientMixTrainer whose `evaluate` scores with the task's own metric (seqeval over words, SQuAD F1 after
    n-best post-processing, ...), so checkpoints can be selected on any task, QA included."""

    def __init__(self, *args, task: Task, eval_examples: Optional[Dataset] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.task, self.eval_examples = task, eval_examples

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        if self.eval_examples is None:
            return super().evaluate(eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        features = self.eval_dataset if eval_dataset is None else eval_dataset
        metrics = self.task.evaluate(self, self.eval_examples, features, metric_key_prefix=metric_key_prefix)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


@dataclass
class Experiment:
    """Data, features and tokenizer of one run, prepared once and shared by its stages."""

    task: Task
    mixed: MixedData
    tokenizer: object
    language_ids: dict
    train: Dataset  # mixed features: source train + all shots
    source_train: Dataset
    shots: dict
    test: dict
    source_dev: Optional[Dataset]
    target_dev: dict
    seed: int


def prepare(task_name: str, model_args: ModelArguments, data_args: DataArguments, args: MixTrainingArguments) -> Experiment:
    """Load the languages, draw the K-shot sets and tokenise everything the method needs."""
    task = get_task(task_name)
    source = args.source_language
    targets = data_args.targets or [lang for lang in PAPER_LANGUAGES[task_name] if lang != source]
    unit = data_args.shot_unit
    windows = unit == "windows"
    if windows and task_name != "qa":
        raise ValueError("--shot_unit windows applies to QA only (K windows after doc-stride splitting).")
    data = load_languages(
        task_name, [source] + targets, data_dir=data_args.data_dir, hub_dataset=data_args.hub_dataset, cache_dir=model_args.cache_dir
    )
    mixed = assemble(
        task_name,
        data,
        source=source,
        targets=targets,
        k=data_args.k_shot,
        seed=args.seed if data_args.shot_seed is None else data_args.shot_seed,
        method=args.method,
        unit="questions" if windows else unit,
        allow_fewer=data_args.allow_fewer,
    )
    mixed = _truncate(mixed, data_args)
    tokenizer = AutoTokenizer.from_pretrained(
        model_args.tokenizer_name or model_args.model_name_or_path, cache_dir=model_args.cache_dir
    )
    language_ids = {lang: i for i, lang in enumerate(mixed.languages)}
    max_length = data_args.max_seq_length or task.default_max_length

    def features(ds: Optional[Dataset], training: bool) -> Optional[Dataset]:
        if ds is None:
            return None
        ds = ds.map(lambda row: {"lang_id": language_ids[row["lang"]]}, desc="language ids")
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
    return Experiment(task, mixed, tokenizer, language_ids, train, source_train, shots, test, source_dev, target_dev, args.seed)


def _truncate(mixed: MixedData, data_args: DataArguments) -> MixedData:
    def head(ds, n, what):
        if ds is None or n is None or len(ds) <= n:
            return ds
        logger.info("%s: keeping the first %d of %d rows (--max_*_samples)", what, n, len(ds))
        return ds.select(range(n))

    source_train = head(mixed.source_train, data_args.max_train_samples, f"{mixed.source} train")
    return dataclasses.replace(
        mixed,
        source_train=source_train,
        train=concatenate_datasets([source_train] + list(mixed.shots.values())) if mixed.shots else source_train,
        oracle_pools={**mixed.oracle_pools, mixed.source: source_train},
        test={lang: head(ds, data_args.max_test_samples, f"{lang} test") for lang, ds in mixed.test.items()},
        source_dev=head(mixed.source_dev, data_args.max_eval_samples, f"{mixed.source} dev"),
        target_dev={lang: head(ds, data_args.max_eval_samples, f"{lang} dev") for lang, ds in mixed.target_dev.items()}
        if mixed.target_dev
        else mixed.target_dev,
    )


# ---- models and stages -----------------------------------------------------------------------------------------


def load_model(exp: Experiment, model_args: ModelArguments, path: Optional[str] = None):
    """The task model from the pretrained encoder (or from a stage's checkpoint at `path`), labels in its config."""
    name = path or model_args.model_name_or_path
    set_seed(exp.seed)  # a fresh task head is initialised from the global RNG: the same head for every stage
    labels = exp.mixed.label_names
    kwargs = {}
    if labels is not None:
        kwargs = dict(num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    config = AutoConfig.from_pretrained(
        model_args.config_name if path is None and model_args.config_name else name,
        cache_dir=model_args.cache_dir,
        finetuning_task=exp.task.name,
        **kwargs,
    )
    model = exp.task.auto_model_class.from_pretrained(name, config=config, cache_dir=model_args.cache_dir)
    if model_args.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
    return model


def stage_args(args: MixTrainingArguments, output_dir: str, selection: str, metric: str, **overrides) -> MixTrainingArguments:
    """The run's arguments for one stage: its output folder and the evaluation/saving its selection needs.

    `overrides` win over the selection's defaults (evaluate on `eval_strategy`/`eval_steps` of the run, keep the
    best checkpoint by the task's metric).
    """
    if selection == "last":
        kwargs = dict(eval_strategy="no", load_best_model_at_end=False)
    else:
        no_eval = str(getattr(args.eval_strategy, "value", args.eval_strategy)) == "no"
        kwargs = dict(
            eval_strategy="steps" if no_eval else args.eval_strategy,
            save_strategy="best",
            load_best_model_at_end=True,
            metric_for_best_model=metric,
            greater_is_better=True,
            save_total_limit=1,
        )
    kwargs.update(overrides)
    kwargs["output_dir"] = output_dir
    return dataclasses.replace(args, **kwargs)


def train_stage(
    exp: Experiment,
    model,
    args: MixTrainingArguments,
    train: Dataset,
    *,
    name: str,
    card: Optional[ModelCardInfo] = None,
    oracle: Optional[dict] = None,
    selection_examples: Optional[Dataset] = None,
    selection_features: Optional[Dataset] = None,
) -> TaskTrainer:
    logger.info(
        "[%s] training %s on %d rows (%s), selection: %s",
        name,
        type(model).__name__,
        len(train),
        args.method if args.method in ("naive-mix", "gradient-mix") else "plain fine-tuning",
        "last checkpoint" if selection_features is None else f"best eval_{args.metric_for_best_model}",
    )
    half = args.fp16 or args.bf16
    trainer = TaskTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=selection_features,
        eval_examples=selection_examples,
        task=exp.task,
        processing_class=exp.tokenizer,
        data_collator=exp.task.data_collator(exp.tokenizer, pad_to_multiple_of=8 if half else None),
        oracle_datasets=oracle,
        language_ids=exp.language_ids,
    )
    trainer.card_info = card  # checkpoints saved during training carry the card
    result = trainer.train(resume_from_checkpoint=args.resume_from_checkpoint)
    trainer.log_metrics("train", result.metrics)
    trainer.train_metrics = result.metrics
    return trainer


def _stage_method(args: MixTrainingArguments) -> str:
    # Only the one-step methods mix languages in a step; every other stage is plain fine-tuning.
    return args.method if args.method in ("naive-mix", "gradient-mix") else "naive-mix"


def _oracle_settings(task_name: str, k: int, args: MixTrainingArguments) -> dict:
    """The authors' oracle batch sizes: XNLI min(K, batch size) rows, TyDiQA K windows; NER/POS the defaults."""
    settings = {}
    if task_name in ("xnli", "qa"):
        rows = min(k, args.per_device_train_batch_size) if task_name == "xnli" else k
        if args.oracle_batch_size is None:
            settings["oracle_batch_size"] = rows
        if args.oracle_source_batch_size is None:
            settings["oracle_source_batch_size"] = rows
    return settings


def source_model(exp: Experiment, model_args: ModelArguments, data_args: DataArguments, args: MixTrainingArguments) -> str:
    """Train the source-language model once per (model, task, seed, settings) and return its cached path."""
    settings = {
        "model": model_args.model_name_or_path,
        "freeze_embeddings": model_args.freeze_embeddings,
        "task": exp.task.name,
        "source": exp.mixed.source,
        "data": _digest(exp.mixed.source_train),
        "dev": _digest(exp.mixed.source_dev) if exp.mixed.source_dev is not None else None,
        "labels": exp.mixed.label_names,
        "max_seq_length": data_args.max_seq_length,
        "doc_stride": data_args.doc_stride,
        "label_all_tokens": data_args.label_all_tokens,
        **{
            key: getattr(args, key)
            for key in (
                "seed", "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
                "gradient_accumulation_steps", "warmup_steps", "weight_decay", "adam_epsilon", "max_grad_norm",
                "lr_scheduler_type", "eval_steps", "fp16", "bf16",
            )
        },
    }
    settings = json.loads(json.dumps(settings, default=str))
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    root = data_args.source_model_cache_dir or os.path.join(
        os.environ.get("HF_MIXTRAIN_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "hf_mixtrain")), "source_models"
    )
    path = os.path.join(root, f"{exp.task.name}-{exp.mixed.source}-seed{args.seed}-{key}")
    if os.path.isfile(os.path.join(path, "source_training.json")):
        logger.info("[source] reusing the cached source-trained model %s", path)
        return path
    selection = default_selection(exp.task.name, "zero-shot")
    dev = exp.source_dev if selection == "source-dev" else None
    if selection == "source-dev" and dev is None:
        logger.warning("[source] %s has no dev split: keeping the last checkpoint", exp.mixed.source)
        selection = "last"
    work = path + f".tmp-{os.getpid()}"
    stage = stage_args(
        args, work, selection, exp.task.metric_key, method="naive-mix", resume_from_checkpoint=None,
        save_strategy="no" if selection == "last" else "best",
    )
    trainer = train_stage(
        exp,
        load_model(exp, model_args),
        stage,
        exp.source_train,
        name="source",
        selection_examples=exp.mixed.source_dev if dev is not None else None,
        selection_features=dev,
    )
    if trainer.is_world_process_zero():
        final = work + "-final"
        trainer.save_model(final)
        _write_json(os.path.join(final, "source_training.json"), {"settings": settings, "train": trainer.train_metrics})
        shutil.rmtree(work, ignore_errors=True)
        if os.path.isdir(path):  # another run finished the same model first
            shutil.rmtree(final, ignore_errors=True)
        else:
            os.makedirs(root, exist_ok=True)
            os.replace(final, path)
        logger.info("[source] cached the source-trained model at %s", path)
    trainer.accelerator.wait_for_everyone()
    _release(trainer)
    return path


# ---- the methods ----------------------------------------------------------------------------------------------


def run_method(
    task_name: str,
    model_args: ModelArguments,
    data_args: DataArguments,
    args: MixTrainingArguments,
    command: Optional[str] = None,
) -> dict:
    """Run `args.method` end to end: train its stages, evaluate every language on its test split, write results.

    `command` is the command line recorded in run.json and the model card (default: this process's argv).
    """
    command = command or training_command()
    method = args.method
    if args.push_to_hub and method in ("ord-fs", "ord-fs-dev"):
        raise ValueError(f"{method} trains one model per target language; --push_to_hub is for one-model methods.")
    selection = data_args.selection or default_selection(task_name, method)
    if selection == "target-dev" and method != "ord-fs-dev":
        raise ValueError(
            f"--selection target-dev uses the targets' dev sets, which only ord-fs-dev may see; {method} can use "
            "source-dev or last."
        )
    exp = prepare(task_name, model_args, data_args, args)
    metric = exp.task.metric_key
    card = card_info(exp, model_args, data_args, args, command)
    results: dict[str, float] = {}
    os.makedirs(args.output_dir, exist_ok=True)

    if method in ("naive-mix", "gradient-mix"):
        dev = exp.source_dev if selection == "source-dev" else None
        if selection == "source-dev" and dev is None:
            logger.warning("%s has no dev split: keeping the last checkpoint", exp.mixed.source)
            selection = "last"
        stage = stage_args(args, args.output_dir, selection, metric, **_oracle_settings(task_name, data_args.k_shot, args))
        oracle = None
        if method == "gradient-mix" and args.surgery_source == "oracle_pool":
            oracle = {exp.mixed.source: exp.source_train, **exp.shots}
        trainer = train_stage(
            exp, load_model(exp, model_args), stage, exp.train, name=method, card=card, oracle=oracle,
            selection_examples=exp.mixed.source_dev if dev is not None else None, selection_features=dev,
        )
        results.update(_evaluate_all(exp, trainer, exp.mixed.languages))
    else:
        source_path = source_model(exp, model_args, data_args, args)
        if method == "zero-shot":
            trainer = _evaluation_trainer(exp, load_model(exp, model_args, source_path), args)
            results.update(_evaluate_all(exp, trainer, exp.mixed.languages))
        elif method == "mix-ft":
            shots = concatenate_datasets(list(exp.shots.values()))
            stage = _adapt_args(args, data_args, args.output_dir, selection, metric, len(shots))
            dev = exp.source_dev if selection == "source-dev" else None
            trainer = train_stage(
                exp, load_model(exp, model_args, source_path), stage, shots, name="mix-ft: all targets", card=card,
                selection_examples=exp.mixed.source_dev if dev is not None else None, selection_features=dev,
            )
            results.update(_evaluate_all(exp, trainer, exp.mixed.languages))
        else:  # ord-fs, ord-fs-dev: one model per target language
            trainer = _evaluation_trainer(exp, load_model(exp, model_args, source_path), args)
            results.update(_evaluate_all(exp, trainer, [exp.mixed.source]))
            _release(trainer)
            for i, lang in enumerate(exp.mixed.targets, 1):
                out = os.path.join(args.output_dir, "adapted", lang)
                dev = exp.target_dev.get(lang) if selection == "target-dev" else None
                stage = _adapt_args(args, data_args, out, selection, metric, len(exp.shots[lang]))
                trainer = train_stage(
                    exp, load_model(exp, model_args, source_path), stage, exp.shots[lang],
                    name=f"{method} {i}/{len(exp.mixed.targets)}: {lang}",
                    selection_examples=exp.mixed.target_dev[lang] if dev is not None else None, selection_features=dev,
                )
                results.update(_evaluate_all(exp, trainer, [lang]))
                if data_args.save_adapted_models:
                    trainer.save_model(out)
                elif trainer.is_world_process_zero():
                    shutil.rmtree(out, ignore_errors=True)
                if i < len(exp.mixed.targets):
                    _release(trainer)

    results.update(_averages(results, exp.mixed.targets, metric))
    one_model = method not in ("ord-fs", "ord-fs-dev")
    if one_model:
        metrics = {}
        for key, value in results.items():
            lang, name = key.split("_", 2)[1:]
            if lang != "avg":
                metrics.setdefault(lang, {})[name] = value
        configs = dict(card.dataset_configs)
        if card.datasets:
            configs.update({lang: hub_config(task_name, card.datasets[0], lang) for lang in metrics})
        trainer.card_info = dataclasses.replace(card, results=metrics, dataset_configs=configs)
    _finish(exp, trainer, results, model_args, data_args, args, command, save_model=one_model)
    return results


def _adapt_args(args, data_args: DataArguments, output_dir: str, selection: str, metric: str, rows: int):
    batch = data_args.adapt_batch_size or args.per_device_train_batch_size
    per_epoch = max(1, math.ceil(rows / (batch * args.gradient_accumulation_steps)))
    kwargs = dict(
        method="naive-mix",
        learning_rate=data_args.adapt_learning_rate or args.learning_rate,
        num_train_epochs=data_args.adapt_num_train_epochs,
        max_steps=-1,
        per_device_train_batch_size=batch,
        warmup_steps=0,
        save_strategy="no" if selection == "last" else "best",
        logging_steps=max(1, per_epoch),
        resume_from_checkpoint=None,
    )
    if selection != "last":
        kwargs.update(eval_strategy="steps", eval_steps=per_epoch)  # once per epoch: few shots overfit fast
    return stage_args(args, output_dir, selection, metric, **kwargs)


def card_info(exp: Experiment, model_args: ModelArguments, data_args: DataArguments, args: MixTrainingArguments, command: str) -> ModelCardInfo:
    """What the model card says about this run; its results are filled in after testing."""
    trained_on = [exp.mixed.source] if args.method == "zero-shot" else exp.mixed.languages
    datasets, configs = [], {}
    if data_args.data_dir is None:
        source = resolve_source(exp.task.name, data_args.hub_dataset)
        datasets = [source]
        configs = {lang: hub_config(exp.task.name, source, lang) for lang in trained_on}
    return ModelCardInfo(
        task=exp.task.name,
        base_model=model_args.model_name_or_path,
        languages=trained_on,
        source_language=exp.mixed.source,
        method=args.method,
        k_shot=None if args.method == "zero-shot" else data_args.k_shot,
        seeds=[args.seed],
        datasets=datasets,
        dataset_configs=configs,
        command=command,
        hyperparameters={"max_seq_length": data_args.max_seq_length, "shot_unit": exp.mixed.unit, "selection": data_args.selection},
    )


def _evaluation_trainer(exp: Experiment, model, args: MixTrainingArguments) -> TaskTrainer:
    # It only predicts: the training run's eval/selection settings would make the Trainer ask for an eval_dataset,
    # and gradient-mix for oracle pools. Other methods keep their name, which the model card reports.
    method = "naive-mix" if args.method == "gradient-mix" else args.method
    return TaskTrainer(
        model=model,
        args=dataclasses.replace(args, method=method, eval_strategy="no", load_best_model_at_end=False),
        task=exp.task,
        processing_class=exp.tokenizer,
        data_collator=exp.task.data_collator(exp.tokenizer),
    )


def _evaluate_all(exp: Experiment, trainer: TaskTrainer, languages: list) -> dict:
    out = {}
    for lang in languages:
        scores = exp.task.evaluate(trainer, exp.mixed.test[lang], exp.test[lang], metric_key_prefix=f"test_{lang}")
        logger.info("[evaluate] %s: %s", lang, ", ".join(f"{k.rsplit('_', 1)[-1]} {v:.2f}" for k, v in scores.items()))
        out.update(scores)
    return out


def _averages(results: dict, targets: list, metric: str) -> dict:
    names = sorted({key.split("_", 2)[2] for key in results if key.startswith("test_")})
    out = {}
    for name in names:
        values = [results[f"test_{lang}_{name}"] for lang in targets if f"test_{lang}_{name}" in results]
        if values:
            out[f"test_avg_{name}"] = sum(values) / len(values)
    return out


def _finish(exp, trainer, results, model_args, data_args, args, command: str, save_model: bool) -> None:
    """Save the model, metrics and run description (main process only), print the table, push if asked."""
    run = {
        "task": exp.task.name,
        "method": args.method,
        "source": exp.mixed.source,
        "targets": exp.mixed.targets,
        "k_shot": data_args.k_shot,
        "shot_unit": exp.mixed.unit,
        "seed": args.seed,
        "metric": exp.task.metric_key,
        "model": model_args.model_name_or_path,
        "benchmark": data_args.benchmark,
        "command": command,
        "average_excludes_source": True,
    }
    if trainer.is_world_process_zero():
        if save_model:
            trainer.save_model(args.output_dir)
        train_metrics = getattr(trainer, "train_metrics", {}) or {}
        _write_json(os.path.join(args.output_dir, "test_results.json"), results)
        _write_json(os.path.join(args.output_dir, "all_results.json"), {**train_metrics, **results})
        _write_json(os.path.join(args.output_dir, "run.json"), run)
        print(format_results(results, exp.mixed.source, exp.mixed.targets, exp.task.metric_key))
    if args.push_to_hub:
        trainer.push_to_hub(commit_message=f"{args.method} {exp.task.name} k={data_args.k_shot} seed={args.seed}")


def format_results(results: dict, source: str, targets: list, metric: str) -> str:
    """A plain-text table: one row per language, the average over target languages (source excluded) last."""
    names = sorted({key.split("_", 2)[2] for key in results if key.startswith(f"test_{source}_")} | {metric})
    names = [metric] + [n for n in names if n != metric]
    width = max(8, *(len(lang) for lang in [source] + targets))
    lines = [f"{'language':<{width}}  " + "  ".join(f"{n:>12}" for n in names)]
    for lang in [source] + targets:
        cells = [results.get(f"test_{lang}_{n}") for n in names]
        label = f"{lang} (src)" if lang == source else lang
        lines.append(f"{label:<{width}}  " + "  ".join(f"{c:>12.2f}" if c is not None else f"{'-':>12}" for c in cells))
    avg = [results.get(f"test_avg_{n}") for n in names]
    lines.append(f"{'avg':<{width}}  " + "  ".join(f"{c:>12.2f}" if c is not None else f"{'-':>12}" for c in avg))
    lines.append(f"(avg: mean over the {len(targets)} target languages; the source language is excluded)")
    return "\n".join(lines)


def _digest(ds: Dataset) -> str:
    """A content hash of a dataset (its Arrow data), stable across processes and runs."""
    import pyarrow as pa

    sink = io.BytesIO()
    table = ds.with_format("arrow")[:]
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha1(sink.getvalue()).hexdigest()


def _write_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _release(trainer) -> None:
    trainer.model = trainer.model_wrapped = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
