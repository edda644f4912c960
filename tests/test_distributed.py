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
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as e:
        # The ranks dump their stacks and exit after train_tiny.HANG_S, so a timeout here means the launcher itself
        # stuck; what the ranks wrote tells whether training had finished.
        written = sorted(os.listdir(out)) if os.path.isdir(out) else []
        pytest.fail(f"launch timed out; ranks wrote {written}\nstdout: {tail(e.stdout)}\nstderr: {tail(e.stderr)}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = []
    for rank in range(procs):
        with open(os.path.join(out, f"history_rank{rank}.json")) as f:
            info = json.load(f)
        assert info["world_size"] == procs
        ranks.append((torch.load(os.path.join(out, f"params_rank{rank}.pt")), info["history"]))
    return ranks


def tail(output, chars=3000):
    text = output.decode(errors="replace") if isinstance(output, bytes) else output or ""
    return text[-chars:]


def max_diff(a, b):
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("source", ["oracle_pool", "batch_split", "pairwise"])
def test_gradient_mix_two_processes_stay_identical(tmp_path, source):
    (p0, h0), (p1, h1) = run(tmp_path, "--ga", "2", "--steps", "4", "--dropout", "0.1", "--surgery_source", source, procs=2)
    assert max_diff(p0, p1) == 0.0
    if source == "pairwise":
        # Mixed batches: a process projects the micro-batches of its shard that hold both languages.
        assert h0 and h1 and all(e["lang"] == "en+xx" for e in h0 + h1)
        return
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


@pytest.mark.parametrize("method", ["naive-mix", "gradient-mix"])
def test_task_script_under_accelerate_launch(tmp_path, method):
    """The real `accelerate launch` command, two CPU processes (gloo), a task script end to end."""
    from helpers import tiny_config, tiny_tokenizer
    from test_scripts import argv as script_argv
    from transformers import BertModel

    model_dir = tmp_path / "model"
    tokenizer = tiny_tokenizer()
    BertModel(tiny_config(vocab_size=len(tokenizer)), add_pooling_layer=False).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out, dump = tmp_path / "out", tmp_path / "dump"
    args = script_argv("ner", method, str(model_dir), out, tmp_path / "cache", save_strategy="steps", save_steps=2)
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        os.path.join(ROOT, "tests", "scripts", "launch_task.py"), "ner", str(dump), *args,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    p0, p1 = (torch.load(dump / f"params_rank{r}.pt") for r in (0, 1))
    assert max_diff(p0, p1) == 0.0
    results = json.loads((out / "test_results.json").read_text())
    assert {"test_en_f1", "test_de_f1", "test_sw_f1", "test_avg_f1"} <= set(results)
    assert json.loads((out / "run.json").read_text())["environment"]["world_size"] == 2
    # Source-dev selection keeps the best checkpoint only (save_total_limit=1).
    (checkpoint,) = out.glob("checkpoint-*")
    assert (checkpoint / "rng_state_1.pth").exists() and (out / "model.safetensors").exists()
    if method == "gradient-mix":
        assert (out / "surgery_history.jsonl").exists()
    writes = {r: (dump / f"writes_rank{r}.txt").read_text().split("\n") for r in (0, 1)}
    in_output = {r: [w for w in writes[r] if w.startswith(str(out))] for r in (0, 1)}
    # Results are written through a temporary file in the same folder (files.write_text), then renamed.
    assert any(os.path.basename(w).startswith(".tmp-") and w.endswith("test_results.json") for w in in_output[0])
    assert any(w.endswith("model.safetensors") for w in in_output[0])
    # Rank 1 writes nothing into the output folder but its own RNG state in each checkpoint (the Trainer's design).
    assert all(os.path.basename(w) == "rng_state_1.pth" for w in in_output[1]), in_output[1]


def launch_methods(dump, procs, batch):
    """All six methods on tiny XNLI in one launch of `procs` processes, `batch` rows per process."""
    from helpers import tiny_config, tiny_tokenizer
    from transformers import BertModel

    model_dir = dump.parent / "model"
    if not model_dir.exists():
        tokenizer = tiny_tokenizer()
        BertModel(tiny_config(vocab_size=len(tokenizer)), add_pooling_layer=False).save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
    args = [
        "--model_name_or_path", str(model_dir), "--target_languages", "de,fr", "--k_shot", "2", "--max_seq_length", "32",
        "--use_cpu", "true", "--report_to", "none", "--disable_tqdm", "true", "--max_steps", "4",
        "--per_device_train_batch_size", str(batch), "--gradient_accumulation_steps", "1", "--learning_rate", "1e-3",
        "--eval_strategy", "steps", "--eval_steps", "1", "--adapt_num_train_epochs", "3",
        "--adapt_batch_size", str(batch // 2), "--max_train_samples", "24", "--max_test_samples", "8",
        "--max_eval_samples", "8", "--surgery_sync", "global", "--oracle_source_batch_size", "2", "--seed", "3",
    ]
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1", "--mixed_precision", "no",
                "--dynamo_backend", "no", "--num_processes", str(procs)]
    launcher += ["--multi_gpu", "--main_process_port", "0"] if procs > 1 else ["--cpu"]
    cmd = launcher + [os.path.join(ROOT, "tests", "scripts", "launch_methods.py"), str(dump), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


def test_every_method_on_two_processes_matches_one(tmp_path):
    """Every method under `accelerate launch` on 2 processes: the ranks agree after every checkpoint selection (the
    best checkpoint is never the last), the cache keeps only the cached models, and the test results are those
    of one process with the same global batch."""
    from hf_mixtrain.data.assembly import METHODS

    two, one = tmp_path / "two", tmp_path / "one"
    launch_methods(two, procs=2, batch=2)
    launch_methods(one, procs=1, batch=4)
    for method in METHODS:
        stages = sorted(p.name[: -len("_rank0.pt")] for p in (two / "params" / method).glob("*_rank0.pt"))
        assert stages, method
        for stage in stages:
            p0, p1 = (torch.load(two / "params" / method / f"{stage}_rank{r}.pt") for r in (0, 1))
            assert max_diff(p0, p1) == 0.0, (method, stage)
            single = torch.load(one / "params" / method / f"{stage}_rank0.pt")
            assert max_diff(p0, single) < 1e-5, (method, stage)  # the same model as one process, up to summation order
        results = {n: json.loads((d / method / "test_results.json").read_text()) for n, d in (("two", two), ("one", one))}
        assert results["two"] == pytest.approx(results["one"], abs=1e-6), method
        if method in ("naive-mix", "gradient-mix"):  # selected on the source dev set: the first evaluation won
            assert [p.name for p in (two / method).glob("checkpoint-*")] == ["checkpoint-1"], method
    # The source model was trained once (by zero-shot, the first method), and nothing else was left in the cache.
    assert [m for m in METHODS if (two / "params" / m / "source_rank1.pt").exists()] == ["zero-shot"]
    (cached,) = os.listdir(two / "cache")
    assert cached.startswith("xnli-en-seed3-") and (two / "cache" / cached / "source_training.json").exists()
    assert not [p for p in (two / "cache" / cached).iterdir() if p.name.startswith("checkpoint-")]
