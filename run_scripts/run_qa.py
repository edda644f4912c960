#!/usr/bin/env python
"""Few-shot cross-lingual extractive question answering (TyDiQA-GoldP; the paper's 9 languages).

One flag switches between the paper's six methods (zero-shot, ord-fs-dev, ord-fs, mix-ft, naive-mix,
gradient-mix); the defaults are the authors' settings for this task. Examples:

    python run_scripts/run_qa.py --method gradient-mix --k_shot 10
    python run_scripts/run_qa.py --method naive-mix --k_shot 5 --shot_unit windows
    python run_scripts/run_qa.py config.json     # every argument in one JSON file

The same as `hf-mixtrain train qa ...` (or `python -m hf_mixtrain train qa ...`). Run with --help for all
arguments (model, data and languages, shots, and the transformers TrainingArguments).
"""

import sys

from hf_mixtrain.cli import exit_on_error, train

PROG = "run_scripts/run_qa.py"


def main(argv=None):
    return train("qa", argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(exit_on_error(lambda: main(sys.argv[1:]), PROG))
