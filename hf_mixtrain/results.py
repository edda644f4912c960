"""A run's results: per-language scores, the average over the targets, the files a run leaves and its table.

Scores are held as `{lang: {metric: score}}`; the files flatten them to `test_<lang>_<metric>` (and
`test_avg_<metric>`, over the targets only), the keys `hf_mixtrain.analysis` reads.
"""

from __future__ import annotations

import os

from .files import write_json


def averages(scores: dict[str, dict[str, float]], targets: list) -> dict[str, float]:
    """`{metric: mean over the targets that have it}`; the source language is not a target."""
    names = sorted({name for lang in targets for name in scores.get(lang, {})})
    out = {}
    for name in names:
        values = [scores[lang][name] for lang in targets if name in scores.get(lang, {})]
        out[name] = sum(values) / len(values)
    return out


def flatten(scores: dict[str, dict[str, float]], targets: list) -> dict[str, float]:
    """`test_<lang>_<metric>` for every language's scores, then `test_avg_<metric>` over the targets."""
    out = {f"test_{lang}_{name}": value for lang, metrics in scores.items() for name, value in metrics.items()}
    out.update({f"test_avg_{name}": value for name, value in averages(scores, targets).items()})
    return out


def format_results(scores: dict[str, dict[str, float]], source: str, targets: list, metric: str) -> str:
    """A plain-text table: one row per language, the average over target languages (source excluded) last."""
    names = [metric] + sorted({name for name in scores.get(source, {})} - {metric})
    width = max(8, *(len(lang) for lang in [source] + targets))
    avg = averages(scores, targets)

    def row(label, cells):
        return f"{label:<{width}}  " + "  ".join(f"{c:>12.2f}" if c is not None else f"{'-':>12}" for c in cells)

    lines = [f"{'language':<{width}}  " + "  ".join(f"{n:>12}" for n in names)]
    for lang in [source] + targets:
        lines.append(row(f"{lang} (src)" if lang == source else lang, [scores.get(lang, {}).get(n) for n in names]))
    lines.append(row("avg", [avg.get(n) for n in names]))
    lines.append(f"(avg: mean over the {len(targets)} target languages; the source language is excluded)")
    return "\n".join(lines)


def write_results(output_dir: str, results: dict[str, float], train_metrics: dict, run: dict) -> None:
    """`test_results.json`, `all_results.json` (train metrics too), then `run.json` last: a sweep counts a run
    finished once `run.json` is there. Each file is written atomically."""
    write_json(os.path.join(output_dir, "test_results.json"), results)
    write_json(os.path.join(output_dir, "all_results.json"), {**train_metrics, **results})
    write_json(os.path.join(output_dir, "run.json"), run)
