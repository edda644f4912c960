"""Extractive QA: overflow windows over long contexts, and n-best span post-processing across the windows.

Follows run_qa.py / utils_qa.py of the transformers examples, ported to the 5.x evaluation loop (``Trainer.predict``).
"""

import logging
from collections import defaultdict
from collections.abc import Mapping

import numpy as np
from datasets import Dataset
from transformers import AutoModelForQuestionAnswering, DataCollatorWithPadding

from .base import LANG_ID, Task, columns_to_remove, require_columns, require_fast_tokenizer, sum_and_drop
from .metrics import squad_scores

logger = logging.getLogger(__name__)

EXAMPLE_ID = "example_id"
OFFSET_MAPPING = "offset_mapping"


class QuestionAnsweringTask(Task):
    """Extractive question answering (TyDi QA GoldP, SQuAD-style rows), scored with SQuAD v1.1 EM/F1."""

    name = "qa"
    metric_key = "f1"
    auto_model_class = AutoModelForQuestionAnswering
    default_max_length = 384
    eval_only_columns = (EXAMPLE_ID, OFFSET_MAPPING)

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
        """Question + context windows: ``input_ids``, ``attention_mask`` (...), and ``lang_id`` on every window.

        A context that does not fit in ``max_length`` is split into several windows overlapping by ``doc_stride``
        tokens. ``training=True`` adds ``start_positions``/``end_positions`` of the first gold answer, or the CLS index
        when the answer is not inside the window. ``training=False`` adds ``example_id`` and ``offset_mapping``
        (character offsets of context tokens, None elsewhere) for ``postprocess_qa_predictions``.
        """
        require_fast_tokenizer(tokenizer, self.name)
        require_columns(dataset, ["id", "context", "question"] + (["answers"] if training else []), self.name)
        if doc_stride >= max_length:
            raise ValueError(f"doc_stride ({doc_stride}) must be smaller than max_length ({max_length}): lower it")
        # Tokenizers that pad on the left (XLNet) want the context first.
        pad_on_right = tokenizer.padding_side == "right"
        context_index = 1 if pad_on_right else 0

        def tokenize(batch):
            # Leading spaces in questions waste window room and break truncation="only_second" on long ones.
            questions = [q.lstrip() for q in batch["question"]]
            contexts = batch["context"]
            encoded = tokenizer(
                questions if pad_on_right else contexts,
                contexts if pad_on_right else questions,
                truncation="only_second" if pad_on_right else "only_first",
                max_length=max_length,
                stride=doc_stride,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
                padding="max_length" if pad_to_max_length else False,
            )
            sample_map = encoded.pop("overflow_to_sample_mapping")
            offsets = encoded.pop("offset_mapping")
            starts, ends, example_ids, context_offsets, mismatched = [], [], [], [], []
            for window, sample in enumerate(sample_map):
                sequence_ids = encoded.sequence_ids(window)
                context_tokens = [k for k, s in enumerate(sequence_ids) if s == context_index]
                if training:
                    ids = encoded["input_ids"][window]
                    cls_index = ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in ids else 0
                    answers = batch["answers"][sample]
                    start, end, bad = answer_token_span(
                        answers, contexts[sample], offsets[window], context_tokens, cls_index
                    )
                    starts.append(start)
                    ends.append(end)
                    # Count each example once, on its first window.
                    mismatched.append(int(bad and (window == 0 or sample_map[window - 1] != sample)))
                else:
                    example_ids.append(batch["id"][sample])
                    context_offsets.append(
                        [o if s == context_index else None for o, s in zip(offsets[window], sequence_ids)]
                    )
            if training:
                encoded["start_positions"] = starts
                encoded["end_positions"] = ends
                encoded["_mismatched"] = mismatched
            else:
                encoded[EXAMPLE_ID] = example_ids
                encoded[OFFSET_MAPPING] = context_offsets
            if LANG_ID in batch:
                encoded[LANG_ID] = [batch[LANG_ID][s] for s in sample_map]
            return encoded

        features = dataset.map(
            tokenize,
            batched=True,
            remove_columns=columns_to_remove(dataset),
            num_proc=num_proc,
            desc=f"Tokenising {self.name}",
        )
        logger.info("%s: %d examples -> %d windows (max_length=%d, doc_stride=%d)",
                    self.name, len(dataset), len(features), max_length, doc_stride)
        if training:
            features, mismatched = sum_and_drop(features, "_mismatched")
            if mismatched:
                logger.warning(
                    "%s: %d of %d examples have an answer text that differs from context[answer_start:...]; "
                    "their positions follow answer_start",
                    self.name, mismatched, len(dataset),
                )
        return features

    def data_collator(self, tokenizer, pad_to_multiple_of: int | None = None):
        """``DataCollatorWithPadding`` (a no-op pad for features already padded to max_length); keeps ``lang_id``."""
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def compute_metrics(
        self, examples: Dataset, features: Dataset, predictions, *, n_best_size: int = 20, max_answer_length: int = 30
    ) -> dict:
        missing = [c for c in (EXAMPLE_ID, OFFSET_MAPPING) if c not in features.column_names]
        if missing:
            raise ValueError(f"qa: features lack {missing}: make them with preprocess(..., training=False)")
        answers = postprocess_qa_predictions(
            examples, features, predictions, n_best_size=n_best_size, max_answer_length=max_answer_length
        )
        references = {qid: list(a["text"]) for qid, a in zip(examples["id"], examples["answers"])}
        unanswerable = [qid for qid, golds in references.items() if not golds]
        if unanswerable:
            logger.warning("qa: %d examples have no gold answer and are left out of EM/F1", len(unanswerable))
            references = {qid: golds for qid, golds in references.items() if golds}
        return squad_scores(answers, references)


