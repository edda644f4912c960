"""The paper's six methods as recipes: which stages train on which data, keeping which checkpoint.

| method       | stages                                                                 | evaluated with          |
|--------------|------------------------------------------------------------------------|-------------------------|
| zero-shot    | source train                                                           | the source model        |
| ord-fs-dev   | source train -> per target: adapt on its K shots, best on its dev set  | one model per target    |
| ord-fs       | source train -> per target: adapt on its K shots, last checkpoint      | one model per target    |
| mix-ft       | source train -> adapt ONE model on all targets' shots                  | the adapted model       |
| naive-mix    | one stage on source train + all shots                                  | the mixed model         |
| gradient-mix | naive-mix with stochastic gradient surgery (gradient_surgery=True)     | the mixed model         |

`run_method` prepares the data once (`experiment.prepare`), runs the method's recipe from `RECIPES`, and writes
the results. The source-trained model of zero-shot and the two-stage methods comes from `source_cache`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Callable, Optional

from datasets import concatenate_datasets

from .arguments import DataArguments, MethodArguments, MixTrainingArguments, ModelArguments
from .data.assembly import ONE_MODEL, method_conflict
from .environment import environment
from .experiment import Experiment, prepare
from .modelcard import ModelCardInfo, training_command
from .offline.build import model_origin
from .presets import default_selection
from .results import flatten, format_results, write_results
from .source_cache import source_model
from .stages import (
    TaskTrainer, adapt_args, evaluate_all, evaluation_trainer, load_model, oracle_settings, release, stage_args,
    stage_selection, train_stage,
)

logger = logging.getLogger(__name__)


@dataclass
class Run:
    """What every recipe reads: the prepared data, the arguments, the selection rule and the model card."""

    exp: Experiment
    model_args: ModelArguments
    data_args: DataArguments
    method_args: MethodArguments
    args: MixTrainingArguments
    selection: str
    card: ModelCardInfo

    @property
    def metric(self) -> str:
        return self.exp.task.metric_key

    def stage_selection(self, lang: Optional[str] = None) -> tuple:
        """(rule, examples, features) of this run's selection rule for a stage (of `lang`'s model for ord-fs)."""
        return stage_selection(self.exp, self.selection, self.method_args.method, lang)


# Each recipe trains its stages and returns the trainer holding the final model (None when there are several)
# and the scores `{lang: {metric: score}}`.
Recipe = Callable[[Run], "tuple[Optional[TaskTrainer], dict]"]


def one_step(run: Run):
    """naive-mix and gradient-mix: one stage on the source train set plus every target's shots."""
    exp, method = run.exp, run.method_args.method
    selection, examples, features = run.stage_selection()
    surgery = method == "gradient-mix"
    stage = stage_args(
        run.args, run.args.output_dir, selection, run.metric, gradient_surgery=surgery,
        **oracle_settings(exp.task.name, run.data_args.k_shot, run.args),
    )
    oracle = exp.oracle_pools if surgery and stage.surgery_source == "oracle_pool" else None
    trainer = train_stage(
        exp, load_model(exp, run.model_args), stage, exp.train, name=method, card=run.card, oracle=oracle,
        selection_examples=examples, selection_features=features,
    )
    return trainer, evaluate_all(exp, trainer, exp.mixed.languages)


def zero_shot(run: Run):
    """The source-trained model, evaluated on every language."""
    path = source_model(run.exp, run.model_args, run.data_args, run.method_args, run.args)
    trainer = evaluation_trainer(run.exp, load_model(run.exp, run.model_args, path), run.args)
    return trainer, evaluate_all(run.exp, trainer, run.exp.mixed.languages)


def mix_ft(run: Run):
    """The source-trained model, fine-tuned once on all targets' shots together."""
    exp = run.exp
    path = source_model(exp, run.model_args, run.data_args, run.method_args, run.args)
    shots = concatenate_datasets(list(exp.shots.values()))
    selection, examples, features = run.stage_selection()
    stage = adapt_args(run.args, run.method_args, run.args.output_dir, selection, run.metric, len(shots))
    trainer = train_stage(
        exp, load_model(exp, run.model_args, path), stage, shots, name="mix-ft: all targets", card=run.card,
        selection_examples=examples, selection_features=features,
    )
    return trainer, evaluate_all(exp, trainer, exp.mixed.languages)


def ord_fs(run: Run):
    """ord-fs and ord-fs-dev: the source-trained model fine-tuned on each target's shots, one model per target."""
    exp, method = run.exp, run.method_args.method
    path = source_model(exp, run.model_args, run.data_args, run.method_args, run.args)
    trainer = evaluation_trainer(exp, load_model(exp, run.model_args, path), run.args)
    scores = evaluate_all(exp, trainer, [exp.mixed.source])
    release(trainer)
    for i, lang in enumerate(exp.mixed.targets, 1):
        out = os.path.join(run.args.output_dir, "adapted", lang)
        selection, examples, features = run.stage_selection(lang)
        stage = adapt_args(run.args, run.method_args, out, selection, run.metric, len(exp.shots[lang]))
        trainer = train_stage(
            exp, load_model(exp, run.model_args, path), stage, exp.shots[lang],
            name=f"{method} {i}/{len(exp.mixed.targets)}: {lang}",
            selection_examples=examples, selection_features=features,
        )
        scores.update(evaluate_all(exp, trainer, [lang]))
        if run.method_args.save_adapted_models:
            trainer.save_model(out)
        elif trainer.is_world_process_zero():
            shutil.rmtree(out, ignore_errors=True)
        if i < len(exp.mixed.targets):
            release(trainer)
    return trainer, scores


