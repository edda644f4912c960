"""Training arguments for mixed few-shot cross-lingual training."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from transformers import TrainingArguments

from .data.assembly import METHODS
from .surgery import SCOPES

SURGERY_EVERY = ("micro_batch", "optimizer_step")
SURGERY_SYNC = ("local", "global")
SURGERY_SOURCES = ("oracle_pool", "batch_split", "pairwise")


@dataclass
class MixTrainingArguments(TrainingArguments):
    """[`~transformers.TrainingArguments`] plus the settings of mixed training and stochastic gradient surgery.

    `gradient_surgery` is the one switch of [`GradientMixTrainer`]'s step: off, the step is the stock `Trainer`
    step (naive-mix). Which of the paper's methods a script runs is `MethodArguments.method`, not a trainer setting.
    """

    gradient_surgery: bool = field(
        default=True,
        metadata={
            "help": "Stochastic gradient surgery in every training step (gradient-mix). False: the stock Trainer step. "
            "The task scripts set it from --method."
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
            "row-weighted sum of g_s and g_t; the two passes together cost one ordinary step. pairwise: full PCGrad "
            "(Yu et al. 2020) over the languages present in each batch, one forward+backward per language and "
            "every conflicting pair projected; the cost the paper avoids, for comparison.",
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
            "(hf_mixtrain.samplers.LanguageBatchSampler). Needs a lang_id column. Always on for gradient "
            "surgery with surgery_source=batch_split."
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
        if self.surgery_source in ("batch_split", "pairwise") and self.gradient_surgery:
            source = f"surgery_source={self.surgery_source!r}"
            if self.surgery_every != "micro_batch":
                raise ValueError(
                    f"{source} projects inside each micro-batch (its row groups exist only there); set "
                    "surgery_every='micro_batch'."
                )
            if self.surgery_sync != "local":
                raise ValueError(
                    f"{source} supports surgery_sync='local' only: processes hold batches of different languages, "
                    "so there is no single global per-language gradient to project against."
                )
            if self.surgery_source == "pairwise" and self.surgery_scope != "global":
                raise ValueError("surgery_source='pairwise' supports surgery_scope='global' only (PCGrad's rule).")
        for name in ("oracle_batch_size", "oracle_source_batch_size", "language_batch_target_rows"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value} must be a positive number of rows, or None.")

    @property
    def uses_language_batches(self) -> bool:
        """Whether training batches are language batches: asked for, or needed by batch-split surgery.

        Derived rather than set in `__post_init__`, so a copy with the surgery off (naive-mix) drops them again.
        """
        return self.language_batches or (self.gradient_surgery and self.surgery_source == "batch_split")


@dataclass
class ModelArguments:
    """Which model and tokenizer the task scripts fine-tune."""

    model_name_or_path: str = field(
        default=None,
        metadata={"help": "Hub id or local path of the pretrained encoder (default: the paper's model for the task)."},
    )
    config_name: Optional[str] = field(default=None, metadata={"help": "Config name or path, if not the model's."})
    tokenizer_name: Optional[str] = field(default=None, metadata={"help": "Tokenizer name or path, if not the model's."})
    cache_dir: Optional[str] = field(default=None, metadata={"help": "Where Hub downloads are stored."})
    freeze_embeddings: bool = field(
        default=False,
        metadata={"help": "Freeze the word embeddings (they dominate a multilingual encoder's size; useful on CPU)."},
    )


@dataclass
class MethodArguments:
    """Which of the paper's methods a task script runs, how it selects checkpoints and how the two-stage methods
    adapt. The script turns `method` into stages; only gradient-mix's stage sets `gradient_surgery`."""

    method: str = field(
        default="gradient-mix",
        metadata={
            "help": "One of the paper's methods: zero-shot, ord-fs-dev, ord-fs, mix-ft, naive-mix, gradient-mix. "
            "Only gradient-mix does gradient surgery.",
            "choices": list(METHODS),
        },
    )
    selection: Optional[str] = field(
        default=None,
        metadata={
            "help": "Checkpoint selection of the (last) training stage: source-dev, target-dev or last. Default: the "
            "paper's per method (source-dev for one-model methods, target-dev for ord-fs-dev, last otherwise).",
            "choices": ["source-dev", "target-dev", "last"],
        },
    )
    adapt_learning_rate: Optional[float] = field(
        default=None,
        metadata={"help": "Learning rate of the target-adapting stage (ord-fs, ord-fs-dev, mix-ft). Default: --learning_rate."},
    )
    adapt_num_train_epochs: float = field(
        default=10.0, metadata={"help": "Epochs over the K shots in the target-adapting stage."}
    )
    adapt_batch_size: Optional[int] = field(
        default=None,
        metadata={"help": "Batch size of the target-adapting stage. Default: --per_device_train_batch_size."},
    )
    source_model_cache_dir: Optional[str] = field(
        default=None,
        metadata={
            "help": "Where source-trained models are cached for the two-stage methods and zero-shot, one per model, "
            "task, seed and training settings. Default: $HF_MIXTRAIN_CACHE/source_models (~/.cache/hf_mixtrain)."
        },
    )
    save_adapted_models: bool = field(
        default=False, metadata={"help": "ord-fs/ord-fs-dev: also save each target language's model."}
    )


