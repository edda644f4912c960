"""The paper's tables from a sweep's finished runs: averages per method and K, per-language scores, top gains.

Statistics, as in the paper: a run's score is the mean of its headline metric over the target languages (the
source language excluded); the table gives, per method and K, the mean and the SAMPLE standard deviation
(ddof = 1) of that score across seeds, with the number of seeds n (sd is undefined for n = 1 and left blank).
zero-shot is K = 0. Per-language tables give the mean (and sample sd) across seeds of each language's score.
The gain of a method over a baseline on a language is the mean, over the seeds both ran, of the per-seed
difference (paired by seed: the same shots and data order), which is the difference of their means over those
seeds; a seed only one of them ran takes no part.
"""

from __future__ import annotations

import logging
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

from ..environment import describe
from ..files import pyplot, save_figure, write_csv, write_text
from .store import RunRecord, collect_results

logger = logging.getLogger(__name__)

METHOD_ORDER = ("zero-shot", "ord-fs-dev", "ord-fs", "mix-ft", "naive-mix", "gradient-mix")
PAPER_NAMES = {
    "zero-shot": "Zero-Shot", "ord-fs-dev": "ord-FS+dev", "ord-fs": "ord-FS", "mix-ft": "mix-FT",
    "naive-mix": "naive-mix-train", "gradient-mix": "gradient-mix-train",
}


def method_key(method: str):
    return (METHOD_ORDER.index(method), "") if method in METHOD_ORDER else (len(METHOD_ORDER), method)


def mean_sd(values: list) -> tuple[float, Optional[float]]:
    """Mean and sample standard deviation (ddof = 1; None for a single value)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def check_runs(records: list[RunRecord], languages: Optional[list] = None) -> list:
    """The target languages the report averages over; errors when runs disagree on task, metric, source or languages."""
    if not records:
        raise ValueError(
            "No finished runs (folders with run.json and test_results.json). Run hf-mixtrain sweep "
            "first, or point --sweep_dir at the folder holding the runs."
        )
    for key in ("task", "metric", "source"):
        values = defaultdict(list)
        for r in records:
            values[getattr(r, key)].append(r.run_dir)
        if len(values) > 1:
            examples = "; ".join(f"{v!r}: {dirs[0]}" for v, dirs in values.items())
            raise ValueError(f"The runs disagree on the {key} ({examples}): report or compare runs of one {key}.")
    if languages is not None:
        for r in records:
            missing = [lang for lang in languages if lang not in r.targets]
            if missing:
                raise ValueError(f"{r.run_dir} has no target {', '.join(missing)} (it has {', '.join(r.targets)}).")
        return list(languages)
    reference = records[0]
    for r in records[1:]:
        if set(r.targets) != set(reference.targets):
            extra = sorted(set(r.targets) - set(reference.targets))
            missing = sorted(set(reference.targets) - set(r.targets))
            raise ValueError(
                f"Runs with different target languages: {r.run_dir} lacks {missing or 'none'} and has extra "
                f"{extra or 'none'} compared with {reference.run_dir}, so their averages are not comparable. Use the "
                "same --target_languages in every run, or report the common ones with --languages "
                f"{','.join(sorted(set(r.targets) & set(reference.targets)))}."
            )
    return list(reference.targets)


@dataclass
class Report:
    """The aggregated tables of a sweep (see the module docstring for the statistics)."""

    metric: str
    source: str
    languages: list  # target languages averaged over
    seeds: list  # every seed seen in the sweep
    summary: list  # rows: method, k, n, seeds, missing_seeds, mean, sd
    per_language: list  # rows: method, k, lang, n, mean, sd
    runs: list  # rows: method, k, seed, average, run_dir
    scores: dict  # (method, k, seed) -> {language: score}, source included


def aggregate(records: list[RunRecord], languages: Optional[list] = None) -> Report:
    """Mean and sample sd across seeds of the target-language average, per method and K; per-language means."""
    languages = check_runs(records, languages)
    groups = defaultdict(list)
    for r in records:
        groups[(r.method, r.k)].append(r)
    seeds = sorted({r.seed for r in records})
    summary, per_language, runs = [], [], []
    scores = {(r.method, r.k, r.seed): dict(r.scores) for r in records}
    for (method, k), group in sorted(groups.items(), key=lambda item: (method_key(item[0][0]), item[0][1])):
        group = sorted(group, key=lambda r: r.seed)
        averages = [r.average(languages) for r in group]
        mean, sd = mean_sd(averages)
        have = [r.seed for r in group]
        summary.append(dict(method=method, k=k, n=len(group), seeds=have,
                            missing_seeds=[s for s in seeds if s not in have], mean=mean, sd=sd))
        runs += [dict(method=method, k=k, seed=r.seed, average=a, run_dir=r.run_dir) for r, a in zip(group, averages)]
        for lang in [records[0].source] + languages:
            mean, sd = mean_sd([r.scores[lang] for r in group])
            per_language.append(dict(method=method, k=k, lang=lang, n=len(group), mean=mean, sd=sd))
    for row in summary:
        if row["missing_seeds"]:
            logger.warning("%s K=%d: seed(s) %s missing; its mean is over %d seed(s)", row["method"], row["k"],
                           row["missing_seeds"], row["n"])
    return Report(records[0].metric, records[0].source, languages, seeds, summary, per_language, runs, scores)


def top_gains(report: Report, method: str = "gradient-mix", baseline: str = "ord-fs", top: int = 5) -> dict:
    """Per K where both ran a common seed: the `top` target languages by gain of `method` over `baseline`, paired
    by seed (module docstring), largest first.

    Returns `{k: [dict(lang, gain, method_mean, baseline_mean, seeds), ...]}`, the means over the paired seeds
    (`seeds`, their number); ties are broken by language code.
    """
    out = {}
    for k in sorted({row["k"] for row in report.summary}):
        paired = sorted({seed for m, kk, seed in report.scores if (m, kk) == (method, k)}
                        & {seed for m, kk, seed in report.scores if (m, kk) == (baseline, k)})
        if not paired:
            continue
        gains = []
        for lang in report.languages:
            ours = [report.scores[(method, k, seed)][lang] for seed in paired]
            theirs = [report.scores[(baseline, k, seed)][lang] for seed in paired]
            gains.append(dict(lang=lang, gain=math.fsum(a - b for a, b in zip(ours, theirs)) / len(paired),
                              method_mean=math.fsum(ours) / len(paired), baseline_mean=math.fsum(theirs) / len(paired),
                              seeds=len(paired)))
        out[k] = sorted(gains, key=lambda g: (-g["gain"], g["lang"]))[:top]
    return out


def all_gains(report: Report, method: str, baseline: str) -> dict:
    """Every target language's gain per K (for the bar charts), largest first."""
    return top_gains(report, method, baseline, top=len(report.languages))


