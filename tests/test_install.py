"""A plain (not editable) install runs a sweep through the `hf-mixtrain` console script, away from the checkout.

The venv sees the already installed dependencies (--system-site-packages) and gets hf-mixtrain itself built from a
copy of the tracked files; the sweep runs from an empty folder, so nothing of the checkout can be imported.
"""

import json
import os
import shutil
import subprocess
import sys

from helpers import tiny_config, tiny_tokenizer
from transformers import BertModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pip_install_then_hf_mixtrain_sweep_runs_two_runs(tmp_path):
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(ROOT, name), source / name)
    venv = tmp_path / "venv"
    # --without-pip: the venv then uses the installed pip and setuptools (ensurepip would bring an old setuptools).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python, cli = venv / "bin" / "python", venv / "bin" / "hf-mixtrain"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                              str(source)], capture_output=True, text=True, env=env)
    assert install.returncode == 0, install.stderr[-3000:]

    model = tmp_path / "model"
    tokenizer = tiny_tokenizer()
    BertModel(tiny_config(vocab_size=len(tokenizer)), add_pooling_layer=False).save_pretrained(model)
    tokenizer.save_pretrained(model)
    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run([str(python), "-c", "import hf_mixtrain; print(hf_mixtrain.__file__)"], cwd=work,
                           capture_output=True, text=True, env=env)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr  # the installed copy, not the checkout

    sweep = subprocess.run([
        str(cli), "sweep", "--task", "pos", "--sweep_dir", "sweep", "--methods", "naive-mix,gradient-mix",
        "--k_shots", "2", "--seeds", "1", "--no_progress",
        "--model_name_or_path", str(model), "--data_dir", os.path.join(ROOT, "examples", "data", "pos"),
        "--target_languages", "de", "--use_cpu", "true", "--report_to", "none", "--max_steps", "2",
        "--per_device_train_batch_size", "4", "--selection", "last", "--save_strategy", "no", "--max_seq_length", "32",
    ], cwd=work, capture_output=True, text=True, env=env, timeout=600)
    assert sweep.returncode == 0, sweep.stdout[-2000:] + sweep.stderr[-3000:]
    assert "2 run(s) done now" in sweep.stdout
    for method in ("naive-mix", "gradient-mix"):
        run = work / "sweep" / method / "k2" / "seed1"
        assert json.loads((run / "run.json").read_text())["method"] == method
        assert "-m hf_mixtrain train pos" in (run / "run.log").read_text().splitlines()[0]
