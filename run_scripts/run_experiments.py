#!/usr/bin/env python
"""A sweep over methods x K x seeds: the same as `hf-mixtrain sweep ...` (or `python -m hf_mixtrain sweep ...`).

    python run_scripts/run_experiments.py --task pos --sweep_dir sweeps/pos \\
        --methods zero-shot,ord-fs,naive-mix,gradient-mix --k_shots 1,5,10 --seeds 1,2,3 \\
        --max_train_samples 2000 --num_train_epochs 5 --freeze_embeddings true
    hf-mixtrain report --sweep_dir sweeps/pos

Run with --help for the sweep's arguments; see hf_mixtrain.sweep for how runs are laid out and resumed.
"""

import sys

from hf_mixtrain.__main__ import benchmark_task, sweep  # noqa: F401 (benchmark_task: the shim's API as before)
from hf_mixtrain.cli import exit_on_error

PROG = "run_scripts/run_experiments.py"


def main(argv=None):
    return sweep(sys.argv[1:] if argv is None else list(argv), prog=PROG)


if __name__ == "__main__":
    sys.exit(exit_on_error(main, PROG))
