#!/usr/bin/env python
"""A sweep over methods x K x seeds: one run of the task script per folder, resumable, with a progress bar.

    python run_scripts/run_experiments.py --task pos --sweep_dir sweeps/pos \\
        --methods zero-shot,ord-fs,naive-mix,gradient-mix --k_shots 1,5,10 --seeds 1,2,3 \\
        --max_train_samples 2000 --num_train_epochs 5 --freeze_embeddings true
    python -m hf_mixtrain.analysis report --sweep_dir sweeps/pos

Every argument the sweep does not know goes to each run of `run_scripts/run_<task>.py` (model, data, languages,
training settings); the sweep sets --method, --k_shot, --seed and --output_dir itself. Runs live in
<sweep_dir>/<method>/k<K>/seed<seed>/ (zero-shot once per seed, as K=0); run the same command again to resume:
finished runs are skipped, an interrupted one is redone. See hf_mixtrain.sweep for the details.
"""

import argparse
import logging
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(ROOT, "hf_mixtrain")) and ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # run from a checkout without installing

from hf_mixtrain.arguments import METHODS  # noqa: E402
from hf_mixtrain.sweep import (  # noqa: E402
    check_script_args, check_settings, default_script, plan_runs, run_argv, run_sweep,
)

TASKS = ("ner", "pos", "qa", "xnli")
logger = logging.getLogger(__name__)


def _list(cast):
    def parse(text):
        return [cast(item) for item in text.replace(" ", ",").split(",") if item]

    return parse


def benchmark_task(name: str) -> str:
    """The task of a benchmark preset: from hf_mixtrain.offline's registry when present, else the name's suffix."""
    try:
        from hf_mixtrain.offline import BENCHMARKS

        if name in BENCHMARKS:
            return BENCHMARKS[name]["task"]
    except ImportError:
        pass
    suffix = name.rsplit("-", 1)[-1]
    if suffix in TASKS:
        return suffix
    raise ValueError(f"Cannot tell the task of benchmark {name!r}: pass --task ({', '.join(TASKS)}).")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    p.add_argument("--task", choices=TASKS, help="The task; may be left out with a --benchmark that implies it.")
    p.add_argument("--benchmark", help="A benchmark preset, passed to every run (e.g. offline-pos).")
    p.add_argument("--sweep_dir", required=True, help="The sweep's folder (runs, results.jsonl, report/).")
    p.add_argument("--methods", type=_list(str), default=list(METHODS), help=f"Comma-separated (default: {','.join(METHODS)}).")
    p.add_argument("--k_shots", type=_list(int), default=[1, 5, 10], help="Comma-separated K (default: 1,5,10).")
    p.add_argument("--seeds", type=_list(int), default=[1, 2, 3, 4, 5], help="Comma-separated seeds (default: 1,2,3,4,5, the paper's).")
    p.add_argument("--script", help="The script to run (default: run_scripts/run_<task>.py).")
    p.add_argument("--in_process", action="store_true", help="Run every run in this process (default: a fresh process per run).")
    p.add_argument("--keep_going", action="store_true", help="Go on after a failed run (default: stop).")
    p.add_argument("--launcher", help='Start each run with this command, e.g. "torchrun --nproc_per_node 2".')
    p.add_argument("--dry_run", action="store_true", help="Print the planned runs and their state; run nothing.")
    p.add_argument("--no_progress", action="store_true", help="No progress bar.")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args, script_args = parser().parse_known_args(argv)
    if script_args[:1] == ["--"]:
        script_args = script_args[1:]
    task = args.task or (benchmark_task(args.benchmark) if args.benchmark else None)
    if task is None:
        raise SystemExit("Give --task (ner, pos, qa, xnli) or a --benchmark.")
    check_script_args(script_args)
    if args.benchmark:
        script_args = ["--benchmark", args.benchmark] + script_args
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    if args.dry_run:
        from hf_mixtrain.analysis.store import is_complete

        # A dry run refuses what the sweep would refuse, so "to run" means it would run.
        check_settings(args.sweep_dir, task, args.script or default_script(task), script_args, write=False)
        for run in plan_runs(args.methods, args.k_shots, args.seeds):
            state = "finished" if is_complete(run.folder(args.sweep_dir), run.method, run.k, run.seed) else "to run"
            print(f"{run.name:<32} {state:<9} {' '.join(run_argv(run, args.sweep_dir, script_args))}")
        return None
    summary = run_sweep(
        task, args.sweep_dir, args.methods, args.k_shots, args.seeds, script_args,
        script=args.script, in_process=args.in_process, keep_going=args.keep_going, launcher=args.launcher,
        progress=not args.no_progress,
    )
    print(
        f"{len(summary.finished)} run(s) done now, {len(summary.skipped)} already finished, "
        f"{len(summary.busy)} in progress elsewhere, {len(summary.failed)} failed. "
        f"Report: python -m hf_mixtrain.analysis report --sweep_dir {args.sweep_dir}"
    )
    if summary.failed:
        sys.exit(1)
    return summary


if __name__ == "__main__":
    main()
