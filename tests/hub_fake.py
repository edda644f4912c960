"""A recording stand-in for the Hugging Face Hub API, so push flows are tested offline.

`Trainer.init_hf_repo`, `Trainer.push_to_hub` and `Trainer._push_from_checkpoint` (transformers 5.23) reach the
Hub only through `transformers.utils.hub.hf_api()`, which returns the module-level `_hf_api` once set. `install`
puts a `RecordingHubApi` there. It records every call, keeps a copy of the files each upload would send (filtered
with huggingface_hub's own pattern rules, at call time), and fails loudly on any Hub method it does not implement.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from huggingface_hub import CommitInfo, RepoUrl
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects


class RecordingHubApi:
    """Implements the `HfApi` methods the Trainer calls: `create_repo` and `upload_folder`."""

    def __init__(self):
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.repos: dict[str, dict[str, bytes]] = {}  # repo id -> {path in repo: content at the last commit}
        self.commits: list[dict[str, Any]] = []

    def create_repo(self, repo_id: str, *, token=None, private=None, repo_type=None, exist_ok=False, **kwargs):
        self.calls.append(("create_repo", dict(repo_id=repo_id, private=private, repo_type=repo_type, exist_ok=exist_ok, **kwargs)))
        if repo_id in self.repos and not exist_ok:
            raise ValueError(f"repository {repo_id} already exists (exist_ok=False)")
        self.repos.setdefault(repo_id, {})
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(
        self,
        *,
        repo_id: str,
        folder_path,
        path_in_repo=None,
        commit_message=None,
        token=None,
        revision=None,
        allow_patterns=None,
        ignore_patterns=None,
        run_as_future=False,
        **kwargs,
    ):
        call = dict(
            repo_id=repo_id,
            folder_path=str(folder_path),
            path_in_repo=path_in_repo,
            commit_message=commit_message,
            revision=revision,
            allow_patterns=allow_patterns,
            ignore_patterns=ignore_patterns,
            run_as_future=run_as_future,
            **kwargs,
        )
        self.calls.append(("upload_folder", call))
        if repo_id not in self.repos:
            raise ValueError(f"upload to {repo_id}, a repository never created")
        folder = Path(folder_path)
        local = {p.relative_to(folder).as_posix(): p for p in sorted(folder.glob("**/*")) if p.is_file()}
        ignore = [ignore_patterns] if isinstance(ignore_patterns, str) else list(ignore_patterns or [])
        kept = filter_repo_objects(local, allow_patterns=allow_patterns, ignore_patterns=ignore + DEFAULT_IGNORE_PATTERNS)
        prefix = f"{path_in_repo.strip('/')}/" if path_in_repo else ""
        files = {prefix + name: local[name].read_bytes() for name in kept}
        self.repos[repo_id].update(files)
        oid = hashlib.sha1(f"{len(self.commits)}:{commit_message}".encode()).hexdigest()
        self.commits.append({"repo_id": repo_id, "message": commit_message, "files": files, "oid": oid})
        info = CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{oid}",
            commit_message=commit_message or "",
            commit_description="",
            oid=oid,
        )
        if run_as_future:
            future: Future = Future()
            future.set_result(info)
            return future
        return info

    def calls_to(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for called, kwargs in self.calls if called == name]

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AssertionError(f"unexpected Hub call HfApi.{name}: RecordingHubApi does not implement it")


def install(monkeypatch) -> RecordingHubApi:
    """Route transformers' Hub calls to a new `RecordingHubApi` for the current test."""
    import transformers.utils.hub

    fake = RecordingHubApi()
    monkeypatch.setattr(transformers.utils.hub, "_hf_api", fake)
    return fake
