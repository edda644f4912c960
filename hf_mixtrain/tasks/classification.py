"""Sentence-pair (XNLI) and single-sentence classification, scored with accuracy."""

import logging

import numpy as np
from datasets import Dataset, DatasetDict
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from .base import (
    Task,
    class_label_names,
    columns_to_remove,
    first_predictions,
    require_columns,
    sum_and_drop,
)
from .metrics import accuracy

logger = logging.getLogger(__name__)


class XnliTask(Task):
    """Natural-language inference on premise/hypothesis pairs; single sentences when there is no ``hypothesis``."""

    name = "xnli"
    metric_key = "accuracy"
    auto_model_class = AutoModelForSequenceClassification
    default_max_length = 128

    def label_names(self, dataset: Dataset | DatasetDict) -> list[str]:
        """Names of the ``label`` ClassLabel, in id order."""
        return class_label_names(dataset, "label", self.name)

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
        """Tokenise ``premise`` (+ ``hypothesis``) into ``input_ids``, ``attention_mask`` (...), ``labels`` (+ ``lang_id``).

        Pairs longer than ``max_length`` are truncated longest-first; the number truncated is logged.
        ``training`` makes no difference here.
        """
        pair = "hypothesis" in dataset.column_names
        require_columns(dataset, ["premise", "label"], self.name)

        def tokenize(batch):
            texts = (batch["premise"], batch["hypothesis"]) if pair else (batch["premise"],)
            encoded = tokenizer(
                *texts,
                truncation=True,
                max_length=max_length,
                padding="max_length" if pad_to_max_length else False,
            )
            # Only rows that reach max_length can have been cut; re-tokenise just those to find out.
            full_rows = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) >= max_length]
            truncated = [0] * len(batch["premise"])
            if full_rows:
                untruncated = tokenizer(*[[column[i] for i in full_rows] for column in texts], truncation=False)
                for i, ids in zip(full_rows, untruncated["input_ids"]):
                    truncated[i] = int(len(ids) > max_length)
            encoded["labels"] = batch["label"]
            encoded["_truncated"] = truncated
            return encoded

        features = dataset.map(
            tokenize,
            batched=True,
            remove_columns=columns_to_remove(dataset),
            num_proc=num_proc,
            desc=f"Tokenising {self.name}",
        )
        features, truncated = sum_and_drop(features, "_truncated")
        if truncated:
            logger.warning(
                "%s: %d of %d %s are longer than max_length=%d and were truncated",
                self.name, truncated, len(dataset), "pairs" if pair else "sentences", max_length,
            )
        return features

    def data_collator(self, tokenizer, pad_to_multiple_of: int | None = None):
        """``DataCollatorWithPadding`` (a no-op pad for features already padded to max_length); keeps ``lang_id``."""
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def compute_metrics(self, examples: Dataset, features: Dataset, predictions, **postprocess_kwargs) -> dict:
        if postprocess_kwargs:
            raise TypeError(f"{self.name}.evaluate takes no post-processing arguments, got {sorted(postprocess_kwargs)}")
        if len(features) != len(examples):
            raise ValueError(
                f"{self.name}: {len(features)} features for {len(examples)} examples; pass the features made from "
                "exactly these examples, in the same order"
            )
        names = self.label_names(examples)
        logits = first_predictions(predictions)
        if logits.shape[-1] != len(names):
            raise ValueError(
                f"{self.name}: the model predicts {logits.shape[-1]} labels but the data has {len(names)} ({names}); "
                f"build the model with num_labels={len(names)} and this label order"
            )
        return {"accuracy": accuracy(list(examples["label"]), np.argmax(logits, axis=-1).tolist())}
