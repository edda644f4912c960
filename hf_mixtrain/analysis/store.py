"""The results store of a sweep: the run folders themselves, plus an index `results.jsonl` rebuilt from them.

Every run of a task script writes, atomically and last, `test_results.json` (`test_<lang>_<metric>` for the source
and every target, `test_avg_<metric>`) and then `run.json` (task, method, source, targets, k_shot, seed, metric,
...). A folder holding both, with a score for every language `run.json` names, is a finished run; anything less is
a run in progress or one that was killed, and readers ignore it. So the folders are the truth: a reader never sees
a half-written file, and a run killed at any point is simply not there yet.

`results.jsonl` (one JSON object per finished run) is an index for people and other tools: it is rewritten whole
(temporary file, then `os.replace`) from a scan of the folders, by the sweep after every run and by the report,
so concurrent readers see the old or the new version, never a torn one, and a lost index is rebuilt by the next
scan. The reports always scan the folders, so a stale index (two sweeps writing it at once) cannot mislead them.

zero-shot trains no shots: its runs are stored and reported with K = 0, whatever `k_shot` the run was given.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from typing import Optional

from ..files import write_text

logger = logging.getLogger(__name__)

INDEX_NAME = "results.jsonl"
RUN_FILE = "run.json"
RESULTS_FILE = "test_results.json"
# Folders a scan never enters: reports, cached source models, per-language ord-fs models, checkpoints.
_SKIP = ("report", "source_models", "adapted")


@dataclass(frozen=True)
class RunRecord:
    """One finished run: what it was (from run.json) and its test scores in the run's headline metric."""

    task: str
    method: str
    k: int  # 0 for zero-shot
    seed: int
    metric: str
    source: str
    targets: tuple
    scores: dict  # language -> headline metric on its test split, source included
    run_dir: str
    model: Optional[str] = None
    benchmark: Optional[str] = None
    environment: Optional[dict] = None  # what it ran on (hf_mixtrain.environment); None: written before run.json had it
    results: dict = field(default_factory=dict, repr=False)  # everything in test_results.json

    def average(self, languages: Optional[list] = None) -> float:
        """Mean over `languages` (default: the run's targets; the source language is excluded, as in the paper)."""
        languages = list(self.targets) if languages is None else languages
        return sum(self.scores[lang] for lang in languages) / len(languages)


def _load(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_run(run_dir: str) -> tuple[Optional[RunRecord], str]:
    """`(record, "")` for a finished run, else `(None, why not)`."""
    run = _load(os.path.join(run_dir, RUN_FILE))
    if not isinstance(run, dict):
        return None, f"no readable {RUN_FILE}"
    results = _load(os.path.join(run_dir, RESULTS_FILE))
    if not isinstance(results, dict):
        return None, f"no readable {RESULTS_FILE}"
    missing_keys = [key for key in ("task", "method", "source", "targets", "k_shot", "seed", "metric") if key not in run]
    if missing_keys:
        return None, f"{RUN_FILE} lacks {', '.join(missing_keys)}"
    metric, languages = run["metric"], [run["source"]] + list(run["targets"])
    missing = [lang for lang in languages if f"test_{lang}_{metric}" not in results]
    if missing:
        return None, f"{RESULTS_FILE} has no {metric} for {', '.join(missing)}"
    return (
        RunRecord(
            task=run["task"],
            method=run["method"],
            k=0 if run["method"] == "zero-shot" else int(run["k_shot"]),
            seed=int(run["seed"]),
            metric=metric,
            source=run["source"],
            targets=tuple(run["targets"]),
            scores={lang: float(results[f"test_{lang}_{metric}"]) for lang in languages},
            run_dir=os.path.abspath(run_dir),
            model=run.get("model"),
            benchmark=run.get("benchmark"),
            environment=run.get("environment"),
            results=results,
        ),
        "",
    )


def is_complete(run_dir: str, method: Optional[str] = None, k: Optional[int] = None, seed: Optional[int] = None) -> bool:
    """Whether `run_dir` holds a finished run; with `method`/`k`/`seed`, also that it is that run.

    A finished run of something else in the folder is an error, not an unfinished run: redoing it would delete
    results.
    """
    record, _ = read_run(run_dir)
    if record is None:
        return False
    expected = {"method": method, "k": k, "seed": seed}
    found = {"method": record.method, "k": record.k, "seed": record.seed}
    wrong = {name: (value, found[name]) for name, value in expected.items() if value is not None and value != found[name]}
    if wrong:
        details = ", ".join(f"{name} {got!r} (expected {want!r})" for name, (want, got) in wrong.items())
        raise ValueError(
            f"{run_dir} holds a finished run with {details}. Move that folder out of the sweep, or use another --sweep_dir."
        )
    return True


def scan_runs(sweep_dir: str) -> list[RunRecord]:
    """Every finished run under `sweep_dir` (any depth), ordered by method, K and seed.

    Folders with a `run.json` but no complete results are skipped and counted in the log. Two finished runs of
    the same task, method, K and seed are an error naming both folders.
    """
    if not os.path.isdir(sweep_dir):
        raise FileNotFoundError(f"No sweep folder {sweep_dir!r}: run hf-mixtrain sweep --sweep_dir {sweep_dir} first.")
    records, unfinished = [], []
    for root, dirs, files in os.walk(sweep_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith(("checkpoint-", ".")))
        if RUN_FILE in files or RESULTS_FILE in files:
            record, why = read_run(root)
            if record is None:
                unfinished.append(f"{root} ({why})")
            else:
                records.append(record)
    if unfinished:
        logger.info("%d unfinished run folder(s) skipped: %s", len(unfinished), "; ".join(unfinished))
    seen: dict = {}
    for record in records:
        key = (record.task, record.method, record.k, record.seed)
        if key in seen:
            raise ValueError(
                f"Two finished runs of {record.method} K={record.k} seed={record.seed}: {seen[key]} and {record.run_dir}. "
                "Keep one (move the other out of the sweep folder)."
            )
        seen[key] = record.run_dir
    return sorted(records, key=lambda r: (r.task, r.method, r.k, r.seed))


def index_lines(records: list[RunRecord]) -> str:
    return "".join(json.dumps({**asdict(r), "targets": list(r.targets)}, sort_keys=True) + "\n" for r in records)


def write_index(sweep_dir: str, records: Optional[list[RunRecord]] = None) -> str:
    """Rewrite `<sweep_dir>/results.jsonl` atomically from `records` (default: a fresh scan)."""
    records = scan_runs(sweep_dir) if records is None else records
    return write_text(os.path.join(sweep_dir, INDEX_NAME), index_lines(records))


def collect_results(sweep_dir: str, write: bool = True) -> list[RunRecord]:
    """Scan the run folders (the truth) and, with `write`, refresh the index `results.jsonl`."""
    records = scan_runs(sweep_dir)
    if write:
        write_index(sweep_dir, records)
    return records


def read_index(sweep_dir: str) -> list[dict]:
    """The index as a list of dicts (one per finished run); rebuilt from the run folders when missing."""
    path = os.path.join(sweep_dir, INDEX_NAME)
    if not os.path.isfile(path):
        logger.info("%s is missing: rebuilding it from the run folders", path)
        write_index(sweep_dir)
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
