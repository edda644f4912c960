"""The task scripts' command line: arguments in the transformers-examples style, logging, and clean errors.

`train(task, argv)` is `hf-mixtrain train <task>` and every `run_scripts/run_<task>.py`: one function, so the
shims and the entry point give the same results for the same arguments. It raises; `exit_on_error` turns what it
raises into what a command line prints: bad arguments, found before anything is loaded, as `<prog>: error: ...`
with exit status 2; a project error found later (a bad file, too few shots, a failed download) as one `error:`
line with exit status 1; anything unexpected keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Optional

import datasets
import transformers
from transformers import HfArgumentParser, set_seed

from .arguments import DataArguments, MethodArguments, MixTrainingArguments, ModelArguments
from .data import PAPER_LANGUAGES
from .data.assembly import DEFAULT_UNIT, VALID_UNITS, method_conflict
from .data.errors import DataError
from .data.loading import check_languages
from .presets import PAPER_SETTINGS, benchmark_settings

logger = logging.getLogger(__name__)

SCRIPT_DATACLASSES = (ModelArguments, DataArguments, MethodArguments, MixTrainingArguments)


class UsageError(ValueError):
    """Arguments that cannot work, found from the arguments alone: the message names the flag and the fix."""


def check_arguments(task: str, values: dict) -> None:
    """Refuse arguments that cannot work, before any model or data is loaded (`values`: flag -> value, layered).

    Language codes are checked where they are read (the data layer knows the Hub's and the local folders'
    languages); what is decided here for them is logged: duplicates dropped, the source left out of the targets.
    """
    import os

    method = values.get("method", "gradient-mix")
    k = values.get("k_shot", 10)
    if k < 0 or (k == 0 and method != "zero-shot"):
        raise UsageError(f"--k_shot {k}: K is the number of shots per target language and must be >= 1 "
                         "(0 only with --method zero-shot).")
    unit = values.get("shot_unit")
    valid_units = VALID_UNITS[task] + (("windows",) if task == "qa" else ())
    if unit is not None and unit not in valid_units:
        raise UsageError(f"--shot_unit {unit}: not a shot unit of {task}; choose one of {', '.join(valid_units)} "
                         f"(default {DEFAULT_UNIT[task]}).")
    if "gradient_surgery" in values and values["gradient_surgery"] != (method == "gradient-mix"):
        raise UsageError(f"--gradient_surgery {values['gradient_surgery']} contradicts --method {method}: only "
                         "gradient-mix does surgery. Leave --gradient_surgery out; --method sets it.")
    conflict = method_conflict(method, values.get("selection"), bool(values.get("push_to_hub")))
    if conflict:
        raise UsageError(conflict)
    output_dir = values.get("output_dir")
    if output_dir and os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise UsageError(f"--output_dir {output_dir} is a file; give a folder (it is created if missing).")
    if values.get("target_languages"):
        codes = [c for c in str(values["target_languages"]).replace(" ", ",").split(",") if c]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            logger.warning("--target_languages names %s more than once: each language is used once.", ", ".join(repeated))
        source = values.get("source_language", "en")
        if source in codes:
            logger.warning("--target_languages includes the source language %r: it is trained on its full train set "
                           "and reported as the source, not as a target.", source)


def parse_script_args(task: str, argv=None, presets=None):
    """Parse `(ModelArguments, DataArguments, MethodArguments, MixTrainingArguments)` for a task script.

    Accepts command-line options or a single `.json` config file, like the transformers examples. Values are
    layered: dataclass defaults < the paper's settings for `task` < the `--benchmark` preset < what the user
    gave. The output directory defaults to `outputs/<task>-<method>-k<K>-seed<seed>`.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = HfArgumentParser(SCRIPT_DATACLASSES)
    if len(argv) == 1 and argv[0].endswith(".json"):
        with open(argv[0]) as f:
            given = json.load(f)
    else:
        # Suppressed defaults leave exactly the options the user wrote in the namespace.
        for action in parser._actions:
            if action.dest != "help":
                action.default = argparse.SUPPRESS
        given = vars(parser.parse_args(argv))
        parser = HfArgumentParser(SCRIPT_DATACLASSES)
    check_arguments(task, {**PAPER_SETTINGS[task], **given})
    values = dict(PAPER_SETTINGS[task])
    benchmark = given.get("benchmark")
    if benchmark:
        if presets is None:
            presets = benchmark_settings
        try:
            values.update(presets(benchmark, task))
        except ValueError as err:  # an unknown benchmark, or one of another task
            raise UsageError(f"--benchmark {benchmark}: {err}") from None
    values.update(given)
    values.setdefault(
        "output_dir",
        f"outputs/{task}-{values.get('method', 'gradient-mix')}-k{values.get('k_shot', 10)}-seed{values.get('seed', 42)}",
    )
    # The trainer's switch follows the paper's method: only gradient-mix does surgery.
    values.setdefault("gradient_surgery", values.get("method", "gradient-mix") == "gradient-mix")
    parsed = parser.parse_dict(values)
    _check_language_codes(task, parsed[1], parsed[3].source_language)
    return parsed


