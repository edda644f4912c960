"""Sweeps over methods x K x seeds: one task-script run per folder, resumable, with a progress bar over runs.

Layout under the sweep folder::

    sweep.json                          the task and script arguments the sweep was started with
    results.jsonl                       index of finished runs (see hf_mixtrain.analysis.store)
    source_models/                      the cached source-trained models of zero-shot and the two-stage methods
    <method>/k<K>/seed<seed>/           one run: the script's output_dir (run.json, test_results.json, run.log, ...)
    <method>/k<K>/seed<seed>.lock       held while that run is in progress
    zero-shot/k0/seed<seed>/            zero-shot trains no shots: one run per seed, reported as K = 0

Resuming: a run whose folder holds a finished run (see `hf_mixtrain.analysis.store.read_run`) is skipped; any other
folder is cleared and the run redone. The task script writes its result files atomically and `run.json` last, so
killing the sweep (even `kill -9`) loses at most the run in progress.

Each run is a fresh `python -m hf_mixtrain train <task>` process by default (the installed package's entry point,
or `python <script>` for a script of your own): memory a run leaks (CUDA caches, datasets, compiled graphs) dies
with it, and a crash in one run does not take the sweep down. On Linux the child is killed when the sweep dies
(`PR_SET_PDEATHSIG`), so a killed sweep leaves no orphan writing into a run folder. `in_process=True` runs it in
this process instead: faster to start, for debugging and tests.

Several sweeps may share one folder (e.g. one per GPU): a run's lock file is `flock`-ed while it runs (the child
inherits the lock), so each run is taken by one sweep; the others skip it. They may then train the same source
model twice (the cache keeps one).
"""

from __future__ import annotations

import gc
import importlib.util
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Optional

from tqdm.auto import tqdm

from .files import write_json
from .analysis.store import is_complete, write_index
from .data.assembly import METHODS

logger = logging.getLogger(__name__)

SETTINGS_NAME = "sweep.json"
LOG_NAME = "run.log"
# The sweep sets these per run; given among the script arguments they would silently override the plan.
RESERVED = ("--method", "--k_shot", "--seed", "--output_dir", "--gradient_surgery")  # the last follows --method
# Run first per seed: they share the seed's cached source model, which the first of them trains.
SOURCE_MODEL_METHODS = ("zero-shot", "ord-fs-dev", "ord-fs", "mix-ft")


@dataclass(frozen=True)
class PlannedRun:
    method: str
    k: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.method} K={self.k} seed={self.seed}"

    def folder(self, sweep_dir: str) -> str:
        return os.path.join(sweep_dir, self.method, f"k{self.k}", f"seed{self.seed}")


@dataclass
class SweepSummary:
    """What one invocation did, by run name."""

    finished: list = field(default_factory=list)  # run now
    skipped: list = field(default_factory=list)  # already finished before
    busy: list = field(default_factory=list)  # in progress in another sweep
    failed: list = field(default_factory=list)


