"""Default settings per task (the authors' scripts) and named benchmarks that wire model and data together.

The task scripts layer their arguments: dataclass defaults < `PAPER_SETTINGS[task]` < a `--benchmark`
preset < what the user writes on the command line or in the JSON config.
"""

from __future__ import annotations

# The authors' training scripts (XTREME fork), per task. XLM-R large runs 2 x 16, base 8 x 4 (same global batch).
_COMMON = dict(
    adam_epsilon=1e-8,
    max_grad_norm=1.0,
    lr_scheduler_type="linear",
    warmup_steps=0,
    weight_decay=0.0,
    eval_steps=100,
)
PAPER_SETTINGS: dict[str, dict] = {
    "ner": dict(
        _COMMON,
        model_name_or_path="FacebookAI/xlm-roberta-large",
        learning_rate=2e-5,
        num_train_epochs=10,
        max_seq_length=128,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=16,
        surgery_prob=1.0,
    ),
    "pos": dict(
        _COMMON,
        model_name_or_path="FacebookAI/xlm-roberta-large",
        learning_rate=2e-5,
        num_train_epochs=10,
        max_seq_length=128,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=16,
        surgery_prob=1.0,
    ),
    "xnli": dict(
        _COMMON,
        model_name_or_path="FacebookAI/xlm-roberta-base",
        learning_rate=2e-5,
        num_train_epochs=10,
        max_seq_length=128,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=4,
        surgery_prob=0.1,
    ),
    "qa": dict(
        _COMMON,
        model_name_or_path="FacebookAI/xlm-roberta-base",
        learning_rate=3e-5,
        num_train_epochs=30,
        max_seq_length=384,
        doc_stride=128,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=4,
        warmup_steps=500,
        weight_decay=1e-4,
        surgery_prob=0.1,
    ),
}

# Checkpoint selection per method, as in the paper: the one-model methods select on the source dev set
# (English dev every 100 steps); ord-FS+dev on the target dev set; ord-FS and mix-FT have no dev data for
# their target stage and keep the last checkpoint. TyDiQA keeps the final model throughout (the authors).
SELECTION_DEFAULTS = {
    "zero-shot": "source-dev",
    "naive-mix": "source-dev",
    "gradient-mix": "source-dev",
    "mix-ft": "last",
    "ord-fs": "last",
    "ord-fs-dev": "target-dev",
}


def default_selection(task: str, method: str) -> str:
    if task == "qa" and method != "ord-fs-dev":
        return "last"
    return SELECTION_DEFAULTS[method]


def benchmark_settings(name: str, task: str) -> dict:
    """Settings of a named benchmark preset (model, data, languages, training sizes) for `task`'s script."""
    raise ValueError(f"Unknown benchmark {name!r}.")
