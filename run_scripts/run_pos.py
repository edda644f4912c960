#!/usr/bin/env python
"""Few-shot cross-lingual part-of-speech tagging (Universal Dependencies via XTREME udpos; the paper's 35 languages).

One flag switches between the paper's six methods (zero-shot, ord-fs-dev, ord-fs, mix-ft, naive-mix,
gradient-mix); the defaults are the authors' settings for this task. Examples:

    python run_scripts/run_pos.py --method gradient-mix --k_shot 10
    python run_scripts/run_pos.py --benchmark offline-pos --method gradient-mix --k_shot 10
    python run_scripts/run_pos.py config.json     # every argument in one JSON file

The same as `hf-mixtrain train pos ...` (or `python -m hf_mixtrain train pos ...`). Run with --help for all
arguments (model, data and languages, shots, and the transformers TrainingArguments).
"""

import sys

from hf_mixtrain.cli import exit_on_error, train

PROG = "run_scripts/run_pos.py"


def main(argv=None):
    return train("pos", argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(exit_on_error(lambda: main(sys.argv[1:]), PROG))
