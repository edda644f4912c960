"""Variants side by side, paired by seed: the table a user picks a method or a surgery schedule from.

Each row is one method of one sweep (`LABEL=SWEEP_DIR:METHOD`), at one K. Variants of the trainer (surgery
schedule, source, scope) are separate sweeps over the same seeds, so a row names its sweep folder.

Statistics, per row and per language group (the targets, plus any `--groups`):
- a run's group score is the mean of its headline metric over the group's languages; the row gives the mean and
  the sample sd (ddof = 1) of that score across its seeds, with n;
- paired: for every seed both the row and the baseline row ran, the row's group score minus the baseline's. Runs
  with the same seed share their shots and initialisation, and one-step runs on the same batches share their data
  order (gradient-mix with the oracle pool differs from naive-mix only by its projections, since the oracle passes
  draw from a forked random stream; batch-split trains on language batches, another order), so the paired sd is
  the noise a difference must beat. `ahead` counts the seeds where the row is above the baseline;
- cost: `train_runtime` from each run's `all_results.json`, the Trainer's wall clock for `train()` with the
  evaluations during training. That is the whole training for the one-step methods (naive-mix, gradient-mix); for
  mix-ft the adaptation only (the source stage is cached), for ord-fs the last target's adaptation. Its ratio to
  the baseline run of the same seed compares like with like only when the runs shared a machine and its load, as
  in one sweep or sweeps run side by side;
- surgery: per gradient-mix run, the surgeries in its `surgery_history.jsonl` and how many projected (mean per run;
  "—" for other methods, or where a history is missing, which is logged).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

from ..files import write_csv, write_text
from ..history import SURGERY_HISTORY_NAME, read_history
from .report import check_runs, format_sd, markdown_table, mean_sd, mean_sd_cell
from .store import RunRecord, collect_results

logger = logging.getLogger(__name__)


@dataclass
class Row:
    """One variant: the finished runs of `method` at K `k` in `sweep_dir`, by seed."""

    label: str
    sweep_dir: str
    method: str
    k: int
    runs: dict = field(default_factory=dict)  # seed -> RunRecord


def parse_row(text: str) -> tuple[str, str, Optional[str]]:
    """`LABEL=SWEEP_DIR[:METHOD]` -> (label, sweep_dir, method or None)."""
    label, sep, rest = text.partition("=")
    if not sep or not label or not rest:
        raise ValueError(f"{text!r}: write LABEL=SWEEP_DIR[:METHOD], e.g. gradient-mix=sweeps/pos:gradient-mix.")
    sweep_dir, _, method = rest.rpartition(":") if ":" in rest else (rest, "", "")
    return label, sweep_dir, method or None


def parse_group(text: str) -> tuple[str, list]:
    """`NAME=lang,lang,...` -> (name, languages)."""
    name, sep, langs = text.partition("=")
    languages = [lang for lang in langs.split(",") if lang]
    if not sep or not name or not languages:
        raise ValueError(f"{text!r}: write NAME=lang,lang,..., e.g. distant=he,th,zh,id.")
    if name == "all":
        raise ValueError(f"{text!r}: 'all' is the group of every target; give this group another name.")
    repeated = sorted({lang for lang in languages if languages.count(lang) > 1})
    if repeated:
        raise ValueError(f"{text!r} names {', '.join(repeated)} more than once; name each language once.")
    return name, languages


def check_labels(specs: list, groups: list, baseline: Optional[str]) -> None:
    """Refuse a repeated row label or group name, and a baseline that is not a row label (before reading runs)."""
    for kind, names in (("row label", [label for label, _, _ in specs]), ("group name", [name for name, _ in groups])):
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{kind} {', '.join(repeated)} given twice: give each its own.")
    labels = [label for label, _, _ in specs]
    if baseline is not None and baseline not in labels:
        raise ValueError(f"--baseline {baseline!r} is not a row label ({', '.join(labels)}).")


def load_rows(specs: list, k: Optional[int] = None) -> list[Row]:
    """The runs of each `(label, sweep_dir, method)`, at K `k` (default: the K the runs share)."""
    check_labels(specs, [], None)
    rows, cache = [], {}
    for label, sweep_dir, method in specs:
        if sweep_dir not in cache:
            cache[sweep_dir] = collect_results(sweep_dir, write=False)
        records = cache[sweep_dir]
        methods = sorted({r.method for r in records})
        if method is None:
            trained = [m for m in methods if m != "zero-shot"]  # zero-shot rides along in most sweeps
            if len(trained) != 1:
                raise ValueError(f"{sweep_dir} holds the methods {', '.join(methods) or 'none'}: name one, "
                                 f"--row {label}={sweep_dir}:METHOD.")
            method = trained[0]
        chosen = [r for r in records if r.method == method]
        if not chosen:
            raise ValueError(f"{sweep_dir} has no finished {method} run (it has {', '.join(methods) or 'none'}).")
        ks = sorted({r.k for r in chosen})
        row_k = 0 if method == "zero-shot" else k if k is not None else (ks[0] if len(ks) == 1 else None)
        if row_k is None:
            raise ValueError(f"{method} in {sweep_dir} ran at K = {', '.join(map(str, ks))}: choose one with --k.")
        runs = {r.seed: r for r in chosen if r.k == row_k}
        if not runs:
            raise ValueError(f"{method} in {sweep_dir} has no finished run at K={row_k} (it has K = {', '.join(map(str, ks))}).")
        rows.append(Row(label, sweep_dir, method, row_k, runs))
    return rows


def run_cost(record: RunRecord) -> dict:
    """A run's train_runtime and surgery counts; None where its files do not say (logged for a gradient-mix run)."""
    try:
        with open(os.path.join(record.run_dir, "all_results.json"), encoding="utf-8") as f:
            runtime = json.load(f).get("train_runtime")
    except (FileNotFoundError, json.JSONDecodeError):
        runtime = None
    if record.method != "gradient-mix":
        return dict(train_runtime=runtime, surgeries=None, projected=None)
    if not os.path.isfile(os.path.join(record.run_dir, SURGERY_HISTORY_NAME)):
        logger.warning("%s has no %s: its surgeries are not counted", record.run_dir, SURGERY_HISTORY_NAME)
        return dict(train_runtime=runtime, surgeries=None, projected=None)
    events = read_history(record.run_dir, missing_ok=False)
    return dict(train_runtime=runtime, surgeries=len(events), projected=sum(bool(e.get("projected")) for e in events))


