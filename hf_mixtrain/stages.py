"""Training stages: the task model, one stage's arguments, a stage trained and evaluated.

Every recipe in `recipes.py` is a few calls of these. A stage's trainer is a `TaskTrainer`, a
`GradientMixTrainer` whose `gradient_surgery` is on only in gradient-mix's stage.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import math
from typing import Optional

import torch
from datasets import Dataset
from transformers import AutoConfig, set_seed

from .arguments import MethodArguments, MixTrainingArguments, ModelArguments
from .experiment import Experiment
from .modelcard import ModelCardInfo
from .tasks import Task
from .trainer import GradientMixTrainer

logger = logging.getLogger(__name__)


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


def load_model(exp: Experiment, model_args: ModelArguments, path: Optional[str] = None):
    """The task model from the run's encoder (the one `prepare` chose, whose tokenizer it loaded) or from a stage's
    checkpoint at `path`, labels in its config."""
    name = path or exp.model_name_or_path
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
    """A copy of the run's arguments for one stage: its output folder and the evaluation/saving its selection needs.

    `overrides` win over the selection's defaults (evaluate on `eval_strategy`/`eval_steps` of the run, keep the
    best checkpoint by the task's metric). The run's arguments are never changed.
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


def stage_selection(exp: Experiment, selection: str, who: str, lang: Optional[str] = None) -> tuple:
    """(rule, examples, features) a stage selects its checkpoint with: the source dev set for source-dev, `lang`'s
    dev set for target-dev, nothing for last. Without a source dev split, source-dev keeps the last checkpoint,
    logged under `who`. (The data layer refuses ord-fs-dev for a target without a dev split.)"""
    if selection == "target-dev":
        return "target-dev", exp.mixed.target_dev[lang], exp.target_dev[lang]
    if selection == "source-dev" and exp.source_dev is not None:
        return "source-dev", exp.mixed.source_dev, exp.source_dev
    if selection == "source-dev":
        logger.warning("%s has no dev split: %s keeps the last checkpoint", exp.mixed.source, who)
    return "last", None, None


def adapt_args(args: MixTrainingArguments, method_args: MethodArguments, output_dir: str, selection: str, metric: str,
               rows: int) -> MixTrainingArguments:
    """The arguments of a target-adapting stage (ord-fs, ord-fs-dev, mix-ft): plain fine-tuning on `rows` shots."""
    batch = method_args.adapt_batch_size or args.per_device_train_batch_size
    # Optimizer steps per epoch over the shots: every process takes `batch` rows per micro-batch.
    per_epoch = max(1, math.ceil(rows / (batch * args.gradient_accumulation_steps * args.world_size)))
    kwargs = dict(
        gradient_surgery=False,
        language_batches=False,  # the shots hold no source rows to pair with
        learning_rate=method_args.adapt_learning_rate or args.learning_rate,
        num_train_epochs=method_args.adapt_num_train_epochs,
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


def oracle_settings(task_name: str, k: int, args: MixTrainingArguments) -> dict:
    """The authors' oracle batch sizes: XNLI min(K, batch size) rows, TyDiQA K windows; NER/POS the defaults."""
    settings = {}
    if task_name in ("xnli", "qa"):
        rows = min(k, args.per_device_train_batch_size) if task_name == "xnli" else k
        if args.oracle_batch_size is None:
            settings["oracle_batch_size"] = rows
        if args.oracle_source_batch_size is None:
            settings["oracle_source_batch_size"] = rows
    return settings


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
    """Train `model` on `train` with `args`; the trainer comes back holding the selected model."""
    logger.info(
        "[%s] training %s on %d rows (%s), selection: %s",
        name,
        type(model).__name__,
        len(train),
        "gradient surgery" if args.gradient_surgery else "plain fine-tuning",
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


def evaluation_trainer(exp: Experiment, model, args: MixTrainingArguments) -> TaskTrainer:
    """A trainer that only predicts: without the run's eval/selection settings (they would ask for an
    eval_dataset) or surgery (it would ask for oracle pools)."""
    return TaskTrainer(
        model=model,
        args=dataclasses.replace(args, gradient_surgery=False, language_batches=False, eval_strategy="no",
                                 load_best_model_at_end=False),
        task=exp.task,
        processing_class=exp.tokenizer,
        data_collator=exp.task.data_collator(exp.tokenizer),
    )


def evaluate_all(exp: Experiment, trainer: TaskTrainer, languages: list) -> dict[str, dict[str, float]]:
    """`{lang: {metric: score}}` on each language's test split."""
    out = {}
    for lang in languages:
        prefix = f"test_{lang}"
        scores = exp.task.evaluate(trainer, exp.mixed.test[lang], exp.test[lang], metric_key_prefix=prefix)
        # Strip the known prefix rather than split on "_": language codes (pt_br) and metrics (exact_match) hold it.
        out[lang] = {key[len(prefix) + 1 :]: value for key, value in scores.items()}
        logger.info("[evaluate] %s: %s", lang, ", ".join(f"{k} {v:.2f}" for k, v in out[lang].items()))
    return out


def release(trainer) -> None:
    """Drop a finished stage's model, so that the next stage's fits beside the data."""
    trainer.model = trainer.model_wrapped = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
