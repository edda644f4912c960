"""Task metrics that work offline, all on a 0-100 scale (as in the paper's tables and the SQuAD script).

`evaluate.load("seqeval" | "squad" | "accuracy")` fetches metric scripts from the Hub, so these call the seqeval
package directly and carry their own copy of the SQuAD v1.1 answer normalisation and F1.
"""

import logging
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

from seqeval.metrics import accuracy_score as _seqeval_accuracy
from seqeval.metrics.sequence_labeling import precision_recall_fscore_support

logger = logging.getLogger(__name__)


def entity_scores(references: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level micro precision, recall and F1 (seqeval default mode, IOB2 tags) and token accuracy.

    An entity counts as correct only when its type and its exact span match. Returns keys
    ``precision``, ``recall``, ``f1``, ``accuracy`` on a 0-100 scale; a score whose denominator is zero (no gold or
    no predicted entities) is 0.
    """
    _check_same_lengths(references, predictions)
    references, predictions = [list(r) for r in references], [list(p) for p in predictions]
    precision, recall, f1, _ = precision_recall_fscore_support(
        references, predictions, average="micro", zero_division=0
    )
    return {
        "precision": 100.0 * float(precision),
        "recall": 100.0 * float(recall),
        "f1": 100.0 * float(f1),
        "accuracy": 100.0 * float(_seqeval_accuracy(references, predictions)),
    }


def token_accuracy(references: Sequence[Sequence], predictions: Sequence[Sequence]) -> float:
    """Share of tokens whose predicted tag equals the gold tag, over all tokens of all sentences (0-100).

    Used for POS: seqeval would read tags such as "B-X"-less UPOS names as chunk labels and mangle them.
    """
    _check_same_lengths(references, predictions)
    total = sum(len(r) for r in references)
    if total == 0:
        raise ValueError("token_accuracy got no tokens: pass at least one non-empty sentence")
    correct = sum(g == p for ref, pred in zip(references, predictions) for g, p in zip(ref, pred))
    return 100.0 * correct / total


def accuracy(references: Sequence, predictions: Sequence) -> float:
    """Classification accuracy (0-100)."""
    if len(references) != len(predictions):
        raise ValueError(f"accuracy got {len(references)} references but {len(predictions)} predictions")
    if not references:
        raise ValueError("accuracy got no examples")
    return 100.0 * sum(int(r) == int(p) for r, p in zip(references, predictions)) / len(references)


# --- SQuAD v1.1 (the official evaluation script's logic) ---


def normalize_answer(text: str) -> str:
    """Lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace (SQuAD v1.1)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


_PUNCTUATION = set(string.punctuation)


def squad_exact_match(prediction: str, ground_truth: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def squad_f1(prediction: str, ground_truth: str) -> float:
    """Bag-of-tokens F1 between the normalised answers (0-1); 0 when they share no token."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(ground_truth).split()
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """SQuAD v1.1 ``exact_match`` and ``f1`` (0-100), each the best over an example's gold answers.

    ``predictions`` maps example id -> predicted text, ``references`` maps example id -> gold answer texts.
    As in the official script, an example without a prediction scores 0 (and is counted in a warning).
    """
    if not references:
        raise ValueError("squad_scores got no references")
    empty = [qid for qid, golds in references.items() if len(golds) == 0]
    if empty:
        raise ValueError(
            f"{len(empty)} examples have no gold answer (e.g. {empty[:3]}); SQuAD v1.1 scores need at least one: "
            "drop unanswerable examples before scoring"
        )
    exact = f1 = 0.0
    missing = 0
    for qid, golds in references.items():
        if qid not in predictions:
            missing += 1
            continue
        exact += max(squad_exact_match(predictions[qid], g) for g in golds)
        f1 += max(squad_f1(predictions[qid], g) for g in golds)
    if missing:
        logger.warning("%d of %d examples have no prediction and score 0", missing, len(references))
    return {"exact_match": 100.0 * exact / len(references), "f1": 100.0 * f1 / len(references)}


def _check_same_lengths(references: Sequence[Sequence], predictions: Sequence[Sequence]) -> None:
    if len(references) != len(predictions):
        raise ValueError(f"got {len(references)} reference sentences but {len(predictions)} predicted ones")
    for i, (ref, pred) in enumerate(zip(references, predictions)):
        if len(ref) != len(pred):
            raise ValueError(f"sentence {i}: {len(ref)} gold tags but {len(pred)} predicted tags")
