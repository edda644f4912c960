"""Conflict dynamics of gradient-mix runs, from their `surgery_history.jsonl`.

Each line of the history is one surgery: `step` (optimizer step), `micro_step`, `lang` (the oracle language),
`dot` and `cosine` of the mixed-batch gradient g with the oracle gradient o (before projection), `projected`,
`num_projected`, and with `--surgery_log_tensors` `tensor_cosines` ({parameter name: cosine of that tensor's g and
o}).

Definitions used in every table and plot:

- a surgery CONFLICTS when g.o < 0 over all trainable parameters (`dot < 0`); the conflict rate is the share of
  surgeries that conflict. With `--surgery_scope global` a surgery projects exactly when it conflicts; with
  `per_tensor` it may project some tensors without a global conflict, so the projected rate is reported too.
- per layer: parameter names are grouped into layers (`embeddings`, `layer <i>` for `...layer.<i>.`/`layers.<i>`/
  `h.<i>`/`block.<i>`, `pooler`, `head` for the task head, else the name's first part); a layer's conflict rate
  is the share of its (surgery, tensor) cosines that are negative, nan cosines (a zero gradient) left out.
- rolling curves are trailing means over the last `window` surgeries, in the order the surgeries happened.
- distance: when the sweep also holds zero-shot runs, each target language's conflict rate is set against its
  zero-shot score (mean over seeds), a proxy for its distance from the source, with Spearman's rank correlation.
"""

from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from typing import Optional

import numpy as np

from ..files import pyplot, save_figure, write_csv
from ..history import SURGERY_HISTORY_NAME, read_history

_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)(?:\.|$)")
_HEAD = ("classifier", "qa_outputs", "score", "lm_head", "head")


def conflicts(event: dict) -> bool:
    return event["dot"] < 0


def rolling_mean(values, window: int) -> np.ndarray:
    """Trailing mean over the last `window` values (fewer at the start)."""
    values = np.asarray(values, dtype=float)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (sums[idx] - sums[start]) / (idx - start)


def language_conflicts(events: list[dict]) -> list[dict]:
    """Per oracle language (and `all`): surgeries, conflicts, conflict_rate, projected_rate, mean/min cosine."""
    groups = defaultdict(list)
    for e in events:
        groups[e["lang"]].append(e)
    rows = []
    for lang, group in sorted(groups.items()) + [("all", events)]:
        if not group:
            continue
        cosines = [e["cosine"] for e in group if e["cosine"] is not None and math.isfinite(e["cosine"])]
        n_conflicts = sum(conflicts(e) for e in group)
        rows.append(dict(
            lang=lang, surgeries=len(group), conflicts=n_conflicts, conflict_rate=n_conflicts / len(group),
            projected_rate=sum(bool(e.get("projected")) for e in group) / len(group),
            mean_cosine=float(np.mean(cosines)) if cosines else None, min_cosine=min(cosines) if cosines else None,
        ))
    return rows


def layer_of(name: str) -> str:
    """The layer a parameter belongs to, for per-layer aggregation (see the module docstring)."""
    match = _LAYER.search(name)
    if match:
        return f"layer {int(match.group(1))}"
    parts = name.split(".")
    if "embeddings" in parts or name.startswith(("embed", "wte", "wpe")) or ".embed" in name:
        return "embeddings"
    if "pooler" in parts:
        return "pooler"
    if any(part in _HEAD for part in parts):
        return "head"
    return parts[0] if parts[0] not in ("bert", "roberta", "model", "encoder") or len(parts) < 2 else parts[1]


def _layer_key(layer: str):
    if layer == "embeddings":
        return (0, 0, layer)
    if layer.startswith("layer "):
        return (1, int(layer.split()[1]), layer)
    return (2 if layer in ("pooler", "head") else 3, 0, layer)


def layer_conflicts(events: list[dict]) -> list[dict]:
    """Per layer: tensor cosines seen, negative ones, their share (conflict_rate) and mean; [] without tensor_cosines."""
    groups = defaultdict(list)
    for e in events:
        for name, cos in (e.get("tensor_cosines") or {}).items():
            if cos is not None and math.isfinite(cos):
                groups[layer_of(name)].append(cos)
    return [
        dict(layer=layer, cosines=len(values), conflicts=sum(v < 0 for v in values),
             conflict_rate=sum(v < 0 for v in values) / len(values), mean_cosine=float(np.mean(values)))
        for layer, values in sorted(groups.items(), key=lambda item: _layer_key(item[0]))
    ]


