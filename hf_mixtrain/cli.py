"""What the task scripts share: argument parsing in the transformers-examples style, and logging."""

import argparse
import json
import logging
import sys

import datasets
import transformers
from transformers import HfArgumentParser

from .arguments import DataArguments, MixTrainingArguments, ModelArguments
from .presets import PAPER_SETTINGS, benchmark_settings


def parse_script_args(task: str, argv=None, presets=None):
    """Parse `(ModelArguments, DataArguments, MixTrainingArguments)` for a task script.

    Accepts command-line options or a single `.json` config file, like the transformers examples. Values are
    layered: dataclass defaults < the paper's settings for `task` < the `--benchmark` preset < what the user
    gave. The output directory defaults to `outputs/<task>-<method>-k<K>-seed<seed>`.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = HfArgumentParser((ModelArguments, DataArguments, MixTrainingArguments))
    if len(argv) == 1 and argv[0].endswith(".json"):
        with open(argv[0]) as f:
            given = json.load(f)
    else:
        # Suppressed defaults leave exactly the options the user wrote in the namespace.
        for action in parser._actions:
            if action.dest != "help":
                action.default = argparse.SUPPRESS
        given = vars(parser.parse_args(argv))
        parser = HfArgumentParser((ModelArguments, DataArguments, MixTrainingArguments))
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


def end_distributed() -> None:
    """Wait for every process, then tear the process group down.

    A gloo or NCCL group left to interpreter exit can abort one rank ("terminate called without an active
    exception") after the results are written, which turns a finished run into a failed launch.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