def compare(rows: list[Row], groups: Optional[dict] = None, baseline: Optional[str] = None,
            languages: Optional[list] = None) -> dict:
    """The side-by-side tables: {"languages", "groups", "baseline", "rows": [...], "runs": [...]}.

    `languages` restricts the targets averaged over (default: the runs' targets, which must then agree).
    """
    records = [r for row in rows for r in row.runs.values()]
    languages = check_runs(records, languages)
    if "all" in (groups or {}):
        raise ValueError("'all' is the group of every target; give the group another name.")
    groups = {"all": languages, **(groups or {})}
    for name, langs in groups.items():
        unknown = [lang for lang in langs if lang not in languages]
        if unknown:
            raise ValueError(f"Group {name!r} names {', '.join(unknown)}, not among the targets ({', '.join(languages)}).")
    base = next((row for row in rows if row.label == (baseline or rows[0].label)), None)
    if base is None:
        raise ValueError(f"--baseline {baseline!r} is not a row label ({', '.join(row.label for row in rows)}).")
    costs = {(row.label, seed): run_cost(r) for row in rows for seed, r in row.runs.items()}
    table, runs = [], []
    for row in rows:
        paired_seeds = sorted(set(row.runs) & set(base.runs))
        row_costs = [costs[(row.label, s)] for s in sorted(row.runs)]
        ratios = [costs[(row.label, s)]["train_runtime"] / costs[(base.label, s)]["train_runtime"] for s in paired_seeds
                  if costs[(row.label, s)]["train_runtime"] and costs[(base.label, s)]["train_runtime"]]
        ratio, ratio_sd = mean_sd(ratios) if ratios else (None, None)
        cost = dict(runtime_mean=_mean(c["train_runtime"] for c in row_costs), runtime_ratio=ratio,
                    runtime_ratio_sd=ratio_sd, surgeries=_mean(c["surgeries"] for c in row_costs),
                    projected=_mean(c["projected"] for c in row_costs))
        for name, langs in groups.items():
            scores = {seed: r.average(langs) for seed, r in row.runs.items()}
            mean, sd = mean_sd(list(scores.values()))
            out = dict(label=row.label, method=row.method, k=row.k, group=name, n=len(scores), seeds=sorted(scores),
                       mean=mean, sd=sd, paired_n=0, paired_mean=None, paired_sd=None, ahead=None, **cost)
            if row is not base and paired_seeds:
                diffs = [scores[s] - base.runs[s].average(langs) for s in paired_seeds]
                out.update(paired_n=len(diffs), ahead=sum(d > 0 for d in diffs))
                out["paired_mean"], out["paired_sd"] = mean_sd(diffs)
            table.append(out)
        for seed, r in sorted(row.runs.items()):
            runs.append(dict(label=row.label, method=row.method, k=row.k, seed=seed, **costs[(row.label, seed)],
                             **{f"avg_{name}": r.average(langs) for name, langs in groups.items()},
                             **{lang: r.scores[lang] for lang in [r.source] + languages}, run_dir=r.run_dir))
    return dict(languages=languages, source=records[0].source, metric=records[0].metric, groups=groups,
                baseline=base.label, rows=table, runs=runs)


