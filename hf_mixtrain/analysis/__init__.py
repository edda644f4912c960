"""Analyses of sweeps and checkpoints: the paper's tables, top-language gains, gradient-conflict dynamics and
per-language gradient similarity heatmaps.

    from hf_mixtrain.analysis import collect_results, aggregate, top_gains, write_report
    report = aggregate(collect_results("sweeps/pos"))          # mean and sample sd across seeds per method and K
    write_report("sweeps/pos")                                   # Markdown, CSV and PNG into sweeps/pos/report/

Command line: ``hf-mixtrain {report,compare,dynamics,similarity} --help``. Plots need matplotlib
(the ``plots`` extra); it is imported only when a plot is drawn.
"""

from ..history import read_history
from .dynamics import language_conflicts, layer_conflicts, layer_of, write_dynamics
from .report import Report, aggregate, mean_sd, top_gains, write_report
from .similarity import (
    SimilarityResult,
    checkpoint_similarity,
    cluster_order,
    cosine_from_gram,
    gradient_gram,
    plot_heatmaps,
    write_similarity,
)
from .store import RunRecord, collect_results, is_complete, read_index, read_run, scan_runs, write_index

__all__ = [
    "Report",
    "RunRecord",
    "SimilarityResult",
    "aggregate",
    "checkpoint_similarity",
    "cluster_order",
    "collect_results",
    "cosine_from_gram",
    "gradient_gram",
    "is_complete",
    "language_conflicts",
    "layer_conflicts",
    "layer_of",
    "mean_sd",
    "plot_heatmaps",
    "read_history",
    "read_index",
    "read_run",
    "scan_runs",
    "top_gains",
    "write_dynamics",
    "write_index",
    "write_report",
    "write_similarity",
]