@dataclass
class DataArguments:
    """Which languages, shots and data the task scripts use."""

    benchmark: Optional[str] = field(
        default=None,
        metadata={"help": "A named preset wiring model and data together, e.g. offline-pos (see README)."},
    )
    data_dir: Optional[str] = field(
        default=None,
        metadata={"help": "Local data: one folder per language code (see hf_mixtrain.data); languages without a folder "
                  "here come from the Hub. Default: every language from the Hub."},
    )
    hub_dataset: Optional[str] = field(
        default=None, metadata={"help": "Which Hub dataset to load (e.g. wikiann or xtreme for NER)."}
    )
    target_languages: Optional[str] = field(
        default=None,
        metadata={"help": "Comma-separated target language codes. Default: the task's language list in the paper."},
    )
    k_shot: int = field(default=10, metadata={"help": "Shots per target language (K)."})
    shot_unit: Optional[str] = field(
        default=None,
        metadata={
            "help": "sentences (NER/POS default, the authors), labels (every label at least K times, Zhao et al. "
            "2021), per_class (XNLI default), questions (QA default) or windows (QA: K windows, the authors)."
        },
    )
    shot_seed: Optional[int] = field(default=None, metadata={"help": "Seed of the K-shot draw. Default: --seed."})
    allow_fewer: bool = field(
        default=False, metadata={"help": "Take all a language has when its pool is smaller than K (logged)."}
    )
    max_seq_length: Optional[int] = field(default=None, metadata={"help": "Maximum tokens per sequence (or window)."})
    doc_stride: int = field(default=128, metadata={"help": "QA: overlap between windows of a long context."})
    label_all_tokens: bool = field(
        default=False, metadata={"help": "NER/POS: label every sub-token, not only a word's first one."}
    )
    max_train_samples: Optional[int] = field(
        default=None, metadata={"help": "Keep only the first N source training rows (for quick runs)."}
    )
    max_eval_samples: Optional[int] = field(default=None, metadata={"help": "Keep only the first N rows of each dev set."})
    max_test_samples: Optional[int] = field(default=None, metadata={"help": "Keep only the first N test rows per language."})
    ud_token_form: str = field(
        default="words",
        metadata={
            "help": "POS from local CoNLL-U files: words (UD's syntactic words, as google/xtreme's udpos rows have "
            "them) or fused (the authors' tokens: each multiword token as its surface form, tagged like its head "
            "word; every POS language must then come from data_dir).",
            "choices": ["words", "fused"],
        },
    )

    @property
    def targets(self) -> Optional[list]:
        if not self.target_languages:
            return None
        return [code for code in self.target_languages.replace(" ", ",").split(",") if code]