def _mean(values) -> Optional[float]:
    """The mean of the values that are known (None where none is)."""
    known = [v for v in values if v is not None]
    return mean_sd(known)[0] if known else None


def _num(value, digits=2, sign=False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def compare_markdown(result: dict) -> str:
    """Rows as rows; per group 'mean ± sd (n)' and 'paired vs baseline: mean ± sd, ahead a/n'; then cost."""
    groups = list(result["groups"])
    header = ["variant"] + [f"{g} ({','.join(result['groups'][g])})" if g != "all" else "all targets" for g in groups]
    header += [f"paired vs {result['baseline']}: {g}" for g in groups]
    header += ["surgeries / projected per run", "train_runtime (s)", f"time / {result['baseline']} (paired)"]
    rows, by_label = [], {}
    for out in result["rows"]:
        by_label.setdefault(out["label"], {})[out["group"]] = out
    for label, cells in by_label.items():
        first = cells[groups[0]]
        row = [f"{label} (K={first['k']})"]
        row += [mean_sd_cell(cells[g]["mean"], cells[g]["sd"], cells[g]["n"]) for g in groups]
        for g in groups:
            c = cells[g]
            row.append("—" if not c["paired_n"] else
                       f"{_num(c['paired_mean'], sign=True)}{format_sd(c['paired_sd'])}, ahead {c['ahead']}/{c['paired_n']}")
        row.append("—" if first["surgeries"] is None else f"{first['surgeries']:.1f} / {first['projected']:.1f}")
        row.append(_num(first["runtime_mean"], 0))
        ratio = first["runtime_ratio"]
        row.append("—" if ratio is None else f"{ratio:.2f}{format_sd(first['runtime_ratio_sd'])}")
        rows.append(row)
    return markdown_table(header, rows)


def language_table(result: dict) -> str:
    """Per-language mean across seeds, one column per row."""
    labels = list(dict.fromkeys(run["label"] for run in result["runs"]))
    langs = [result["source"]] + result["languages"]
    rows = []
    for lang in langs:
        cells = []
        for label in labels:
            values = [run[lang] for run in result["runs"] if run["label"] == label]
            cells.append(f"{sum(values) / len(values):.2f}")
        rows.append([f"{lang}{' (source)' if lang == result['source'] else ''}"] + cells)
    return markdown_table(["language"] + labels, rows)


def write_compare(rows: list[Row], output_dir: str, groups: Optional[dict] = None, baseline: Optional[str] = None,
                  languages: Optional[list] = None) -> dict:
    """compare.md, compare.csv (one line per row and group) and compare_runs.csv (one per run), atomically."""
    result = compare(rows, groups, baseline, languages)
    group_names = list(result["groups"])
    paths = {
        "compare.csv": write_csv(
            os.path.join(output_dir, "compare.csv"),
            [{**r, "seeds": " ".join(map(str, r["seeds"]))} for r in result["rows"]],
            ["label", "method", "k", "group", "n", "seeds", "mean", "sd", "paired_n", "paired_mean", "paired_sd", "ahead",
             "surgeries", "projected", "runtime_mean", "runtime_ratio", "runtime_ratio_sd"],
        ),
        "compare_runs.csv": write_csv(
            os.path.join(output_dir, "compare_runs.csv"), result["runs"],
            ["label", "method", "k", "seed", "train_runtime", "surgeries", "projected"]
            + [f"avg_{g}" for g in group_names] + [result["source"]] + result["languages"] + ["run_dir"],
        ),
    }
    sources = "; ".join(f"{row.label}: {row.sweep_dir} ({row.method})" for row in rows)
    text = [
        f"# Side by side: {result['metric']}, paired with {result['baseline']}",
        "",
        f"Cells: mean ± sample sd across seeds of the mean {result['metric']} over a group's target languages "
        f"(source {result['source']} excluded); paired: the same difference with the {result['baseline']} run of the "
        "same seed, mean ± sd over the seeds both ran, and in how many the row is ahead. Surgeries and projections "
        "are means per run; time is the Trainer's train_runtime, and its ratio to the baseline run of the same seed.",
        "",
        compare_markdown(result),
        "",
        "Per language, mean across seeds:",
        "",
        language_table(result),
        "",
        f"Runs: {sources}.",
    ]
    paths["compare.md"] = write_text(os.path.join(output_dir, "compare.md"), "\n".join(text) + "\n")
    return paths
