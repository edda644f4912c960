#!/usr/bin/env python
"""Few-shot cross-lingual named entity recognition (WikiANN / PAN-X; the paper's 48 languages).

One flag switches between the paper's six methods (zero-shot, ord-fs-dev, ord-fs, mix-ft, naive-mix,
gradient-mix); the defaults are the authors' settings for this task. Examples:

    python run_scripts/run_ner.py --method gradient-mix --k_shot 5
    python run_scripts/run_ner.py --method ord-fs --k_shot 10 --target_languages de,sw,yo --data_dir data/ner
    python run_scripts/run_ner.py config.json     # every argument in one JSON file

The same as `hf-mixtrain train ner ...` (or `python -m hf_mixtrain train ner ...`). Run with --help for all
arguments (model, data and languages, shots, and the transformers TrainingArguments).
"""

import sys

from hf_mixtrain.cli import exit_on_error, train

PROG = "run_scripts/run_ner.py"


def main(argv=None):
    return train("ner", argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(exit_on_error(lambda: main(sys.argv[1:]), PROG))
