"""The multilingual model card: Hub metadata (languages, base model, per-language test results) and the card text.

`build_model_card(ModelCardInfo(...), training_args)` renders the package's template (a copy of the repository's
`model_cards/model_card_template.md`) into a `huggingface_hub.ModelCard`. `GradientMixTrainer` (through
`card_hooks.ModelCardMixin`) writes it as `README.md` next to every saved model and checkpoint when its `card_info`
is set, and `push_to_hub` uploads it.

Longer than the other modules (~420 lines) on purpose: the card's one data structure, its checks and its rendering
stay together, so what a card can say is read in one place (its prose is in `card_text.py`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from importlib import resources
from numbers import Real
from typing import Any, Optional, Sequence

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .arguments import METHODS, MixTrainingArguments
from .card_text import METHOD_DESCRIPTIONS, USAGE

logger = logging.getLogger(__name__)
_warned = {"no_dataset_id": False}

TEMPLATE_NAME = "model_card_template.md"
CARD_NAME = "README.md"

@dataclass(frozen=True)
class _Task:
    name: str
    pipeline_tag: str
    labelled: bool  # whether the model's config carries the label set (id2label)


# What the card says per task (its pipeline, whether the config holds the labels).
CARD_TASKS = {
    "ner": _Task("Named entity recognition", "token-classification", True),
    "pos": _Task("Part-of-speech tagging", "token-classification", True),
    "qa": _Task("Extractive question answering", "question-answering", False),
    "xnli": _Task("Natural language inference", "text-classification", True),
}

METRIC_NAMES = {"f1": "F1", "exact_match": "Exact match", "accuracy": "Accuracy", "precision": "Precision", "recall": "Recall"}

_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
_SECRET_FLAGS = ("--hub_token", "--token")


@dataclass
class ModelCardInfo:
    """What the model card says about one trained model; the task scripts fill it in.

    Args:
        task: "ner", "pos", "qa" or "xnli".
        base_model: the pretrained encoder's Hub id (e.g. "FacebookAI/xlm-roberta-large"). A local path is named in
            the text but left out of the metadata, where the Hub expects an id.
        base_model_note: how the model trained derives from `base_model`, when it is not that model as is
            (e.g. "4-bit-rounded, vocabulary pruned"); said in the text after its name.
        languages: ISO 639 codes of every language trained on. The source language is moved to the front.
        source_language: the high-resource language with the full training set.
        method: one of `hf_mixtrain.METHODS`.
        k_shot: labelled examples per target language (None or 0 for zero-shot).
        seeds: the seeds of the run(s) behind `results`; a pushed checkpoint is one run, so usually one seed. With
            several seeds the results are their means.
        results: per-language TEST results on a 0-100 scale, `{"de": {"f1": 71.2}, ...}`. May include languages
            evaluated but not trained on (zero-shot transfer). Empty while training (checkpoint cards).
        datasets: Hub ids of the datasets trained on (metadata `datasets`).
        eval_dataset: the Hub id of the test sets behind `results`; default: the first of `datasets`.
        dataset_configs: the `load_dataset` config name of each language's test set, e.g. `{"de": "PAN-X.de"}`;
            default: the language code (as in `unimelb-nlp/wikiann` and `facebook/xnli`); None: the language's data
            are not on the Hub (local files), so its results stay in the text, out of the model-index.
        command: the exact training command line (see `training_command()`).
        license: the model's license identifier (e.g. "mit"); None leaves it out.
        model_name: the name in the card title and the model-index; default `<base>-<task>-<method>`.
        model_id: the Hub id or path used in the usage snippet; default: `model_name`.
        tags: extra Hub tags, after hf-mixtrain's own.
        labels: the label names, in id order; the trainer fills them from the model's `id2label`.
        hyperparameters: script-level settings the TrainingArguments lack (`max_seq_length`, `doc_stride`, ...).
    """

    task: str
    base_model: str
    languages: Sequence[str]
    base_model_note: Optional[str] = None
    source_language: str = "en"
    method: str = "gradient-mix"
    k_shot: Optional[int] = None
    seeds: Sequence[int] = ()
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    datasets: Sequence[str] = ()
    eval_dataset: Optional[str] = None
    dataset_configs: dict[str, Optional[str]] = field(default_factory=dict)
    command: Optional[str] = None
    license: Optional[str] = None
    model_name: Optional[str] = None
    model_id: Optional[str] = None
    tags: Sequence[str] = ()
    labels: Optional[Sequence[str]] = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in CARD_TASKS:
            raise ValueError(f"Unknown task {self.task!r}; choose one of {', '.join(CARD_TASKS)}.")
        if self.method not in METHODS:
            raise ValueError(f"Unknown method {self.method!r}; choose one of {', '.join(METHODS)}.")
        if isinstance(self.languages, str):
            raise TypeError(f"languages must be a list of language codes, e.g. ['en', 'de'], not the string {self.languages!r}.")
        languages = list(self.languages)
        if not languages:
            raise ValueError("languages is empty: give the ISO 639 codes of every language trained on, source first.")
        duplicates = sorted({code for code in languages if languages.count(code) > 1})
        if duplicates:
            raise ValueError(f"languages lists {', '.join(duplicates)} more than once; list each language once.")
        _check_codes(languages + [self.source_language] + list(self.results), "language")
        if self.source_language not in languages:
            raise ValueError(
                f"The source language {self.source_language!r} is not among languages {languages}: every model is "
                f"trained on its source language, so add it (or set source_language to the right code)."
            )
        self.languages = [self.source_language] + [code for code in languages if code != self.source_language]
        if self.k_shot is not None and (not isinstance(self.k_shot, int) or self.k_shot < 0):
            raise ValueError(f"k_shot={self.k_shot!r} must be a non-negative integer (or None for zero-shot).")
        self.seeds = [int(seed) for seed in self.seeds]
        self.datasets = [self.datasets] if isinstance(self.datasets, str) else list(self.datasets)
        self.tags = [self.tags] if isinstance(self.tags, str) else list(self.tags)
        if self.labels is not None:
            self.labels = list(self.labels)
        self._check_results()
        unknown = sorted(set(self.dataset_configs) - set(self.languages) - set(self.results))
        if unknown:
            raise ValueError(f"dataset_configs names languages neither trained on nor evaluated: {', '.join(unknown)}.")

    def _check_results(self) -> None:
        values = []
        for lang, metrics in self.results.items():
            if not isinstance(metrics, dict) or not metrics:
                raise ValueError(f"results[{lang!r}] must be a non-empty dict of metric name -> value, e.g. {{'f1': 71.2}}.")
            for metric, value in metrics.items():
                if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or not 0 <= value <= 100:
                    raise ValueError(
                        f"results[{lang!r}][{metric!r}] = {value!r} is not a number in [0, 100]: results are percentages "
                        f"(multiply 0-1 scores by 100)."
                    )
                values.append(value)
        if values and max(values) <= 1:
            logger.warning(
                "Every result in the model card is at most 1 (%s): results are expected on a 0-100 scale; if these are "
                "0-1 scores, multiply them by 100.",
                ", ".join(f"{v:g}" for v in values[:5]),
            )
        if self.results and not (self.eval_dataset or self.datasets) and not _warned["no_dataset_id"]:
            # Local data has no Hub id to cite: the text keeps the results table, the metadata has no model-index.
            # Said once per process: every save renders a copy of the info (dataclasses.replace), and a run saves
            # its card several times.
            _warned["no_dataset_id"] = True
            logger.warning(
                "The model card's results have no test-set dataset id (local data?): they appear in the card's text "
                "but not as model-index entries. Set eval_dataset= (or datasets=) to a Hub id to add them."
            )

    @property
    def target_languages(self) -> list[str]:
        """The languages trained on other than the source."""
        return [code for code in self.languages if code != self.source_language]

    @property
    def metrics(self) -> list[str]:
        """The metric names present in `results`, in first-seen order."""
        names: list[str] = []
        for metrics in self.results.values():
            names.extend(name for name in metrics if name not in names)
        return names

    @property
    def average(self) -> dict[str, float]:
        """Per metric, the mean over the evaluated languages other than the source (the paper's headline number)."""
        out = {}
        for metric in self.metrics:
            values = [m[metric] for lang, m in self.results.items() if lang != self.source_language and metric in m]
            if values:
                out[metric] = sum(values) / len(values)
        return out

    @property
    def card_model_name(self) -> str:
        if self.model_name:
            return self.model_name
        return f"{self.base_model.rstrip('/').split('/')[-1]}-{self.task}-{self.method}"


def _check_codes(codes: list[str], what: str) -> None:
    bad = sorted({code for code in codes if not isinstance(code, str) or not _LANGUAGE_CODE.fullmatch(code)}, key=str)
    if bad:
        raise ValueError(
            f"Invalid {what} code(s) {bad}: the Hub expects lowercase ISO 639-1/639-2/639-3 codes (2 or 3 letters, "
            f"e.g. 'en', 'de', 'yo'). Use the paper's codes (see hf_mixtrain's language lists)."
        )


def template_path() -> str:
    """The path of the packaged card template (a copy of the repository's `model_cards/model_card_template.md`)."""
    return str(resources.files("hf_mixtrain") / "templates" / TEMPLATE_NAME)


def training_hyperparameters(args) -> dict[str, Any]:
    """The TrainingArguments that shape the result (and, for `MixTrainingArguments`, the surgery settings)."""
    world = max(int(getattr(args, "world_size", 1) or 1), 1)
    rows: dict[str, Any] = {"learning_rate": args.learning_rate}
    if args.max_steps is not None and args.max_steps > 0:
        rows["max_steps"] = args.max_steps
    else:
        rows["num_train_epochs"] = args.num_train_epochs
    rows["per_device_train_batch_size"] = args.per_device_train_batch_size
    rows["gradient_accumulation_steps"] = args.gradient_accumulation_steps
    rows["num_processes"] = world
    rows["total_train_batch_size"] = args.per_device_train_batch_size * args.gradient_accumulation_steps * world
    rows["lr_scheduler_type"] = _plain(args.lr_scheduler_type)
    rows["warmup_steps"] = args.warmup_steps
    rows["weight_decay"] = args.weight_decay
    rows["max_grad_norm"] = args.max_grad_norm
    rows["optim"] = _plain(args.optim)
    rows["adam_epsilon"] = args.adam_epsilon
    rows["mixed_precision"] = "bf16" if args.bf16 else "fp16" if args.fp16 else "no"
    rows["seed"] = args.seed
    if isinstance(args, MixTrainingArguments) and args.gradient_surgery:
        rows["surgery_prob"] = args.surgery_prob
        rows["surgery_source"] = args.surgery_source
        rows["surgery_scope"] = args.surgery_scope
        rows["surgery_every"] = args.surgery_every
        if world > 1:
            rows["surgery_sync"] = args.surgery_sync
        if args.surgery_source == "oracle_pool":  # the split sources draw no oracle batch
            rows["oracle_include_source"] = args.oracle_include_source
            rows["oracle_batch_size"] = args.oracle_batch_size or "the whole K-shot set"
            rows["oracle_source_batch_size"] = args.oracle_source_batch_size or "min(K, per_device_train_batch_size)"
    if isinstance(args, MixTrainingArguments) and args.uses_language_batches:
        rows["language_batches"] = True
        if args.language_batch_target_rows is not None:
            rows["language_batch_target_rows"] = args.language_batch_target_rows
        if args.language_temperature is not None:
            rows["language_temperature"] = args.language_temperature
    return rows


def _plain(value) -> Any:
    return getattr(value, "value", value)


def _format(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value)
    return str(value)


def training_command(argv: Optional[Sequence[str]] = None) -> str:
    """The command line that started this process (`python <script> <args>`), shell-quoted, tokens redacted."""
    argv = list(sys.argv if argv is None else argv)
    redacted, hide_next = [], False
    for arg in argv:
        if hide_next:
            redacted.append("<redacted>")
            hide_next = False
        elif arg in _SECRET_FLAGS:
            redacted.append(arg)
            hide_next = True
        elif arg.split("=", 1)[0] in _SECRET_FLAGS and "=" in arg:
            redacted.append(arg.split("=", 1)[0] + "=<redacted>")
        else:
            redacted.append(arg)
    return shlex.join(["python", *redacted])


def labels_from_config(config) -> Optional[list[str]]:
    """The label names of a model config's `id2label`, in id order; None when it has none."""
    id2label = getattr(config, "id2label", None)
    if not id2label:
        return None
    return [id2label[key] for key in sorted(id2label, key=int)]


def eval_results(info: ModelCardInfo) -> list[EvalResult]:
    """One model-index entry per (language, metric) of `info.results`, on the language's test split; none for a
    language whose config is None (its test set is not on the Hub)."""
    task = CARD_TASKS[info.task]
    dataset = info.eval_dataset or (info.datasets[0] if info.datasets else None)
    out = []
    for lang, metrics in info.results.items():
        if lang in info.dataset_configs and info.dataset_configs[lang] is None:
            continue
        for metric, value in metrics.items():
            out.append(
                EvalResult(
                    task_type=task.pipeline_tag,
                    task_name=task.name,
                    dataset_type=dataset,
                    dataset_name=f"{dataset} ({lang})",
                    dataset_config=info.dataset_configs.get(lang, lang),
                    dataset_split="test",
                    metric_type=metric,
                    metric_name=f"{METRIC_NAMES.get(metric, metric)} ({lang})",
                    metric_value=float(value),
                )
            )
    return out


def build_model_card(info: ModelCardInfo, training_args=None, template: Optional[str] = None) -> ModelCard:
    """Render `info` (and the run's `training_args`) into a `huggingface_hub.ModelCard`.

    Args:
        info: what to say about the model.
        training_args: the run's `TrainingArguments`/`MixTrainingArguments`; their learning rate, schedule, batch
            size x accumulation x processes, precision and surgery settings go into the training-setup table.
        template: a Jinja card template path; default: the packaged `model_card_template.md`.
    """
    # Fields may have been assigned after construction (results after the test evaluation): validate them again.
    info = dataclasses.replace(info)
    task = CARD_TASKS[info.task]
    model_name = info.card_model_name
    zero_shot = info.method == "zero-shot" or info.k_shot == 0
    tags = ["hf-mixtrain", "cross-lingual", "zero-shot" if zero_shot else "few-shot", info.method]
    if info.method == "gradient-mix":
        tags.append("gradient-surgery")
    tags += [tag for tag in info.tags if tag not in tags]
    base_is_hub_id = (
        bool(_HUB_ID.fullmatch(info.base_model))
        and not info.base_model.startswith((".", "/"))
        and not os.path.exists(info.base_model)
    )
    if not base_is_hub_id:
        logger.info("base_model %r is not a Hub id; it is named in the card text but left out of the metadata.", info.base_model)
    results = eval_results(info) if (info.eval_dataset or info.datasets) else []
    card_data = ModelCardData(
        language=list(info.languages),
        license=info.license,
        library_name="transformers",
        base_model=info.base_model if base_is_hub_id else None,
        datasets=list(info.datasets) or None,
        tags=tags,
        pipeline_tag=task.pipeline_tag,
        metrics=info.metrics or None,
        model_name=model_name,
        eval_results=results or None,
    )

    setup = [
        ("Base model", info.base_model),
        ("Method", info.method),
        ("Source language", info.source_language),
        ("Target languages", f"{len(info.target_languages)}: {', '.join(info.target_languages)}" if info.target_languages else "none"),
    ]
    if info.k_shot is not None:
        setup.append(("K (shots per target language)", info.k_shot))
    if info.seeds:
        setup.append(("Seeds", info.seeds))
    hyperparameters = training_hyperparameters(training_args) if training_args is not None else {}
    if isinstance(training_args, MixTrainingArguments) and training_args.gradient_surgery != (info.method == "gradient-mix"):
        logger.warning(
            "The card's method is %r but the training arguments have gradient_surgery=%s; the card describes %r.",
            info.method, training_args.gradient_surgery, info.method,
        )
    hyperparameters.update(info.hyperparameters)
    setup += [(f"`{name}`", value) for name, value in hyperparameters.items()]

    metrics = info.metrics
    rows = []
    if info.results:
        evaluated_only = [lang for lang in info.results if lang not in info.languages]
        for lang in list(info.languages) + evaluated_only:
            scores = info.results.get(lang, {})
            if lang == info.source_language:
                role = "source"
            elif lang in info.languages:
                role = "target (zero-shot)" if zero_shot else "target"
            else:
                role = "evaluated only (zero-shot)"
            rows.append({"name": f"`{lang}`", "role": role, "cells": [f"{scores[m]:.2f}" if m in scores else "-" for m in metrics]})
        average = info.average
        if average:
            cells = [f"**{average[m]:.2f}**" if m in average else "" for m in metrics]
            rows.append({"name": "**Average (targets)**", "role": "", "cells": cells})

    surgery = info.method == "gradient-mix"
    oracle_include_source = (
        training_args.oracle_include_source if isinstance(training_args, MixTrainingArguments) else True
    )
    model_id = info.model_id or model_name
    return ModelCard.from_template(
        card_data,
        template_path=template or template_path(),
        model_name=model_name,
        base_model=info.base_model,
        base_model_note=info.base_model_note,
        base_model_url=f"https://huggingface.co/{info.base_model}" if base_is_hub_id else None,
        task_name=task.name,
        pipeline_tag=task.pipeline_tag,
        method=info.method,
        method_description=METHOD_DESCRIPTIONS[info.method],
        surgery=surgery,
        oracle_include_source=oracle_include_source,
        surgery_prob=training_args.surgery_prob if isinstance(training_args, MixTrainingArguments) else None,
        source_language=info.source_language,
        languages=list(info.languages),
        k_shot=info.k_shot,
        seeds=info.seeds,
        datasets=list(info.datasets),
        labels=info.labels if task.labelled else None,
        setup_rows=[(name, _format(value)) for name, value in setup],
        metric_names=[METRIC_NAMES.get(m, m) for m in metrics],
        results_rows=rows,
        command=info.command,
        usage=USAGE[info.task].replace("MODEL_ID", _py_string(model_id)),
    )


def _py_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

