"""`python -m hf_mixtrain.analysis {report,compare,dynamics,similarity} ...`

    report      the paper's tables, top gains, plots and conflict dynamics of a sweep, into <sweep_dir>/report/
    compare     variants side by side (methods, or sweeps of one method with other settings), paired by seed with a
                baseline, per language group, with surgeries and run time
    dynamics    conflict tables and plots from one or more surgery_history.jsonl files (or gradient-mix run folders)
    similarity  the per-language gradient cosine matrix at a checkpoint (and a second one to compare), heatmap + CSV;
                every option it does not know is a task-script option (data, K, seed, max_seq_length, ...)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..data.languages import TASKS
from .compare import check_labels, parse_group, parse_row


def _report(args) -> None:
    from .report import write_report

    languages = [l for l in args.languages.split(",") if l] if args.languages else None
    paths = write_report(args.sweep_dir, args.output_dir, languages=languages, top=args.top, plots=not args.no_plots,
                         dynamics=not args.no_dynamics)
    with open(paths["report.md"], encoding="utf-8") as f:
        print(f.read())
    print(f"Wrote {len(paths)} files into {os.path.dirname(paths['report.md'])}")


def _compare(args) -> None:
    from .compare import load_rows, write_compare

    rows = load_rows(args.row, k=args.k)
    languages = [lang for lang in args.languages.split(",") if lang] if args.languages else None
    paths = write_compare(rows, args.output_dir, groups=dict(args.groups or []), baseline=args.baseline,
                          languages=languages)
    with open(paths["compare.md"], encoding="utf-8") as f:
        print(f.read())
    print(f"Wrote {', '.join(sorted(paths))} into {args.output_dir}")


def _dynamics(args) -> None:
    from ..history import read_history
    from .dynamics import LANG_COLUMNS, _markdown_rows, language_conflicts, write_dynamics

    runs = {path: read_history(path, missing_ok=False) for path in args.history}
    paths = write_dynamics(runs, args.output_dir, prefix=args.prefix, plots=not args.no_plots, window=args.window)
    pooled = [e for events in runs.values() for e in events]
    print("\n".join(_markdown_rows(language_conflicts(pooled), LANG_COLUMNS)))
    print(f"Wrote {', '.join(sorted(paths))} into {args.output_dir}")


def _similarity_labels(args) -> tuple[list, list]:
    """The checkpoints and one panel label each; a --labels of another length is refused."""
    checkpoints = [args.model_name_or_path] + ([args.compare_model_name_or_path] if args.compare_model_name_or_path else [])
    labels = [l for l in (args.labels or "").split(",") if l] or (
        ["before (naive-mix)", "after (gradient-mix)"] if len(checkpoints) == 2 else [os.path.basename(checkpoints[0].rstrip("/"))]
    )
    if len(labels) != len(checkpoints):
        raise ValueError(f"--labels names {len(labels)} matrices but {len(checkpoints)} checkpoint(s) were given.")
    return checkpoints, labels


def _similarity(args, script_argv: list) -> None:
    from ..cli import UsageError, parse_script_args
    from .similarity import check_groups, checkpoint_similarity, write_similarity

    checkpoints, labels = _similarity_labels(args)
    groups = dict(args.groups or [])
    results = {}
    for label, checkpoint in zip(labels, checkpoints):
        model_args, data_args, _, training_args = parse_script_args(args.task, script_argv + ["--model_name_or_path", checkpoint])
        if groups and data_args.targets:  # the matrix's languages are known from the arguments: check before the work
            try:
                check_groups(groups, ([] if args.no_source else [training_args.source_language]) + data_args.targets)
            except ValueError as err:
                raise UsageError(f"--groups: {err}") from None
        results[label] = checkpoint_similarity(
            args.task, model_args, data_args, training_args, source_rows=args.source_rows,
            include_source=not args.no_source, batch_size=args.similarity_batch_size, work_dir=args.work_dir,
        )
    paths = write_similarity(results, args.output_dir, order=args.order, plots=not args.no_plots, groups=groups)
    for label, result in results.items():
        s = result.summary(groups)
        print(f"{label}: {s['negative_pairs']} of {s['pairs']} language pairs conflict; mean off-diagonal cosine "
              f"{s['mean_off_diagonal']:.3f}" if s["pairs"] else f"{label}: a single language")
        for name, value in s.get("group_means", {}).items():
            print(f"  mean cosine {name}: " + ("no pair" if value is None else f"{value:.3f}"))
    print(f"Wrote {', '.join(sorted(paths))} into {args.output_dir}")


def _checked(parse):
    """An argparse `type` from a parser that raises ValueError, so a malformed value exits 2 with its message."""

    def convert(text):
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def parser(prog: str = "python -m hf_mixtrain.analysis") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("report", help="tables, gains, plots and conflict dynamics of a sweep", allow_abbrev=False)
    r.add_argument("--sweep_dir", required=True)
    r.add_argument("--output_dir", help="default: <sweep_dir>/report")
    r.add_argument("--languages", help="comma-separated target languages to average over (default: the runs' targets)")
    r.add_argument("--top", type=int, default=5, help="languages in the top-gains lists (default 5)")
    r.add_argument("--no_plots", action="store_true", help="tables only (no matplotlib needed)")
    r.add_argument("--no_dynamics", action="store_true", help="leave out the gradient-conflict section")

    c = sub.add_parser("compare", help="variants side by side, paired by seed with a baseline", allow_abbrev=False,
                       description="Variants side by side, paired by seed. Example: --row naive-mix=sweeps/a:naive-mix "
                       "--row per-step=sweeps/b:gradient-mix --groups distant=he,th,zh,id --output_dir results/x")
    c.add_argument("--row", action="append", required=True, type=_checked(parse_row), metavar="LABEL=SWEEP_DIR[:METHOD]",
                   help="one variant: a label, a sweep folder and the method in it (optional when it holds one); repeat")
    c.add_argument("--baseline", help="the label the others are paired with (default: the first row)")
    c.add_argument("--k", type=int, help="the K to compare (default: the one K each row's runs share)")
    c.add_argument("--languages", help="comma-separated target languages to average over (default: the runs' targets)")
    c.add_argument("--groups", action="append", type=_checked(parse_group), metavar="NAME=LANG,LANG,...",
                   help="a group of target languages to average over besides all targets; repeat")
    c.add_argument("--output_dir", required=True, help="where compare.md, compare.csv and compare_runs.csv go")

    d = sub.add_parser("dynamics", help="conflict tables and plots from surgery histories", allow_abbrev=False)
    d.add_argument("--history", nargs="+", required=True, help="surgery_history.jsonl files or gradient-mix run folders")
    d.add_argument("--output_dir", required=True)
    d.add_argument("--prefix", default="dynamics", help="file name prefix (default: dynamics)")
    d.add_argument("--window", type=int, help="rolling window in surgeries (default: a tenth of the run, at most 50)")
    d.add_argument("--no_plots", action="store_true")

    s = sub.add_parser("similarity", help="gradient cosine matrix and heatmap at a checkpoint", allow_abbrev=False)
    s.add_argument("--task", required=True, choices=list(TASKS))
    s.add_argument("--model_name_or_path", required=True, help="the checkpoint (e.g. a run folder of the sweep)")
    s.add_argument("--compare_model_name_or_path",
                   help="a second checkpoint on the same pools, e.g. naive-mix (before) vs gradient-mix (after)")
    s.add_argument("--labels", help="comma-separated panel labels, one per checkpoint")
    s.add_argument("--output_dir", required=True, help="where similarity*.csv, similarity_summary.json and the PNG go")
    s.add_argument("--source_rows", type=int, help="rows of the source pool (default: the largest target pool)")
    s.add_argument("--no_source", action="store_true", help="target languages only")
    s.add_argument("--similarity_batch_size", type=int, default=32, help="rows per forward/backward pass (default 32)")
    s.add_argument("--order", choices=["given", "clustered"], default="given", help="language order on the axes")
    s.add_argument("--groups", action="append", type=_checked(parse_group), metavar="NAME=LANG,LANG,...",
                   help="a group of languages whose mean cosine, within it and with each other group, goes into "
                        "the summary; repeat")
    s.add_argument("--work_dir", help="where the per-language gradients are stored meanwhile (default: system temp)")
    s.add_argument("--no_plots", action="store_true")
    return p


def main(argv=None, prog: str = "python -m hf_mixtrain.analysis") -> int:
    """Run one analysis command; bad arguments exit 2, unusable runs or files print `error: ...` and return 1."""
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(format="%(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    p = parser(prog)
    args, rest = p.parse_known_args(argv)
    if rest and args.command != "similarity":
        p.error(f"unknown arguments for {args.command}: {' '.join(rest)}")
    try:  # what the arguments alone show is wrong exits 2, before any run is read
        if args.command == "compare":
            check_labels(args.row, args.groups or [], args.baseline)
        elif args.command == "similarity":
            _similarity_labels(args)
            check_labels([], args.groups or [], None)
    except ValueError as err:
        p.error(str(err))
    try:
        if args.command == "similarity":
            _similarity(args, rest)
        else:
            {"report": _report, "compare": _compare, "dynamics": _dynamics}[args.command](args)
    except (ValueError, OSError, ImportError) as err:  # unusable runs or files, an unwritable output, no matplotlib
        print(f"{prog} {args.command}: error: {err}", file=sys.stderr)
        from ..cli import UsageError  # a task-script option of `similarity` that cannot work: a usage error

        return 2 if isinstance(err, UsageError) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
