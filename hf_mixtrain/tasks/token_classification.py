"""NER and POS: word-level tagging of canonical ``tokens``/``tags`` rows.

Both tokenise words into sub-tokens and label each word on its first sub-token; they differ only in the metric
(seqeval entity F1 for NER, token accuracy for POS) and in how a word without a prediction is scored.
"""

import logging
from abc import abstractmethod

import numpy as np
from datasets import Dataset, DatasetDict
from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification

from .base import (
    Task,
    class_label_names,
    columns_to_remove,
    first_predictions,
    require_columns,
    require_fast_tokenizer,
    sum_and_drop,
)
from .metrics import entity_scores, token_accuracy

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
WORD_IDS = "word_ids"


def b_to_i_labels(label_names: list[str]) -> list[int]:
    """For each label id, the id continuation sub-tokens get under label_all_tokens: B-X -> I-X, others unchanged."""
    index = {name: i for i, name in enumerate(label_names)}
    return [
        index.get("I-" + name[2:], i) if name.startswith("B-") else i for i, name in enumerate(label_names)
    ]


class TokenClassificationTask(Task):
    """Shared tokenisation, label alignment, collator and word-level scoring for NER and POS."""

    auto_model_class = AutoModelForTokenClassification
    default_max_length = 128
    eval_only_columns = (WORD_IDS,)
    # What a word gets when it has no prediction (cut by truncation, or no sub-tokens); None never equals gold.
    missing_word_label: str | None = None

    def label_names(self, dataset: Dataset | DatasetDict) -> list[str]:
        """Names of the ``tags`` ClassLabel, in id order."""
        return class_label_names(dataset, "tags", self.name)

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
        """Tokenise words and align tags: ``input_ids``, ``attention_mask`` (...), ``labels`` (+ ``lang_id``).

        Each word's first sub-token carries its tag; other sub-tokens and special tokens get -100, or with
        ``label_all_tokens`` the word's tag with B-X turned into I-X (as run_ner does). Sentences longer than
        ``max_length`` are truncated and the number of sentences and words cut is logged. With ``training=False``
        the features also keep ``word_ids`` (the word index of each token, None for special tokens), which
        ``evaluate`` uses to score every word of the raw examples.
        """
        require_fast_tokenizer(tokenizer, self.name)
        require_columns(dataset, ["tokens", "tags"], self.name)
        continuation = b_to_i_labels(self.label_names(dataset)) if label_all_tokens else None

        def tokenize(batch, indices):
            encoded = tokenizer(
                batch["tokens"],
                is_split_into_words=True,
                truncation=True,
                max_length=max_length,
                padding="max_length" if pad_to_max_length else False,
            )
            labels, word_ids_column, words_cut, words_empty = [], [], [], []
            for i, (words, tags) in enumerate(zip(batch["tokens"], batch["tags"])):
                if len(words) != len(tags):
                    raise ValueError(
                        f"{self.name}: row {indices[i]} has {len(words)} tokens but {len(tags)} tags; "
                        "fix the data so that every token has exactly one tag"
                    )
                word_ids = encoded.word_ids(i)
                labels.append(align_labels(word_ids, tags, continuation))
                word_ids_column.append(word_ids)
                seen = {w for w in word_ids if w is not None}
                last = max(seen, default=-1)
                cut = len(words) - 1 - last if encoded.encodings[i].overflowing else 0
                words_cut.append(cut)
                words_empty.append(len(words) - cut - len(seen))
            encoded["labels"] = labels
            encoded["_words_cut"] = words_cut
            encoded["_words_empty"] = words_empty
            if not training:
                encoded[WORD_IDS] = word_ids_column
            return encoded

        features = dataset.map(
            tokenize,
            batched=True,
            with_indices=True,
            remove_columns=columns_to_remove(dataset),
            num_proc=num_proc,
            desc=f"Tokenising {self.name}",
        )
        sentences_cut = sum(1 for n in features["_words_cut"] if n > 0)
        features, words_cut = sum_and_drop(features, "_words_cut")
        features, words_empty = sum_and_drop(features, "_words_empty")
        if words_cut:
            logger.warning(
                "%s: %d of %d sentences are longer than max_length=%d; %d words were cut and get no label%s",
                self.name, sentences_cut, len(dataset), max_length, words_cut,
                "" if training else " (they are scored as unpredicted words)",
            )
        if words_empty:
            logger.warning(
                "%s: %d words produced no sub-token (e.g. zero-width characters) and get no label",
                self.name, words_empty,
            )
        return features

    def data_collator(self, tokenizer, pad_to_multiple_of: int | None = None):
        """``DataCollatorForTokenClassification``: pads inputs, and labels with -100; ``lang_id`` passes through."""
        return DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def compute_metrics(self, examples: Dataset, features: Dataset, predictions, **postprocess_kwargs) -> dict:
        if postprocess_kwargs:
            raise TypeError(f"{self.name}.evaluate takes no post-processing arguments, got {sorted(postprocess_kwargs)}")
        if WORD_IDS not in features.column_names:
            raise ValueError(f"{self.name}: features lack '{WORD_IDS}': make them with preprocess(..., training=False)")
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
        predicted_ids = np.argmax(logits, axis=-1)
        references, predicted, unpredicted = [], [], 0
        for tags, word_ids, row in zip(examples["tags"], features[WORD_IDS], predicted_ids):
            words = [self.missing_word_label] * len(tags)
            done = set()
            for position, word in enumerate(word_ids):
                if word is not None and word not in done:
                    words[word] = names[row[position]]
                    done.add(word)
            unpredicted += len(tags) - len(done)
            references.append([names[t] for t in tags])
            predicted.append(words)
        if unpredicted:
            logger.warning(
                "%s: %d of %d words have no prediction (cut by max_length or without sub-tokens) and are scored as %s",
                self.name, unpredicted, sum(len(r) for r in references),
                repr(self.missing_word_label) if self.missing_word_label is not None else "wrong",
            )
        return self.score(references, predicted)

    @abstractmethod
    def score(self, references: list[list[str]], predictions: list[list[str | None]]) -> dict:
        """Metrics (0-100) from per-word gold and predicted label names."""


def align_labels(word_ids: list[int | None], tags: list[int], continuation: list[int] | None) -> list[int]:
    """Token labels: a word's tag on its first sub-token; -100 on later ones (or ``continuation[tag]``) and specials."""
    labels, previous = [], None
    for word in word_ids:
        if word is None:
            labels.append(IGNORE_INDEX)
        elif word != previous:
            labels.append(tags[word])
        else:
            labels.append(continuation[tags[word]] if continuation is not None else IGNORE_INDEX)
        previous = word
    return labels


class NerTask(TokenClassificationTask):
    """Named-entity recognition (IOB2 tags), scored with seqeval entity precision/recall/F1."""

    name = "ner"
    metric_key = "f1"
    missing_word_label = "O"

    def score(self, references, predictions) -> dict:
        return entity_scores(references, predictions)


class PosTask(TokenClassificationTask):
    """Part-of-speech tagging, scored with token accuracy."""

    name = "pos"
    metric_key = "accuracy"

    def score(self, references, predictions) -> dict:
        return {"accuracy": token_accuracy(references, predictions)}