def answer_token_span(
    answers: Mapping, context: str, offsets: list, context_tokens: list[int], cls_index: int
) -> tuple[int, int, bool]:
    """Token start/end of the first answer inside one window (CLS index twice when it is not fully inside).

    Also says whether the answer text disagrees with the context at ``answer_start``.
    """
    if len(answers["answer_start"]) == 0 or not context_tokens:
        return cls_index, cls_index, False
    start_char = answers["answer_start"][0]
    text = answers["text"][0]
    end_char = start_char + len(text)
    mismatched = context[start_char:end_char] != text
    first, last = context_tokens[0], context_tokens[-1]
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
        return cls_index, cls_index, mismatched
    start = max(k for k in context_tokens if offsets[k][0] <= start_char)
    end = min(k for k in context_tokens if offsets[k][1] >= end_char)
    return start, end, mismatched


def postprocess_qa_predictions(
    examples: Dataset,
    features: Dataset,
    predictions,
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
) -> dict[str, str]:
    """Best answer text per example from start/end logits over all of its windows.

    In every window of an example, the ``n_best_size`` highest start and end logits among the context tokens are
    paired; pairs that are reversed or longer than ``max_answer_length`` tokens are skipped, and the pair with the
    highest start+end logit over all windows wins (utils_qa.postprocess_qa_predictions without the null answer).

    Args:
        examples: raw rows with ``id`` and ``context``.
        features: ``preprocess(examples, ..., training=False)`` output (``example_id``, ``offset_mapping``).
        predictions: ``(start_logits, end_logits)``, one row per feature (``trainer.predict(...).predictions``).

    Returns:
        ``{example id: answer text}`` with surrounding whitespace stripped; an example with no valid span (or no
        window) gets "" and is counted in a log.
    """
    start_logits, end_logits = predictions[0], predictions[1]
    if len(start_logits) != len(features):
        raise ValueError(f"got predictions for {len(start_logits)} features but there are {len(features)}")
    example_ids = list(examples["id"])
    if len(set(example_ids)) != len(example_ids):
        raise ValueError("qa: example ids are not unique; give every example its own id")
    windows = defaultdict(list)
    for index, example_id in enumerate(features[EXAMPLE_ID]):
        windows[example_id].append(index)
    unknown = set(windows) - set(example_ids)
    if unknown:
        raise ValueError(
            f"qa: {len(unknown)} features belong to examples not given (e.g. {sorted(unknown)[:3]}); "
            "pass the examples the features were made from"
        )
    all_offsets = features[OFFSET_MAPPING]
    answers, empty = {}, 0
    for example_id, context in zip(example_ids, examples["context"]):
        best_score, best_span = -np.inf, None
        for index in windows.get(example_id, []):
            offsets = all_offsets[index]
            in_context = np.array([k for k, o in enumerate(offsets) if o is not None], dtype=int)
            if in_context.size == 0:
                continue
            starts_logits = np.asarray(start_logits[index])
            ends_logits = np.asarray(end_logits[index])
            # Only context tokens compete, so padding or question tokens never crowd the n-best lists.
            top_starts = in_context[np.argsort(-starts_logits[in_context], kind="stable")[:n_best_size]]
            top_ends = in_context[np.argsort(-ends_logits[in_context], kind="stable")[:n_best_size]]
            for start in top_starts:
                for end in top_ends:
                    if end < start or end - start + 1 > max_answer_length:
                        continue
                    score = starts_logits[start] + ends_logits[end]
                    if score > best_score:
                        best_score, best_span = score, (offsets[start][0], offsets[end][1])
        if best_span is None:
            empty += 1
            answers[example_id] = ""
        else:
            # SentencePiece tokenizers (XLM-R) give "▁Berlin" an offset that starts at the space before it.
            answers[example_id] = context[best_span[0] : best_span[1]].strip()
    if empty:
        logger.warning("qa: %d of %d examples got no valid answer span and are answered with ''", empty, len(answers))
    return answers
