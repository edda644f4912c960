"""hf-mixtrain: few-shot cross-lingual transfer with one-step mixed training and stochastic gradient surgery."""

from .arguments import METHODS, MixTrainingArguments
from .surgery import SurgeryRecord, project_conflicting
from .trainer import GradientMixTrainer, summarize_surgery

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "GradientMixTrainer",
    "MixTrainingArguments",
    "SurgeryRecord",
    "project_conflicting",
    "summarize_surgery",
]
