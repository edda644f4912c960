"""What a run ran on: the hf_mixtrain commit, package versions, processor, accelerator, threads and processes.

Recorded in run.json because a run is reproduced bit for bit on one machine and setup, not across them (another CPU
or torch build changes the floating-point reduction order, and a few-shot fine-tune amplifies it). When a rerun
differs, this record is the first thing to compare.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from typing import Optional

PACKAGES = ("transformers", "datasets", "accelerate", "huggingface_hub")


def source_commit(package_dir: str) -> Optional[dict]:
    """`{"commit": sha, "dirty": bool}` when `package_dir` is a folder at the top of a git work tree (an editable
    install of a checkout), else None: a package installed into site-packages has no commit to name, and a git
    repository merely around site-packages is not this package's. `dirty`: uncommitted changes in the package's
    own files (results or notes elsewhere in the tree do not change what ran)."""
    package_dir = os.path.abspath(package_dir)

    def git(*args) -> Optional[str]:
        try:
            done = subprocess.run(["git", "-C", package_dir, *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or os.path.realpath(top) != os.path.realpath(os.path.dirname(package_dir)):
        return None
    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", ".")
    if sha is None or status is None:
        return None
    return {"commit": sha, "dirty": bool(status)}


def processor() -> str:
    """The CPU's model name: Linux's /proc/cpuinfo, else what `platform` knows (an architecture at least)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(world_size: int = 1) -> dict:
    """This process's environment, as run.json records it."""
    import torch

    from . import __version__

    env = {
        "hf_mixtrain": __version__,
        "source": source_commit(os.path.dirname(os.path.abspath(__file__))),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,  # None for a CPU build
        "cpu": processor(),
        "torch_threads": torch.get_num_threads(),
        "accelerator": None,
        "world_size": world_size,
    }
    env.update({name: importlib.metadata.version(name) for name in PACKAGES})
    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        env["accelerator"] = {
            "name": torch.cuda.get_device_name(index),
            "count": torch.cuda.device_count(),
            "cudnn": torch.backends.cudnn.version(),
        }
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        env["accelerator"] = {"name": "mps", "count": 1}
    return env


def describe(env: Optional[dict]) -> str:
    """One line naming what decides whether two runs can agree bit for bit (code, torch, processor, threads,
    processes); runs with the same line and arguments reproduce each other."""
    if env is None:
        return "not recorded (run.json from before the environment was recorded)"
    source = env.get("source")
    if source:
        code = f"commit {source['commit'][:10]}{' (dirty)' if source['dirty'] else ''}"
    else:
        code = f"hf_mixtrain {env['hf_mixtrain']}"
    device = env["accelerator"]["name"] if env.get("accelerator") else env["cpu"]
    return (f"{code}, torch {env['torch']}, transformers {env['transformers']}, {device}, "
            f"{env['torch_threads']} thread(s), {env['world_size']} process(es)")