def plan_runs(methods: list, k_shots: list, seeds: list) -> list[PlannedRun]:
    """The runs in the order they are done: per seed, zero-shot (K = 0) and the two-stage methods first, so the
    seed's source model is trained by the first of them and reused by the rest; then the one-step methods."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(unknown)}; valid: {', '.join(METHODS)}.")
    bad = [k for k in k_shots if k < 1]
    if bad:
        raise ValueError(f"K must be >= 1 (zero-shot is added as K=0 by itself), got {bad}.")
    if not methods or not seeds or (not k_shots and any(m != "zero-shot" for m in methods)):
        raise ValueError("A sweep needs at least one method, one seed and one K.")
    methods = list(dict.fromkeys(methods))
    ordered = [m for m in SOURCE_MODEL_METHODS if m in methods] + [m for m in methods if m not in SOURCE_MODEL_METHODS]
    plan = []
    for seed in dict.fromkeys(seeds):
        for method in ordered:
            ks = [0] if method == "zero-shot" else list(dict.fromkeys(k_shots))
            plan += [PlannedRun(method, k, seed) for k in ks]
    return plan


def check_script_args(script_args: list) -> None:
    for arg in script_args:
        flag = arg.split("=", 1)[0]
        if flag in RESERVED:
            raise ValueError(
                f"{flag} is set by the sweep for every run; give the sweep --methods, --k_shots and --seeds instead "
                f"(each run's output_dir is <sweep_dir>/<method>/k<K>/seed<seed>)."
            )


def run_argv(run: PlannedRun, sweep_dir: str, script_args: list) -> list:
    """The task-script arguments of one run: the sweep's script arguments, then the run's own."""
    argv = list(script_args)
    if not any(a.split("=", 1)[0] == "--source_model_cache_dir" for a in argv):
        argv += ["--source_model_cache_dir", os.path.join(os.path.abspath(sweep_dir), "source_models")]
    return argv + [
        "--method", run.method, "--k_shot", str(run.k), "--seed", str(run.seed),
        "--output_dir", os.path.abspath(run.folder(sweep_dir)),
    ]


def _options(script_args: list) -> list:
    """The script arguments as (flag, values) pairs in flag order: the same settings in another order compare equal."""
    groups = []
    for arg in script_args:
        if arg.startswith("--"):
            flag, eq, value = arg.partition("=")
            groups.append((flag, [value] if eq else []))
        elif groups:
            groups[-1][1].append(arg)
        else:
            groups.append(("", [arg]))
    # A stable sort keeps a repeated flag's occurrences in order: argparse lets the last one win.
    return sorted(((flag, tuple(values)) for flag, values in groups), key=lambda g: g[0])


def _comparable(settings: dict) -> dict:
    return {**settings, "script_args": _options(settings.get("script_args", []))}


def check_settings(sweep_dir: str, task: str, script: Optional[str], script_args: list, write: bool = True) -> None:
    """Refuse to continue a sweep with other training settings: its finished runs would be skipped, mixing settings.

    A new sweep records its settings in `sweep.json` (unless `write` is False, as in a dry run). The package's
    entry point is recorded as `run_<task>.py`, the shim sweeps ran before it: the same program, so that sweeps
    started through the shim continue.
    """
    name = os.path.basename(script) if script else f"run_{task}.py"
    settings = {"task": task, "script": name, "script_args": list(script_args)}
    path = os.path.join(sweep_dir, SETTINGS_NAME)
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            before = json.load(f)
        if _comparable(before) != _comparable(settings):
            raise ValueError(
                f"{sweep_dir} was started with {before}, now {settings}. Its finished runs would be skipped and the "
                f"table would mix settings: give the same arguments, use another --sweep_dir, or delete {path} if the "
                "change does not affect results."
            )
    elif write:
        os.makedirs(sweep_dir, exist_ok=True)
        write_json(path, settings)


class _Lock:
    """An exclusive, non-blocking `flock` on a file; released by the kernel when every holder dies."""

    def __init__(self, path: str):
        self.path, self.fd = path, None

    def acquire(self) -> bool:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): one sweep per folder
            return True
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def note(self, text: str) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, text.encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor releases the flock
            self.fd = None


def _die_with_parent(parent: int):
    def setup():
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            except OSError:
                pass
        if os.getppid() != parent:  # the sweep died before prctl took effect
            os._exit(1)

    return setup


def run_command(task: str, script: Optional[str], argv: list, launcher: Optional[str] = None) -> list:
    """The command of one run: the package's `train <task>` entry point, or `script`, under `launcher` if given."""
    program = [script] if script else ["-m", "hf_mixtrain", "train", task]
    return (shlex.split(launcher) if launcher else [sys.executable]) + program + argv


def _run_subprocess(command: list, folder: str, lock: _Lock) -> int:
    env = dict(os.environ)
    # The child imports the same hf_mixtrain as this process (installed, or a checkout run in place).
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    with open(os.path.join(folder, LOG_NAME), "w", encoding="utf-8") as log:
        log.write("$ " + shlex.join(command) + "\n")
        log.flush()
        child = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env,
            pass_fds=(lock.fd,) if lock.fd is not None else (),  # the child holds the run's lock too
            preexec_fn=_die_with_parent(os.getpid()) if os.name == "posix" else None,
        )
        lock.note(f"{child.pid}\n")
        try:
            return child.wait()
        except BaseException:  # Ctrl-C or an error in the sweep: do not leave the run behind
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
            raise