# ---- formatting ----------------------------------------------------------------------------------------------


def format_sd(sd: Optional[float]) -> str:
    """' ± sd', or nothing where a single value has no sample sd."""
    return "" if sd is None else f" ± {sd:.2f}"


def mean_sd_cell(mean: Optional[float], sd: Optional[float], n: Optional[int] = None) -> str:
    """'mean ± sd (n=N)'; '-' where there is no value."""
    if mean is None:
        return "-"
    return f"{mean:.2f}{format_sd(sd)}" + (f" (n={n})" if n is not None else "")


def markdown_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def environments_markdown(records: list[RunRecord]) -> str:
    """Which runs ran on what (hf_mixtrain.environment.describe): runs are reproduced bit for bit only within one
    environment, so a table mixing several says so, with the runs of each."""
    groups = defaultdict(list)
    for r in records:
        groups[describe(r.environment)].append(r)
    if len(groups) == 1:
        return f"All {len(records)} runs ran on: {next(iter(groups))}."
    logger.warning("The %d runs ran in %d environments (report.md lists them); reruns in another environment differ "
                   "by more than the floating-point noise of one", len(records), len(groups))
    rows = []
    for label, runs in groups.items():
        seeds = defaultdict(list)
        for r in runs:
            seeds[(method_key(r.method), r.method, r.k)].append(r.seed)
        which = "; ".join(f"{m} K={k} seed {' '.join(map(str, sorted(s)))}" for (_, m, k), s in sorted(seeds.items()))
        rows.append([label, str(len(runs)), which])
    return f"The runs ran in {len(groups)} environments:\n\n" + markdown_table(["environment", "runs", "which"], rows)


