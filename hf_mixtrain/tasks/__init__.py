"""Per-task tokenisation, label alignment, collators, metrics and QA post-processing.

    task = get_task("ner")
    features = task.preprocess(dataset, tokenizer, max_length=128, training=True)
    scores = task.evaluate(trainer, test_examples, metric_key_prefix="test_de")   # {"test_de_f1": ..., ...}
"""

from ..data.languages import TASKS
from .base import Task
from .classification import XnliTask
from .metrics import accuracy, entity_scores, normalize_answer, squad_exact_match, squad_f1, squad_scores, token_accuracy
from .qa import QuestionAnsweringTask, postprocess_qa_predictions
from .token_classification import NerTask, PosTask

# One class per task of data.languages.TASKS, the one list of task names.
_TASK_CLASSES = dict(zip(TASKS, (NerTask, PosTask, QuestionAnsweringTask, XnliTask)))


def get_task(name: str) -> Task:
    """The Task object for ``name`` (one of ``TASKS``)."""
    if name not in _TASK_CLASSES:
        raise ValueError(f"Unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return _TASK_CLASSES[name]()


__all__ = [
    "TASKS",
    "Task",
    "get_task",
    "NerTask",
    "PosTask",
    "QuestionAnsweringTask",
    "XnliTask",
    "postprocess_qa_predictions",
    "entity_scores",
    "token_accuracy",
    "accuracy",
    "normalize_answer",
    "squad_exact_match",
    "squad_f1",
    "squad_scores",
]
