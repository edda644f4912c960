"""run_scripts/run_experiments.py and hf_mixtrain.sweep: the plan, resuming, and surviving kill -9."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from data_fixtures import install_fake_hub
from helpers import tiny_config, tiny_tokenizer
from transformers import BertModel

from hf_mixtrain.analysis import read_index, scan_runs
from hf_mixtrain.sweep import PlannedRun, plan_runs, run_sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "run_scripts", "run_experiments.py")
TRAINING = [
    "--use_cpu", "true", "--report_to", "none", "--disable_tqdm", "true", "--max_steps", "3",
    "--per_device_train_batch_size", "4", "--gradient_accumulation_steps", "1", "--learning_rate", "1e-3",
    "--save_strategy", "no", "--selection", "last", "--adapt_num_train_epochs", "1", "--adapt_batch_size", "2",
    "--max_seq_length", "32", "--max_train_samples", "16", "--max_test_samples", "6",
]


def experiments_script():
    spec = importlib.util.spec_from_file_location("run_experiments", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-model")
    tokenizer = tiny_tokenizer()
    BertModel(tiny_config(vocab_size=len(tokenizer)), add_pooling_layer=False).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def test_plan_puts_source_training_first_and_zero_shot_once_per_seed():
    plan = plan_runs(["gradient-mix", "ord-fs", "zero-shot", "naive-mix"], [1, 5], [2, 1])
    assert plan[:5] == [
        PlannedRun("zero-shot", 0, 2), PlannedRun("ord-fs", 1, 2), PlannedRun("ord-fs", 5, 2),
        PlannedRun("gradient-mix", 1, 2), PlannedRun("gradient-mix", 5, 2),
    ]
    assert len(plan) == 2 * (1 + 3 * 2)
    assert [r for r in plan if r.method == "zero-shot"] == [PlannedRun("zero-shot", 0, 2), PlannedRun("zero-shot", 0, 1)]
    assert plan[0].folder("s") == os.path.join("s", "zero-shot", "k0", "seed2")
    with pytest.raises(ValueError, match="Unknown method.*gradmix.*valid: zero-shot"):
        plan_runs(["gradmix"], [1], [1])
    with pytest.raises(ValueError, match="K must be >= 1"):
        plan_runs(["naive-mix"], [0], [1])


def test_script_arguments_the_sweep_owns_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="--seed is set by the sweep.*--seeds"):
        run_sweep("pos", str(tmp_path), ["naive-mix"], [1], [1], ["--seed", "3"], in_process=True)
    main = experiments_script().main
    with pytest.raises(ValueError, match="--output_dir is set by the sweep"):
        main(["--task", "pos", "--sweep_dir", str(tmp_path), "--output_dir=x", "--dry_run"])
    main(["--task", "pos", "--sweep_dir", str(tmp_path), "--methods", "zero-shot,naive-mix", "--k_shots", "5",
          "--seeds", "1", "--dry_run", "--max_train_samples", "8"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["zero-shot K=0 seed=1", "naive-mix K=5 seed=1"]
    assert "to run" in lines[1] and "--max_train_samples 8" in lines[1] and "--k_shot 5 --seed 1" in lines[1]
    assert experiments_script().benchmark_task("my-offline-ner") == "ner"
    with pytest.raises(ValueError, match="pass --task"):
        experiments_script().benchmark_task("mystery")


def _mtimes(sweep):
    return {r.run_dir: os.path.getmtime(os.path.join(r.run_dir, "run.json")) for r in scan_runs(sweep)}


def test_sweep_runs_once_and_resumes(tiny_model_dir, tmp_path, monkeypatch):
    install_fake_hub(monkeypatch)
    sweep = str(tmp_path / "sweep")
    args = ["--model_name_or_path", tiny_model_dir, "--target_languages", "de", *TRAINING]
    grid = (["gradient-mix", "ord-fs"], [2], [1, 2])
    first = run_sweep("pos", sweep, *grid, args, in_process=True, progress=False)
    assert first.finished == ["ord-fs K=2 seed=1", "gradient-mix K=2 seed=1", "ord-fs K=2 seed=2", "gradient-mix K=2 seed=2"]
    records = scan_runs(sweep)
    assert {(r.method, r.k, r.seed) for r in records} == {(m, 2, s) for m in grid[0] for s in (1, 2)}
    assert all(r.run_dir.startswith(os.path.join(sweep, r.method, "k2", f"seed{r.seed}")) for r in records)
    # The source model is cached inside the sweep, once per seed.
    assert sorted(name.split("-")[2] for name in os.listdir(os.path.join(sweep, "source_models"))) == ["seed1", "seed2"]
    assert len(read_index(sweep)) == 4
    before = _mtimes(sweep)

    again = run_sweep("pos", sweep, *grid, args, in_process=True, progress=False)
    assert again.finished == [] and len(again.skipped) == 4
    assert _mtimes(sweep) == before

    # A run killed between its two result files is redone, and only it; a lost index is rebuilt.
    redo = os.path.join(sweep, "gradient-mix", "k2", "seed1")
    os.remove(os.path.join(redo, "run.json"))
    os.remove(os.path.join(sweep, "results.jsonl"))
    third = run_sweep("pos", sweep, *grid, args, in_process=True, progress=False)
    assert third.finished == ["gradient-mix K=2 seed=1"] and len(third.skipped) == 3
    after = _mtimes(sweep)
    assert {d for d in after if after[d] != before.get(d)} == {redo}
    assert len(read_index(sweep)) == 4

    # Other training settings in the same sweep would mix settings in one table; the same ones in another order
    # (or as --flag=value) are the same settings.
    with pytest.raises(ValueError, match="was started with"):
        run_sweep("pos", sweep, *grid, args + ["--num_train_epochs", "2"], in_process=True, progress=False)
    reordered = ["--target_languages=de", *TRAINING, "--model_name_or_path", tiny_model_dir]
    assert sorted(reordered) != sorted(args) and reordered != args
    fourth = run_sweep("pos", sweep, *grid, reordered, in_process=True, progress=False)
    assert fourth.finished == [] and len(fourth.skipped) == 4
    main = experiments_script().main
    with pytest.raises(ValueError, match="was started with"):
        main(["--task", "pos", "--sweep_dir", sweep, "--methods", "ord-fs", "--k_shots", "2", "--seeds", "3",
              *args, "--num_train_epochs", "2", "--dry_run"])


def _write_pos_data(root):
    sentences = {"en": [("the", "DET"), ("john", "PROPN"), ("was", "AUX"), ("in", "ADP"), ("paris", "PROPN")],
                 "de": [("a", "DET"), ("smith", "PROPN"), ("is", "AUX"), ("in", "ADP"), ("berlin", "PROPN")]}
    for lang, sentence in sentences.items():
        os.makedirs(root / lang)
        for split, n in (("train", 12), ("validation", 4), ("test", 4)):
            with open(root / lang / f"{split}.conll", "w") as f:
                f.write("\n\n".join("\n".join(f"{t}\t{tag}" for t, tag in sentence) for _ in range(n)) + "\n")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (killed, not yet reaped by its new parent) counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kill -9 semantics and PR_SET_PDEATHSIG are Linux")
def test_kill_9_loses_only_the_run_in_progress(tiny_model_dir, tmp_path):
    _write_pos_data(tmp_path / "data")
    sweep = tmp_path / "sweep"
    command = [
        sys.executable, SCRIPT, "--task", "pos", "--methods", "naive-mix", "--k_shots", "2", "--seeds", "1,2",
        "--sweep_dir", str(sweep), "--no_progress",
        "--model_name_or_path", tiny_model_dir, "--data_dir", str(tmp_path / "data"), "--target_languages", "de",
        *TRAINING,
    ]
    env = {**os.environ, "PYTHONPATH": ROOT}
    first, second = sweep / "naive-mix" / "k2" / "seed1", sweep / "naive-mix" / "k2" / "seed2"
    sweep_process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        lock = sweep / "naive-mix" / "k2" / "seed2.lock"
        # The second run's process has started (its pid is in the run's lock file): the first run is finished.
        while not (lock.exists() and lock.read_text().strip()):
            assert sweep_process.poll() is None, "the sweep ended before its second run started"
            assert time.time() < deadline, "the sweep did not reach its second run in time"
            time.sleep(0.05)
        child = int(lock.read_text().split()[0])
        sweep_process.send_signal(signal.SIGKILL)
        sweep_process.wait()
    finally:
        if sweep_process.poll() is None:
            sweep_process.kill()
    assert (first / "run.json").exists() and not (second / "run.json").exists()
    deadline = time.time() + 10
    while _pid_alive(child):  # the run's process dies with the sweep (PR_SET_PDEATHSIG)
        assert time.time() < deadline, f"run process {child} outlived the killed sweep"
        time.sleep(0.05)
    finished_first = os.path.getmtime(first / "run.json")

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "1 run(s) done now, 1 already finished" in result.stdout
    assert os.path.getmtime(first / "run.json") == finished_first
    assert {(r.method, r.seed) for r in scan_runs(str(sweep))} == {("naive-mix", 1), ("naive-mix", 2)}
    with open(second / "run.json") as f:
        assert json.load(f)["seed"] == 2


def test_failed_runs_stop_the_sweep_or_are_skipped_with_keep_going(tiny_model_dir, tmp_path, monkeypatch):
    install_fake_hub(monkeypatch)
    args = ["--model_name_or_path", tiny_model_dir, "--target_languages", "xx", *TRAINING]  # no such language
    with pytest.raises(RuntimeError, match="naive-mix K=2 seed=1 failed .exit code 1.*finished runs are skipped"):
        run_sweep("pos", str(tmp_path / "a"), ["naive-mix"], [2], [1, 2], args, in_process=True, progress=False)
    summary = run_sweep("pos", str(tmp_path / "b"), ["naive-mix"], [2], [1, 2], args, in_process=True,
                        keep_going=True, progress=False)
    assert summary.failed == ["naive-mix K=2 seed=1", "naive-mix K=2 seed=2"] and summary.finished == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock")
def test_a_run_locked_by_another_sweep_is_left_to_it(tmp_path):
    import fcntl

    sweep = tmp_path / "s"
    (sweep / "naive-mix" / "k2").mkdir(parents=True)
    with open(sweep / "naive-mix" / "k2" / "seed1.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        summary = run_sweep("pos", str(sweep), ["naive-mix"], [2], [1], ["--max_steps", "1"], in_process=True,
                            progress=False)
    assert summary.busy == ["naive-mix K=2 seed=1"] and summary.finished == [] and summary.failed == []
    assert not (sweep / "naive-mix" / "k2" / "seed1").exists()