def summary_markdown(report: Report) -> str:
    """Methods as rows, K as columns, cells 'mean ± sd (n=seeds)'."""
    ks = sorted({row["k"] for row in report.summary})
    cells = {(row["method"], row["k"]): row for row in report.summary}
    methods = sorted({row["method"] for row in report.summary}, key=method_key)
    rows = []
    for m in methods:
        row = [f"{PAPER_NAMES.get(m, m)} (`{m}`)"]
        for k in ks:
            c = cells.get((m, k))
            row.append(mean_sd_cell(c["mean"], c["sd"], c["n"]) if c else "-")
        rows.append(row)
    return markdown_table(["method"] + [f"K={k}" for k in ks], rows)


def language_markdown(report: Report, k: int) -> str:
    """Languages as rows, the methods run at K (and zero-shot, K=0) as columns; mean across seeds."""
    means = {(row["method"], row["k"], row["lang"]): row["mean"] for row in report.per_language}
    columns = [(m, kk) for m, kk in sorted({(r["method"], r["k"]) for r in report.summary}, key=lambda c: method_key(c[0]))
               if kk == k or m == "zero-shot"]
    header = ["language"] + [f"{m} (K={kk})" if kk != k else m for m, kk in columns]
    source = report.source
    rows = []
    for lang in [source] + report.languages:
        label = f"{lang} (source)" if lang == source else lang
        rows.append([label] + [f"{means[(m, kk, lang)]:.2f}" for m, kk in columns])
    averages = {(r["method"], r["k"]): r["mean"] for r in report.summary}
    rows.append(["**average (targets)**"] + [f"{averages[c]:.2f}" for c in columns])
    return markdown_table(header, rows)


def gains_markdown(gains: dict, method: str, baseline: str) -> str:
    parts = []
    for k, rows in gains.items():
        text = ", ".join(f"{g['lang']} {g['gain']:+.2f}" for g in rows)
        parts.append(f"- K={k} ({rows[0]['seeds']} seed(s) paired): {text}")
    return "\n".join(parts) if parts else f"- (no K where both {method} and {baseline} ran)"


# ---- plots ---------------------------------------------------------------------------------------------------


