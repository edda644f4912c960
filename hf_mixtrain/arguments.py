"""Training arguments for mixed few-shot cross-lingual training."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from transformers import TrainingArguments

from .surgery import SCOPES

METHODS = ("zero-shot", "ord-fs-dev", "ord-fs", "mix-ft", "naive-mix", "gradient-mix")
SURGERY_EVERY = ("micro_batch", "optimizer_step")
SURGERY_SYNC = ("local", "global")
SURGERY_SOURCES = ("oracle_pool", "batch_split")


@dataclass
class MixTrainingArguments(TrainingArguments):
    """[`~transformers.TrainingArguments`] plus the settings of mixed training and stochastic gradient surgery.

    Only `method="gradient-mix"` changes what [`GradientMixTrainer`] does in a step; every other method trains
    with the stock `Trainer` step. The task scripts also read `method` to choose the paper's recipe (which
    stages run on which data).
    """

    method: str = field(
        default="gradient-mix",
        metadata={
            "help": "One of the paper's methods: zero-shot, ord-fs-dev, ord-fs, mix-ft, naive-mix, gradient-mix. "
            "Only gradient-mix does gradient surgery.",
            "choices": list(METHODS),
        },
    )
    source_language: str = field(default="en", metadata={"help": "The high-resource source language."})
    surgery_prob: float = field(
        default=1.0,
        metadata={
            "help": "Probability of surgery at each surgery point. The authors use 1.0 for NER/POS and 0.1 for "
            "XNLI and TyDiQA."
        },
    )
    surgery_source: str = field(
        default="oracle_pool",
        metadata={
            "help": "Where the gradient that g is projected against comes from. oracle_pool (the authors): an "
            "extra forward+backward on an oracle batch of one randomly drawn language, o = its gradient, "
            "g <- g - min(0, g.o/||o||^2) o; costs one extra pass over the oracle batch. batch_split: each batch "
            "holds source rows and rows of one target language (language_batches); the two row groups are "
            "passed separately, g_s <- g_s - min(0, g_s.g_t/||g_t||^2) g_t, and the update is the "
            "row-weighted sum of g_s and g_t; the two passes together cost one ordinary step.",
            "choices": list(SURGERY_SOURCES),
        },
    )
    surgery_scope: str = field(
        default="global",
        metadata={
            "help": "global: one projection scalar over all parameters jointly (the authors). per_tensor: the rule "
            "applied to each parameter tensor separately (an extension).",
            "choices": list(SCOPES),
        },
    )
    surgery_every: str = field(
        default="micro_batch",
        metadata={
            "help": "micro_batch: after every micro-batch, project the running gradient sum of the accumulation "
            "window (the authors). optimizer_step: project the accumulated gradient once, on the last micro-batch.",
            "choices": list(SURGERY_EVERY),
        },
    )
    surgery_sync: str = field(
        default="local",
        metadata={
            "help": "Under several processes. local: each process projects its own gradient (same language on every "
            "process), then gradients are averaged once per optimizer step; same traffic as plain DDP. global: "
            "gradients and oracle gradients are averaged across processes before every projection, so the "
            "surgery sees the global batch as a single process would; one extra all-reduce per surgery.",
            "choices": list(SURGERY_SYNC),
        },
    )
    oracle_include_source: bool = field(
        default=True,
        metadata={"help": "Whether the source language is among the oracle languages drawn (the authors: yes)."},
    )
    oracle_batch_size: Optional[int] = field(
        default=None,
        metadata={
            "help": "Rows per oracle batch for a target language, drawn without replacement from its pool. None: "
            "the whole pool (the authors' NER/POS: the language's K-shot set)."
        },
    )
    oracle_source_batch_size: Optional[int] = field(
        default=None,
        metadata={
            "help": "Rows per oracle batch for the source language, drawn from its pool. None: min(K, "
            "per_device_train_batch_size) with K the largest target pool, the authors' rule."
        },
    )
    language_batches: bool = field(
        default=False,
        metadata={
            "help": "Build every training batch from source rows plus rows of ONE target language "
            "(hf_mixtrain.samplers.LanguageBatchSampler). Needs a lang_id column. On by itself with "
            "surgery_source=batch_split."
        },
    )
    language_batch_target_rows: Optional[int] = field(
        default=None,
        metadata={
            "help": "Target-language rows per language batch. None: the target share of the training set times "
            "the batch size, rounded, at least 1."
        },
    )
    language_temperature: Optional[float] = field(
        default=None,
        metadata={
            "help": "How language batches choose their target language. None: uniformly. T > 0: with probability "
            "proportional to pool size ** (1/T)."
        },
    )
    surgery_log_tensors: bool = field(
        default=False,
        metadata={"help": "Record every parameter tensor's cosine with the oracle gradient in surgery_history."},
    )

    def __post_init__(self):
        super().__post_init__()
        checks = {
            "method": (self.method, METHODS),
            "surgery_scope": (self.surgery_scope, SCOPES),
            "surgery_every": (self.surgery_every, SURGERY_EVERY),
            "surgery_sync": (self.surgery_sync, SURGERY_SYNC),
            "surgery_source": (self.surgery_source, SURGERY_SOURCES),
        }
        for name, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not valid; choose one of {', '.join(allowed)}.")
        if not 0.0 <= self.surgery_prob <= 1.0:
            raise ValueError(f"surgery_prob={self.surgery_prob} must lie in [0, 1].")
        if self.surgery_source == "batch_split" and self.method == "gradient-mix":
            if self.surgery_every != "micro_batch":
                raise ValueError(
                    "surgery_source='batch_split' projects inside each micro-batch (its two row groups exist only "
                    "there); set surgery_every='micro_batch'."
                )
            if self.surgery_sync != "local":
                raise ValueError(
                    "surgery_source='batch_split' supports surgery_sync='local' only: processes hold batches of "
                    "different target languages, so there is no single global target gradient to project against."
                )
            self.language_batches = True
        for name in ("oracle_batch_size", "oracle_source_batch_size", "language_batch_target_rows"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value} must be a positive number of rows, or None.")