RECIPES: dict[str, Recipe] = {
    "zero-shot": zero_shot,
    "ord-fs-dev": ord_fs,
    "ord-fs": ord_fs,
    "mix-ft": mix_ft,
    "naive-mix": one_step,
    "gradient-mix": one_step,
}


def run_method(
    task_name: str,
    model_args: ModelArguments,
    data_args: DataArguments,
    method_args: MethodArguments,
    args: MixTrainingArguments,
    command: Optional[str] = None,
) -> dict:
    """Run `method_args.method` end to end: train its stages, evaluate every language's test split, write results.

    Returns the flat results (`test_<lang>_<metric>`, `test_avg_<metric>`). `command` is the command line recorded in
    run.json and the model card (default: this process's argv). The arguments given are not changed.
    """
    command = command or training_command()
    method = method_args.method
    args = dataclasses.replace(args, gradient_surgery=method == "gradient-mix")  # a copy: only gradient-mix does surgery
    selection = method_args.selection or default_selection(task_name, method)
    conflict = method_conflict(method, selection, args.push_to_hub)
    if conflict:
        raise ValueError(conflict)
    ran_on = environment(args.world_size)  # before training: the checkout may change while a long run trains
    exp = prepare(task_name, method, model_args, data_args, args)
    model_args = dataclasses.replace(model_args, model_name_or_path=exp.model_name_or_path)  # a copy: see prepare
    card = card_info(exp, model_args, data_args, method_args, args, command, selection)
    os.makedirs(args.output_dir, exist_ok=True)
    trainer, scores = RECIPES[method](Run(exp, model_args, data_args, method_args, args, selection, card))
    results = flatten(scores, exp.mixed.targets)

    if method in ONE_MODEL:
        trainer.card_info = dataclasses.replace(card, results=scores, dataset_configs=hub_configs(exp, list(scores)))
    run = {
        "task": exp.task.name,
        "method": method,
        "source": exp.mixed.source,
        "targets": exp.mixed.targets,
        "k_shot": data_args.k_shot,
        "shot_unit": exp.mixed.unit,
        "seed": args.seed,
        "metric": exp.task.metric_key,
        "model": model_args.model_name_or_path,
        "benchmark": data_args.benchmark,
        "command": command,
        "average_excludes_source": True,
        "data_sources": exp.mixed.sources,
        "tokenizer_coverage": {lang: dataclasses.asdict(c) for lang, c in exp.coverage.items()},
        "environment": ran_on,
    }
    if trainer.is_world_process_zero():
        if method in ONE_MODEL:
            trainer.save_model(args.output_dir)
        write_results(args.output_dir, results, getattr(trainer, "train_metrics", {}) or {}, run)
        print(format_results(scores, exp.mixed.source, exp.mixed.targets, exp.task.metric_key))
    if args.push_to_hub:
        trainer.push_to_hub(commit_message=f"{method} {exp.task.name} k={data_args.k_shot} seed={args.seed}")
    return results


def card_info(exp: Experiment, model_args: ModelArguments, data_args: DataArguments, method_args: MethodArguments,
              args: MixTrainingArguments, command: str, selection: str) -> ModelCardInfo:
    """What the model card says about this run; its results are filled in after testing."""
    method = method_args.method
    trained_on = [exp.mixed.source] if method == "zero-shot" else exp.mixed.languages
    # The card lists the Hub datasets the languages came from.
    datasets = list(dict.fromkeys(src["dataset"] for src in exp.mixed.sources.values() if src.get("source") == "hub"))
    base_model, note = base_model_of(model_args.model_name_or_path)
    return ModelCardInfo(
        task=exp.task.name,
        base_model=base_model,
        base_model_note=note,
        languages=trained_on,
        source_language=exp.mixed.source,
        method=method,
        k_shot=None if method == "zero-shot" else data_args.k_shot,
        seeds=[args.seed],
        datasets=datasets,
        dataset_configs=hub_configs(exp, trained_on),
        command=command,
        hyperparameters={"max_seq_length": data_args.max_seq_length, "shot_unit": exp.mixed.unit, "selection": selection},
    )


def hub_configs(exp: Experiment, languages: list) -> dict:
    """Each language's Hub config, or None for a language read from local files (no model-index entry)."""
    sources = exp.mixed.sources
    return {lang: sources[lang]["config"] if sources.get(lang, {}).get("source") == "hub" else None for lang in languages}


def base_model_of(name_or_path: str) -> tuple[str, Optional[str]]:
    """How a card names the encoder a run started from: a Hub id as is; an offline-built encoder by the Hub model
    it derives from, and how; any other local checkpoint by its folder name, never the path on this machine."""
    origin = model_origin(name_or_path) if os.path.isdir(name_or_path) else None
    if origin:
        return origin
    if os.path.isdir(name_or_path):
        return os.path.basename(os.path.normpath(name_or_path)), "a local checkpoint"
    return name_or_path, None