def plot_methods_by_k(report: Report, path: str) -> str:
    """Mean target-language average vs K per method, sd error bars; zero-shot as a dashed line at its K=0 level."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    by_method = defaultdict(list)
    for row in report.summary:
        by_method[row["method"]].append(row)
    ks = sorted({row["k"] for row in report.summary})
    for method in sorted(by_method, key=method_key):
        rows = sorted(by_method[method], key=lambda r: r["k"])
        if method == "zero-shot":
            r = rows[0]
            ax.axhline(r["mean"], color="grey", linestyle="--", linewidth=1, label=f"{method} (K=0)")
            ax.errorbar([0], [r["mean"]], yerr=[r["sd"] or 0], fmt="o", color="grey", capsize=3)
            continue
        ax.errorbar([r["k"] for r in rows], [r["mean"] for r in rows], yerr=[r["sd"] or 0 for r in rows],
                    marker="o", capsize=3, label=method)
    ax.set_xticks(ks)
    ax.set_xlabel("K (shots per target language)")
    ax.set_ylabel(f"{report.metric}, mean over targets")
    ax.set_title(f"mean ± sample sd over seeds ({len(report.languages)} targets)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_gains(gains: dict, method: str, baseline: str, path: str) -> str:
    """Per K, a bar per target language: mean(method) - mean(baseline), largest first."""
    plt = pyplot()
    ks = list(gains)
    fig, axes = plt.subplots(len(ks), 1, figsize=(max(6, 0.35 * max(len(v) for v in gains.values())), 2.6 * len(ks)),
                             squeeze=False)
    for ax, k in zip(axes[:, 0], ks):
        rows = gains[k]
        values = [g["gain"] for g in rows]
        ax.bar([g["lang"] for g in rows], values, color=["tab:green" if v >= 0 else "tab:red" for v in values])
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_ylabel("gain")
        ax.set_title(f"K={k}: {method} - {baseline}", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


# ---- the whole report ----------------------------------------------------------------------------------------


def write_report(
    sweep_dir: str,
    output_dir: Optional[str] = None,
    languages: Optional[list] = None,
    top: int = 5,
    plots: bool = True,
    dynamics: bool = True,
) -> dict:
    """Write the report of a sweep into `output_dir` (default `<sweep_dir>/report/`); returns {name: path}.

    Files: report.md (every table), summary.csv, per_language.csv, runs.csv, top_gains.csv, and with `plots`
    methods_by_k.png and gains_over_<baseline>.png; with `dynamics`, the conflict dynamics of the gradient-mix runs
    that logged a surgery history (see hf_mixtrain.analysis.dynamics). Every file is written atomically.
    """
    from .dynamics import sweep_dynamics

    output_dir = output_dir or os.path.join(sweep_dir, "report")
    records = collect_results(sweep_dir)
    report = aggregate(records, languages)
    paths = {
        "summary.csv": write_csv(os.path.join(output_dir, "summary.csv"),
                                 [{**r, "metric": report.metric, "seeds": " ".join(map(str, r["seeds"])),
                                   "missing_seeds": " ".join(map(str, r["missing_seeds"]))} for r in report.summary],
                                 ["method", "k", "metric", "n", "mean", "sd", "seeds", "missing_seeds"]),
        "per_language.csv": write_csv(os.path.join(output_dir, "per_language.csv"), report.per_language,
                                      ["method", "k", "lang", "n", "mean", "sd"]),
        "runs.csv": write_csv(os.path.join(output_dir, "runs.csv"), report.runs, ["method", "k", "seed", "average", "run_dir"]),
    }
    sections = [
        f"# Results: {records[0].task}, {report.metric}",
        "",
        f"{len(records)} finished runs; seeds {', '.join(map(str, report.seeds))}. Cells: mean ± sample sd (ddof=1) "
        f"across seeds of the mean {report.metric} over the {len(report.languages)} target languages "
        f"({', '.join(report.languages)}; source {records[0].source} excluded); n = seeds. zero-shot is K=0.",
        "",
        summary_markdown(report),
        "",
        environments_markdown(records),
    ]
    if plots:
        paths["methods_by_k.png"] = plot_methods_by_k(report, os.path.join(output_dir, "methods_by_k.png"))
        sections += ["", "![methods by K](methods_by_k.png)"]
    missing = [r for r in report.summary if r["missing_seeds"]]
    if missing:
        sections += ["", "Missing seeds: " + "; ".join(
            f"{r['method']} K={r['k']} lacks seed {', '.join(map(str, r['missing_seeds']))}" for r in missing) + "."]
    gain_rows = []
    methods = {r["method"] for r in report.summary}
    for baseline in ("ord-fs", "naive-mix"):
        if "gradient-mix" not in methods or baseline not in methods:
            continue
        gains = top_gains(report, "gradient-mix", baseline, top)
        sections += ["", f"## Top {top} languages by gain of gradient-mix over {baseline}", "",
                     f"Gain = mean over the seeds both ran of gradient-mix minus {baseline}, paired by seed.", "",
                     gains_markdown(gains, "gradient-mix", baseline)]
        gain_rows += [dict(baseline=baseline, k=k, rank=i + 1, **g) for k, rows in gains.items() for i, g in enumerate(rows)]
        if plots and gains:
            name = f"gains_over_{baseline}.png"
            paths[name] = plot_gains(all_gains(report, "gradient-mix", baseline), "gradient-mix", baseline,
                                     os.path.join(output_dir, name))
            sections += ["", f"![gains over {baseline}]({name})"]
    paths["top_gains.csv"] = write_csv(
        os.path.join(output_dir, "top_gains.csv"), gain_rows,
        ["baseline", "k", "rank", "lang", "gain", "method_mean", "baseline_mean", "seeds"],
    )
    sections += ["", "## Per language", "", "Mean across seeds of each language's test score."]
    for k in sorted({r["k"] for r in report.summary if r["k"] > 0}) or [0]:
        sections += ["", f"### K={k}", "", language_markdown(report, k)]
    if dynamics:
        text, files = sweep_dynamics(records, output_dir, plots=plots)
        if text:
            sections += ["", text]
        paths.update(files)
    paths["report.md"] = write_text(os.path.join(output_dir, "report.md"), "\n".join(sections) + "\n")
    return paths
