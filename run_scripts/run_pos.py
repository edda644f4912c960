#!/usr/bin/env python
"""Few-shot cross-lingual part-of-speech tagging (Universal Dependencies via XTREME udpos; the paper's 35 languages).

One flag switches between the paper's six methods (zero-shot, ord-fs-dev, ord-fs, mix-ft, naive-mix,
gradient-mix); the defaults are the authors' settings for this task. Examples:

    python run_scripts/run_pos.py --method gradient-mix --k_shot 10
    python run_scripts/run_pos.py --benchmark offline-pos --method gradient-mix --k_shot 10
    python run_scripts/run_pos.py config.json     # every argument in one JSON file

Run with --help for all arguments (model, data and languages, shots, and the transformers TrainingArguments).
"""

import logging
import sys

from transformers import set_seed

from hf_mixtrain.cli import end_distributed, parse_script_args, setup_logging
from hf_mixtrain.methods import run_method
from hf_mixtrain.modelcard import training_command

TASK = "pos"
logger = logging.getLogger(__name__)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    model_args, data_args, training_args = parse_script_args(TASK, argv)
    setup_logging(training_args)
    logger.warning(
        f"Process rank: {training_args.process_index}, device: {training_args.device}, n_gpu: {training_args.n_gpu}, "
        f"distributed: {training_args.parallel_mode.value == 'distributed'}, fp16: {training_args.fp16}, bf16: {training_args.bf16}"
    )
    logger.info(f"Method {training_args.method}, K={data_args.k_shot}, source {training_args.source_language}")
    set_seed(training_args.seed)
    # Load the languages, draw the K-shot sets, train the method's stages, evaluate every language's test split,
    # and write test_results.json / all_results.json (and push the model if --push_to_hub).
    command = training_command([f"run_scripts/run_{TASK}.py", *argv])
    results = run_method(TASK, model_args, data_args, training_args, command=command)
    end_distributed()
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