def _run_in_process(task: str, script: Optional[str], argv: list) -> int:
    try:
        if script:
            spec = importlib.util.spec_from_file_location(f"_sweep_{os.path.basename(script)[:-3]}", script)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.main(argv)
        else:
            from .cli import train

            train(task, argv)
        return 0
    except Exception:
        logger.exception("run failed: %s", shlex.join(run_command(task, script, argv)))
        return 1
    finally:
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass


def run_sweep(
    task: str,
    sweep_dir: str,
    methods: list,
    k_shots: list,
    seeds: list,
    script_args: list = (),
    *,
    script: Optional[str] = None,
    in_process: bool = False,
    keep_going: bool = False,
    launcher: Optional[str] = None,
    progress: bool = True,
) -> SweepSummary:
    """Run every planned run that is not finished yet (see the module docstring); returns what happened.

    Args:
        task: the task ("ner", "pos", "qa", "xnli"): each run is `hf-mixtrain train <task>` unless `script` is given.
        sweep_dir: the sweep's folder; created if missing.
        methods, k_shots, seeds: the grid (zero-shot runs once per seed, as K = 0).
        script_args: arguments passed to every run (model, data, training settings); not --method, --k_shot,
            --seed or --output_dir, which the sweep sets.
        script: a script of your own taking the task-script arguments and writing run.json / test_results.json.
        in_process: run here (the script's main()) instead of a fresh process per run.
        keep_going: go on after a failed run (default: stop at the first failure).
        launcher: a command that starts each run instead of this Python (e.g. "torchrun --nproc_per_node 2").
        progress: show a tqdm bar over runs.
    """
    script_args = list(script_args)
    check_script_args(script_args)
    script = os.path.abspath(script) if script else None
    plan = plan_runs(methods, k_shots, seeds)
    check_settings(sweep_dir, task, script, script_args)
    summary = SweepSummary()
    bar = tqdm(total=len(plan), unit="run", disable=not progress, dynamic_ncols=True)
    try:
        for run in plan:
            folder = run.folder(sweep_dir)
            bar.set_description(run.name)
            if is_complete(folder, run.method, run.k, run.seed):
                summary.skipped.append(run.name)
                bar.update(1)
                continue
            lock = _Lock(folder + ".lock")
            if not lock.acquire():
                logger.warning("%s is in progress in another sweep: skipped", run.name)
                summary.busy.append(run.name)
                bar.update(1)
                continue
            try:
                if is_complete(folder, run.method, run.k, run.seed):  # finished by another sweep meanwhile
                    summary.skipped.append(run.name)
                    continue
                if os.path.exists(folder):
                    logger.warning("%s: clearing the unfinished run in %s", run.name, folder)
                    shutil.rmtree(folder)
                os.makedirs(folder)
                argv = run_argv(run, sweep_dir, script_args)
                start = time.time()
                if in_process:
                    code = _run_in_process(task, script, argv)
                else:
                    code = _run_subprocess(run_command(task, script, argv, launcher), folder, lock)
                done = code == 0 and is_complete(folder, run.method, run.k, run.seed)
                if done:
                    summary.finished.append(run.name)
                    logger.info("%s finished in %.0f s", run.name, time.time() - start)
                    write_index(sweep_dir)
                else:
                    why = f"exit code {code}" if code else "the script exited 0 but left no complete results"
                    log = os.path.join(folder, LOG_NAME)
                    summary.failed.append(run.name)
                    message = f"{run.name} failed ({why}); see {log if os.path.isfile(log) else 'the log above'}"
                    if not keep_going:
                        raise RuntimeError(message + ". Fix it and run the sweep again: finished runs are skipped.")
                    logger.error(message)
            finally:
                lock.release()
                bar.update(1)
    finally:
        bar.close()
    logger.info(
        "sweep %s: %d run now, %d already finished, %d in progress elsewhere, %d failed",
        sweep_dir, len(summary.finished), len(summary.skipped), len(summary.busy), len(summary.failed),
    )
    return summary
