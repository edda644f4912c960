"""The Task interface shared by the run scripts and method recipes, and helpers its implementations share."""

import logging
from abc import ABC, abstractmethod
from typing import Any

from datasets import ClassLabel, Dataset, DatasetDict

from ..batches import LANG_ID

logger = logging.getLogger(__name__)


class Task(ABC):
    """One downstream task: how canonical rows become model features, how they are batched and how they are scored.

    Attributes:
        name: the task name used by ``get_task`` ("ner", "pos", "qa", "xnli").
        metric_key: the headline metric, without prefix (a key of ``evaluate``'s result after the prefix).
        auto_model_class: the transformers Auto class that builds a model for this task.
        default_max_length: the sequence length ``evaluate`` uses when it has to preprocess ``examples`` itself.
    """

    name: str
    metric_key: str
    auto_model_class: type
    default_max_length: int = 128
    # Columns that preprocess(training=False) adds for scoring only; evaluate removes them before predict.
    eval_only_columns: tuple[str, ...] = ()

    def label_names(self, dataset: Dataset | DatasetDict) -> list[str] | None:
        """The label names of the task's ClassLabel column, in id order (None for tasks without label classes)."""
        return None

    @abstractmethod
    def preprocess(
        self,
        dataset: Dataset,
        tokenizer,
        *,
        max_length: int,
        training: bool,
        doc_stride: int = 128,
        label_all_tokens: bool = False,
        pad_to_max_length: bool = False,
        num_proc: int | None = None,
    ) -> Dataset:
        """Tokenise canonical rows into model features.

        The raw columns are removed; an int ``lang_id`` column, when present, is carried to every produced feature.
        Arguments that do not apply to a task (``doc_stride`` outside QA, ``label_all_tokens`` outside token
        classification) are ignored.
        """

    @abstractmethod
    def data_collator(self, tokenizer, pad_to_multiple_of: int | None = None):
        """A collator that pads a batch of this task's features and passes ``lang_id`` through as a LongTensor."""

    @abstractmethod
    def compute_metrics(self, examples: Dataset, features: Dataset, predictions, **postprocess_kwargs) -> dict:
        """Task metrics (0-100, no prefix) from ``trainer.predict`` predictions on ``features`` against ``examples``."""

    def evaluate(
        self,
        trainer,
        examples: Dataset,
        features: Dataset | None = None,
        *,
        metric_key_prefix: str = "test",
        **postprocess_kwargs: Any,
    ) -> dict[str, float]:
        """Predict with ``trainer`` and score against the raw ``examples``.

        Args:
            trainer: a ``transformers.Trainer`` (or subclass) holding the model to evaluate.
            examples: canonical rows (the same rows ``features`` were made from, in the same order).
            features: ``preprocess(examples, ..., training=False)``; when None, ``examples`` are preprocessed here
                with ``trainer.processing_class``, ``max_length=min(default_max_length, model_max_length)`` and
                (QA) ``doc_stride=min(128, max_length // 3)``.
            metric_key_prefix: prefix of the returned keys, e.g. "test" -> "test_f1".
            **postprocess_kwargs: QA only: ``n_best_size`` (20), ``max_answer_length`` (30).

        Returns:
            ``{f"{metric_key_prefix}_{name}": value}`` for the task's metrics (0-100 scale).
        """
        if features is None:
            tokenizer = trainer.processing_class
            if tokenizer is None:
                raise ValueError(
                    "trainer.processing_class is None, so evaluate cannot tokenise the examples: build the Trainer "
                    "with processing_class=tokenizer or pass features=task.preprocess(examples, tokenizer, "
                    "max_length=..., training=False)"
                )
            max_length = min(self.default_max_length, tokenizer.model_max_length)
            # doc_stride (QA only) keeps run_qa's 128-of-384 ratio when a short model_max_length lowers max_length.
            features = self.preprocess(
                examples, tokenizer, max_length=max_length, training=False, doc_stride=min(128, max_length // 3)
            )
        # Scoring-only columns would break the collator, and lang_id is not a model input: a Trainer that keeps it
        # for training pops it in compute_loss, which prediction_step skips when features carry no labels.
        drop = [c for c in (*self.eval_only_columns, LANG_ID) if c in features.column_names]
        output = trainer.predict(features.remove_columns(drop), metric_key_prefix=metric_key_prefix)
        if output.predictions is None:
            raise ValueError("trainer.predict returned no predictions: set prediction_loss_only=False in the arguments")
        scores = self.compute_metrics(examples, features, output.predictions, **postprocess_kwargs)
        return {f"{metric_key_prefix}_{key}": float(value) for key, value in scores.items()}


def class_label_names(dataset: Dataset | DatasetDict, column: str, task: str) -> list[str]:
    """Names of a ClassLabel column, or of a sequence of ClassLabel, with an error that says how to fix other types."""
    features = dataset.features if isinstance(dataset, Dataset) else next(iter(dataset.values())).features
    if column not in features:
        raise ValueError(f"{task}: the dataset has no '{column}' column (columns: {sorted(features)})")
    feature = features[column]
    feature = getattr(feature, "feature", feature)  # List(ClassLabel) / Sequence(ClassLabel) -> ClassLabel
    if not isinstance(feature, ClassLabel):
        raise ValueError(
            f"{task}: column '{column}' must hold ClassLabel ids, got {features[column]}; cast it with "
            f"dataset.cast_column('{column}', ...ClassLabel(names=[...])) or load it with the hf_mixtrain.data loaders"
        )
    return list(feature.names)


def require_columns(dataset: Dataset, columns: list[str], task: str) -> None:
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise ValueError(
            f"{task}: the dataset lacks column(s) {missing} (it has {dataset.column_names}); "
            "convert it to the canonical schema (see hf_mixtrain.data) first"
        )


def require_fast_tokenizer(tokenizer, task: str) -> None:
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"{task} needs a fast tokenizer (word_ids and offset mappings), got {type(tokenizer).__name__}: "
            "load it with AutoTokenizer.from_pretrained(..., use_fast=True)"
        )


def columns_to_remove(dataset: Dataset) -> list[str]:
    """Every column except lang_id, which must survive preprocessing."""
    return [c for c in dataset.column_names if c != LANG_ID]


def sum_and_drop(dataset: Dataset, column: str) -> tuple[Dataset, int]:
    """Total of a per-feature counter column, and the dataset without it.

    Counters travel as columns (not closure variables) so they stay right when datasets serves map() from its cache
    or runs it in several processes.
    """
    total = int(sum(dataset[column]))
    return dataset.remove_columns(column), total


def first_predictions(predictions):
    """The first output of a model that returns several (e.g. logits plus hidden states)."""
    return predictions[0] if isinstance(predictions, (tuple, list)) else predictions
