"""The task scripts' command line: arguments in the transformers-examples style, logging, and clean errors.

`train(task, argv)` is `hf-mixtrain train <task>` and every `run_scripts/run_<task>.py`: one function, so the
shims and the entry point give the same results for the same arguments.
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
from .presets import PAPER_SETTINGS, benchmark_settings

logger = logging.getLogger(__name__)

SCRIPT_DATACLASSES = (ModelArguments, DataArguments, MethodArguments, MixTrainingArguments)


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
    values = dict(PAPER_SETTINGS[task])
    benchmark = given.get("benchmark")
    if benchmark:
        if presets is None:
            presets = benchmark_settings
        values.update(presets(benchmark, task))
    values.update(given)
    values.setdefault(
        "output_dir",
        f"outputs/{task}-{values.get('method', 'gradient-mix')}-k{values.get('k_shot', 10)}-seed{values.get('seed', 42)}",
    )
    return parser.parse_dict(values)


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


def end_distributed() -> None:
    """Wait for every process, then tear the process group down.

    A gloo or NCCL group left to interpreter exit can abort one rank ("terminate called without an active
    exception") after the results are written, which turns a finished run into a failed launch.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
