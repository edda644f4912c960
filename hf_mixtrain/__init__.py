"""hf-mixtrain: few-shot cross-lingual transfer with one-step mixed training and stochastic gradient surgery."""

from .arguments import METHODS, DataArguments, MethodArguments, MixTrainingArguments, ModelArguments
from .data import PAPER_LANGUAGES, DataError, MixedData, assemble, load_language, load_languages, sample_k_shot
from .history import summarize_surgery
from .modelcard import ModelCardInfo, build_model_card, training_command
from .samplers import LanguageBatchSampler
from .surgery import SurgeryRecord, project_conflicting
from .tasks import TASKS, Task, get_task
from .recipes import RECIPES, run_method
from .trainer import GradientMixTrainer

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "PAPER_LANGUAGES",
    "RECIPES",
    "TASKS",
    "DataArguments",
    "DataError",
    "GradientMixTrainer",
    "LanguageBatchSampler",
    "MethodArguments",
    "MixTrainingArguments",
    "MixedData",
    "ModelArguments",
    "ModelCardInfo",
    "SurgeryRecord",
    "Task",
    "assemble",
    "build_model_card",
    "get_task",
    "load_language",
    "load_languages",
    "project_conflicting",
    "run_method",
    "sample_k_shot",
    "summarize_surgery",
    "training_command",
]
