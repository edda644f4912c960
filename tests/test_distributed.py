"""Two CPU processes (gloo) against each other and against one process with the same global batch."""

import json
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "scripts", "train_tiny.py")


def run(out, *extra, procs=1):
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"] if procs > 1 else [sys.executable]
    cmd = launcher + [SCRIPT, "--out", str(out), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = []
    for rank in range(procs):
        with open(os.path.join(out, f"history_rank{rank}.json")) as f:
            info = json.load(f)
        assert info["world_size"] == procs
        ranks.append((torch.load(os.path.join(out, f"params_rank{rank}.pt")), info["history"]))
    return ranks


def max_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("source", ["oracle_pool", "batch_split"])
def test_gradient_mix_two_processes_stay_identical(tmp_path, source):
    (p0, h0), (p1, h1) = run(tmp_path, "--ga", "2", "--steps", "4", "--dropout", "0.1", "--surgery_source", source, procs=2)
    assert max_diff(p0, p1) == 0.0
    if source == "batch_split":
        # Each process holds its own language batches; both split every micro-batch and end identical.
        assert len(h0) == len(h1) == 8
        return
    assert len(h0) == 7  # 4 optimizer steps over 7 micro-batches (the epoch ends on a partial window)
    assert [(e["step"], e["micro_step"], e["lang"], e["rows"]) for e in h0] == [
        (e["step"], e["micro_step"], e["lang"], e["rows"]) for e in h1
    ]
    # Local surgery: each process projected its own gradient, so what the ranks measured differs.
    assert [e["cosine"] for e in h0] != [e["cosine"] for e in h1]


def test_naive_mix_two_processes_match_one_process_with_the_same_global_batch(tmp_path):
    ((p2, _), _) = run(tmp_path / "two", "--method", "naive-mix", "--bs", "4", "--ga", "2", "--steps", "3", procs=2)
    ((p1, _),) = run(tmp_path / "one", "--method", "naive-mix", "--bs", "8", "--ga", "2", "--steps", "3")
    assert max_diff(p1, p2) < 1e-5


@pytest.mark.parametrize("every", ["micro_batch", "optimizer_step"])
def test_global_surgery_matches_one_process_with_the_same_global_batch(tmp_path, every):
    # With surgery_sync="global" both gradients are averaged before projecting: the single-process surgery.
    common = ("--surgery_every", every, "--ga", "2", "--steps", "3")
    (p0, h0), (p1, _) = run(tmp_path / "two", "--surgery_sync", "global", "--bs", "4", *common, procs=2)
    ((p, h),) = run(tmp_path / "one", "--bs", "8", *common)
    assert len(h) == (6 if every == "micro_batch" else 3)
    assert max_diff(p0, p1) == 0.0
    assert [e["lang"] for e in h0] == [e["lang"] for e in h]
    assert [e["projected"] for e in h0] == [e["projected"] for e in h]
    assert [e["cosine"] for e in h0] == pytest.approx([e["cosine"] for e in h], abs=1e-4)
    assert max_diff(p0, p) < 1e-5