def _window(n: int, window: Optional[int]) -> int:
    return window or max(1, min(50, n // 10 or 1))


def plot_cosines(events: list[dict], path: str, window: Optional[int] = None, title: str = "") -> str:
    """Cosine(g, o) per surgery over optimizer steps, one colour per oracle language, with its rolling mean."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    by_lang = defaultdict(list)
    for e in events:
        by_lang[e["lang"]].append(e)
    for lang, group in sorted(by_lang.items()):
        steps = [e["step"] for e in group]
        cos = [e["cosine"] for e in group]
        points = ax.scatter(steps, cos, s=8, alpha=0.4)
        ax.plot(steps, rolling_mean(cos, _window(len(group), window)), color=points.get_facecolor()[0][:3], label=lang)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cosine(g, oracle gradient)")
    ax.set_title(title or "cosine per surgery (points) and rolling mean (lines)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def plot_conflict_rate(runs: dict, path: str, window: Optional[int] = None, title: str = "") -> str:
    """Rolling conflict rate (share of surgeries with g.o < 0) over the run, one line per run label."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    windows = set()
    for label, events in runs.items():
        if events:
            windows.add(_window(len(events), window))
            rates = rolling_mean([float(conflicts(e)) for e in events], _window(len(events), window))
            ax.plot([e["step"] for e in events], rates, label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"conflict rate (last {'/'.join(map(str, sorted(windows)))} surgeries)")
    ax.set_title(title or "share of surgeries with g.o < 0", fontsize=9)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_layers(rows: list[dict], path: str, title: str = "") -> str:
    """Bar chart of the per-layer conflict rate."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(rows)), 3.5))
    ax.bar([r["layer"] for r in rows], [r["conflict_rate"] for r in rows], color="tab:purple")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of negative tensor cosines")
    ax.set_title(title or "per-layer conflict rate", fontsize=9)
    ax.tick_params(axis="x", rotation=45, labelsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def spearman(x: list, y: list) -> Optional[float]:
    """Spearman's rank correlation, ties given their mean rank; None below 3 points or when a side is constant."""

    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for m in range(i, j + 1):
                out[order[m]] = (i + j) / 2 + 1
            i = j + 1
        return np.asarray(out)

    if len(x) < 3:
        return None
    rx, ry = ranks(list(x)), ranks(list(y))
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def conflicts_by_zero_shot(conflict_rows: list[dict], zero_shot: dict) -> list[dict]:
    """Target languages with both a conflict rate and a zero-shot score, lowest zero-shot score first."""
    rows = [dict(lang=r["lang"], zero_shot=zero_shot[r["lang"]], surgeries=r["surgeries"], conflicts=r["conflicts"],
                 conflict_rate=r["conflict_rate"], mean_cosine=r["mean_cosine"])
            for r in conflict_rows if r["lang"] in zero_shot]
    return sorted(rows, key=lambda r: (r["zero_shot"], r["lang"]))


def plot_conflict_vs_zero_shot(rows: list[dict], path: str, metric: str, title: str = "") -> str:
    """One point per target language: zero-shot score (x, a proxy for distance from the source) vs conflict rate."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter([r["zero_shot"] for r in rows], [r["conflict_rate"] for r in rows], color="tab:red")
    for r in rows:
        ax.annotate(r["lang"], (r["zero_shot"], r["conflict_rate"]), textcoords="offset points", xytext=(4, 3), fontsize=8)
    ax.set_xlabel(f"zero-shot {metric} (mean over seeds)")
    ax.set_ylabel("conflict rate (share of surgeries, g.o < 0)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


DISTANCE_COLUMNS = ["lang", "zero_shot", "surgeries", "conflicts", "conflict_rate", "mean_cosine"]
LANG_COLUMNS = ["lang", "surgeries", "conflicts", "conflict_rate", "projected_rate", "mean_cosine", "min_cosine"]
LAYER_COLUMNS = ["layer", "cosines", "conflicts", "conflict_rate", "mean_cosine"]


def write_dynamics(runs: dict, output_dir: str, prefix: str = "dynamics", plots: bool = True,
                   window: Optional[int] = None) -> dict:
    """Tables and plots of one or more runs' histories (`{label: events}`, pooled for the tables).

    Writes `<prefix>_languages.csv`, `<prefix>_layers.csv` (when tensor cosines were logged) and with `plots`
    `<prefix>_cosine.png`, `<prefix>_conflict_rate.png`, `<prefix>_layers.png`. Returns {file name: path}.
    """
    pooled = sorted((e for events in runs.values() for e in events), key=lambda e: (e["step"], e.get("micro_step", 0)))
    if not pooled:
        raise ValueError("No surgery events: the histories are empty (was surgery_prob 0, or the run not gradient-mix?).")
    paths = {}
    name = f"{prefix}_languages.csv"
    paths[name] = write_csv(os.path.join(output_dir, name), language_conflicts(pooled), LANG_COLUMNS)
    layers = layer_conflicts(pooled)
    if layers:
        name = f"{prefix}_layers.csv"
        paths[name] = write_csv(os.path.join(output_dir, name), layers, LAYER_COLUMNS)
    if plots:
        for name, draw in (
            (f"{prefix}_cosine.png", lambda p: plot_cosines(pooled, p, window)),
            (f"{prefix}_conflict_rate.png", lambda p: plot_conflict_rate(runs, p, window)),
        ):
            paths[name] = draw(os.path.join(output_dir, name))
        if layers:
            name = f"{prefix}_layers.png"
            paths[name] = plot_layers(layers, os.path.join(output_dir, name))
    return paths


def _markdown_rows(rows: list[dict], columns: list[str]) -> list[str]:
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else ("-" if v is None else str(v))

    return ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"] + [
        "| " + " | ".join(fmt(r[c]) for c in columns) + " |" for r in rows
    ]


def sweep_dynamics(records, output_dir: str, plots: bool = True) -> tuple[str, dict]:
    """The report's conflict-dynamics section: per K, the gradient-mix runs' histories pooled over seeds (and, with
    zero-shot runs in the sweep, conflict rate against zero-shot score per target language)."""
    by_k = defaultdict(dict)
    for r in records:
        path = os.path.join(r.run_dir, SURGERY_HISTORY_NAME)
        if r.method == "gradient-mix" and os.path.isfile(path):
            by_k[r.k][f"seed {r.seed}"] = read_history(path, missing_ok=False)
    if not by_k:
        return "", {}
    # Zero-shot scores of the target languages, mean over seeds: the x axis of the distance plot.
    zero = defaultdict(list)
    for r in records:
        if r.method == "zero-shot":
            for lang in r.targets:
                zero[lang].append(r.scores[lang])
    zero_shot = {lang: float(np.mean(values)) for lang, values in zero.items()}
    lines = ["## Gradient conflicts (gradient-mix)", "",
             "A surgery conflicts when the mixed-batch gradient g and the oracle language's gradient o have "
             "g.o < 0; rates are over all surgeries of the K's runs, seeds pooled."]
    paths = {}
    for k, runs in sorted(by_k.items()):
        prefix = f"dynamics_k{k}"
        files = write_dynamics(runs, output_dir, prefix, plots=plots)
        paths.update(files)
        pooled = [e for events in runs.values() for e in events]
        lines += ["", f"### K={k} ({len(runs)} run(s), {len(pooled)} surgeries, "
                  f"{sum(conflicts(e) for e in pooled)} conflicts)", ""]
        lines += _markdown_rows(language_conflicts(pooled), LANG_COLUMNS)
        layers = layer_conflicts(pooled)
        if layers:
            lines += ["", "Per layer (share of negative tensor cosines):", ""] + _markdown_rows(layers, LAYER_COLUMNS)
        lines += [""] + [f"![{name}]({name})" for name in files if name.endswith(".png")]
        if zero_shot:
            lines += _distance_section(k, language_conflicts(pooled), zero_shot, records[0].metric, output_dir, plots, paths)
    return "\n".join(lines), paths


def _distance_section(k: int, conflict_rows: list, zero_shot: dict, metric: str, output_dir: str, plots: bool,
                      paths: dict) -> list[str]:
    """Conflict rate by target language against its zero-shot score: does distance from the source predict conflict?"""
    rows = conflicts_by_zero_shot(conflict_rows, zero_shot)
    if not rows:
        return []
    rho = spearman([r["zero_shot"] for r in rows], [r["conflict_rate"] for r in rows])
    name = f"conflict_vs_zero_shot_k{k}"
    paths[f"{name}.csv"] = write_csv(os.path.join(output_dir, f"{name}.csv"), rows, DISTANCE_COLUMNS)
    lines = ["", f"Conflict rate against zero-shot {metric} (lower zero-shot = farther from the source), "
             f"{len(rows)} target languages: Spearman rho = {'-' if rho is None else f'{rho:.2f}'} "
             "(negative: the farther, the more conflict).", ""]
    lines += _markdown_rows(rows, DISTANCE_COLUMNS)
    if plots:
        title = f"K={k}: conflict rate vs zero-shot {metric}" + ("" if rho is None else f" (Spearman rho {rho:.2f})")
        paths[f"{name}.png"] = plot_conflict_vs_zero_shot(rows, os.path.join(output_dir, f"{name}.png"), metric, title)
        lines += ["", f"![{name}.png]({name}.png)"]
    return lines
