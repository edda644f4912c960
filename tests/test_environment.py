"""hf_mixtrain.environment: the commit of a checkout (against git itself), the versions (against the modules)."""

import os
import subprocess

import pytest
import torch
import transformers

import hf_mixtrain
from hf_mixtrain.environment import describe, environment, source_commit


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A git work tree with a package `pkg/` at its top and a notes file beside it, one commit."""
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "__init__.py").write_text("x = 1\n")
    (repo / "notes.md").write_text("notes\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return repo


def test_source_commit_of_a_checkout(checkout):
    assert source_commit(str(checkout / "pkg")) == {"commit": git(checkout, "rev-parse", "HEAD"), "dirty": False}
    (checkout / "notes.md").write_text("more notes\n")  # outside the package: not what ran
    assert source_commit(str(checkout / "pkg"))["dirty"] is False
    (checkout / "pkg" / "new.py").write_text("y = 2\n")  # an untracked module of the package is
    assert source_commit(str(checkout / "pkg"))["dirty"] is True


def test_no_commit_outside_a_checkout_top(checkout, tmp_path):
    # A package nested deeper in some repository (site-packages inside a project's tree) is not that repo's code.
    nested = checkout / "venv" / "site-packages" / "pkg"
    nested.mkdir(parents=True)
    assert source_commit(str(nested)) is None
    plain = tmp_path / "plain" / "pkg"
    plain.mkdir(parents=True)
    assert source_commit(str(plain)) is None


def test_environment_names_what_ran():
    env = environment(world_size=3)
    assert env["torch"] == torch.__version__ and env["transformers"] == transformers.__version__
    assert env["hf_mixtrain"] == hf_mixtrain.__version__ and env["world_size"] == 3
    assert env["torch_threads"] == torch.get_num_threads() and env["torch_cuda"] == torch.version.cuda
    root = os.path.dirname(os.path.dirname(os.path.abspath(hf_mixtrain.__file__)))
    if os.path.isdir(os.path.join(root, ".git")):  # the tests of a checkout (CI: an editable install of a clone)
        assert env["source"]["commit"] == git(root, "rev-parse", "HEAD")
    assert env["accelerator"] is None or env["accelerator"]["count"] >= 1


def test_describe_by_hand():
    env = {"hf_mixtrain": "0.1.0", "source": {"commit": "0123456789abcdef", "dirty": True}, "torch": "2.13.0+cpu",
           "transformers": "5.23.0", "cpu": "AMD EPYC", "accelerator": None, "torch_threads": 1, "world_size": 1}
    assert describe(env) == ("commit 0123456789 (dirty), torch 2.13.0+cpu, transformers 5.23.0, AMD EPYC, "
                             "1 thread(s), 1 process(es)")
    gpu = {**env, "source": None, "accelerator": {"name": "NVIDIA H200", "count": 2}, "world_size": 2}
    assert describe(gpu) == ("hf_mixtrain 0.1.0, torch 2.13.0+cpu, transformers 5.23.0, NVIDIA H200, "
                             "1 thread(s), 2 process(es)")
    assert describe(None).startswith("not recorded")