def _check_language_codes(task: str, data_args: DataArguments, source: str) -> None:
    """Every language must have a folder under --data_dir or be one the Hub has: found here, before any download."""
    targets = data_args.targets or [lang for lang in PAPER_LANGUAGES[task] if lang != source]
    try:
        check_languages(task, [source] + targets, data_dir=data_args.data_dir, hub_dataset=data_args.hub_dataset)
    except DataError as err:
        flag = "--target_languages" if data_args.targets else "the default target languages (give --target_languages)"
        raise UsageError(f"{flag}: {err}") from None


def setup_logging(args: MixTrainingArguments) -> None:
    """Log like the transformers examples: INFO on the main process, warnings elsewhere."""
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%m/%d/%Y %H:%M:%S", handlers=[logging.StreamHandler(sys.stdout)]
    )
    level = args.get_process_log_level()
    for name in ("hf_mixtrain", "__main__"):
        logging.getLogger(name).setLevel(level)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)
    transformers.utils.logging.enable_default_handler()
    transformers.utils.logging.enable_explicit_format()


def train(task: str, argv: Optional[list] = None, prog: Optional[str] = None) -> dict:
    """Run one task script: parse, train the method's stages, evaluate every language, write the results.

    `prog` names the command in the recorded command line (default: `hf-mixtrain train <task>`).
    """
    from .modelcard import training_command
    from .recipes import run_method

    argv = sys.argv[1:] if argv is None else list(argv)
    model_args, data_args, method_args, training_args = parse_script_args(task, argv)
    setup_logging(training_args)
    logger.warning(
        f"Process rank: {training_args.process_index}, device: {training_args.device}, n_gpu: {training_args.n_gpu}, "
        f"distributed: {training_args.parallel_mode.value == 'distributed'}, fp16: {training_args.fp16}, bf16: {training_args.bf16}"
    )
    logger.info(f"Method {method_args.method}, K={data_args.k_shot}, source {training_args.source_language}")
    set_seed(training_args.seed)
    command = training_command([*(prog or f"-m hf_mixtrain train {task}").split(), *argv])
    results = run_method(task, model_args, data_args, method_args, training_args, command=command)
    end_distributed()
    return results


def exit_on_error(run, prog: str) -> int:
    """Call `run()`; return the exit status a command line gives, printing a project error as one line."""
    from .offline.assets import AssetError

    try:
        run()
    except UsageError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except (DataError, AssetError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 1
    return 0


# How long end_distributed leaves gloo's worker threads to retire their last work (see there).
GLOO_RETIRE_S = 0.2


def end_distributed() -> None:
    """Wait for every process, then tear the process group down.

    A gloo or NCCL group left to interpreter exit can abort one rank ("terminate called without an active
    exception") after the results are written, which turns a finished run into a failed launch.
    """
    import time

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        # gloo retires a finished collective on its worker thread, which takes the GIL to free the tensors the work
        # held. The group's destructor (run when the last holder, the DDP reducer, goes) joins those threads while
        # holding the GIL: a rank that gets there before its worker thread has run deadlocks (py-spy: main thread in
        # ~ProcessGroupGloo -> thread::join, worker in ~AsyncBarrierWork waiting for the GIL; 2 launches in 91 of a
        # 2-process run on a loaded 2-core machine). Sleeping gives up the GIL and the core so the threads finish.
        time.sleep(GLOO_RETIRE_S)
        dist.destroy_process_group()
