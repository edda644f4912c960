"""assemble(): the right pieces for every method, deterministic, with clear errors."""

from collections import Counter

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from data_fixtures import WIKIANN_TAGS, XNLI_LABELS, install_fake_hub, xnli_split
from hf_mixtrain.data import METHODS, DataError, MixedData, assemble, load_languages, sample_k_shot

TARGETS = ["de", "sw", "ar"]


@pytest.fixture
def ner(monkeypatch):
    install_fake_hub(monkeypatch)
    return load_languages("ner", ["en"] + TARGETS)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gets_its_pieces(ner, method):
    k = 0 if method == "zero-shot" else 3
    mixed = assemble("ner", ner, source="en", targets=TARGETS, k=k, seed=1, method=method)
    assert isinstance(mixed, MixedData)
    assert (mixed.task, mixed.source, mixed.targets, mixed.k, mixed.seed, mixed.unit, mixed.method) == \
        ("ner", "en", TARGETS, k, 1, "sentences", method)
    assert mixed.languages == ["en"] + TARGETS
    assert mixed.label_names == WIKIANN_TAGS
    assert mixed.source_train["tokens"] == ner["en"]["train"]["tokens"]
    assert set(mixed.test) == {"en", *TARGETS}
    assert all(mixed.test[lang]["tokens"] == ner[lang]["test"]["tokens"] for lang in mixed.test)
    assert mixed.source_dev["tokens"] == ner["en"]["validation"]["tokens"]
    if method == "zero-shot":
        assert mixed.shots == {} and list(mixed.oracle_pools) == ["en"]
        assert mixed.train["tokens"] == ner["en"]["train"]["tokens"]
    else:
        assert list(mixed.shots) == TARGETS
        for lang in TARGETS:  # the shots are exactly sample_k_shot's, and tagged with their language
            assert mixed.shots[lang]["tokens"] == sample_k_shot(ner[lang]["train"], 3, seed=1)["tokens"]
            assert set(mixed.shots[lang]["lang"]) == {lang}
        assert list(mixed.oracle_pools) == ["en"] + TARGETS
        assert mixed.oracle_pools["en"]["tokens"] == ner["en"]["train"]["tokens"]
        assert mixed.oracle_pools["sw"]["tokens"] == mixed.shots["sw"]["tokens"]
        expected = ner["en"]["train"]["tokens"][:] + [t for lang in TARGETS for t in mixed.shots[lang]["tokens"]]
        assert mixed.train["tokens"] == expected
        assert Counter(mixed.train["lang"]) == {"en": 60, "de": 3, "sw": 3, "ar": 3}
    if method == "ord-fs-dev":
        assert set(mixed.target_dev) == set(TARGETS)
        assert mixed.target_dev["de"]["tokens"] == ner["de"]["validation"]["tokens"]
    else:
        assert mixed.target_dev is None


def test_deterministic_and_seed_dependent(ner):
    a = assemble("ner", ner, targets=TARGETS, k=2, seed=5, method="gradient-mix")
    b = assemble("ner", ner, targets=list(reversed(TARGETS)), k=2, seed=5, method="naive-mix")
    c = assemble("ner", ner, targets=TARGETS, k=2, seed=6, method="gradient-mix")
    again = assemble("ner", ner, targets=TARGETS, k=2, seed=5, method="gradient-mix")
    assert a.train["tokens"] == again.train["tokens"]
    # a language's shots do not depend on the other targets or their order
    assert all(a.shots[lang]["tokens"] == b.shots[lang]["tokens"] for lang in TARGETS)
    assert all(a.shots[lang]["tokens"] != c.shots[lang]["tokens"] for lang in TARGETS)


def test_labels_unit_and_source_listed_among_targets(ner):
    mixed = assemble("ner", ner, targets=["en"] + TARGETS, k=1, seed=0, method="naive-mix", unit="labels")
    assert mixed.targets == TARGETS and mixed.unit == "labels"
    with pytest.raises(DataError, match="shot unit 'per_class' does not apply to task 'ner'"):
        assemble("ner", ner, targets=TARGETS, k=1, seed=0, method="naive-mix", unit="per_class")


def test_xnli_shots_per_class_from_dev_and_removed_from_target_dev(monkeypatch):
    install_fake_hub(monkeypatch)
    data = load_languages("xnli", ["en", "de", "fr"])
    mixed = assemble("xnli", data, targets=["de", "fr"], k=4, seed=3, method="ord-fs-dev")
    assert mixed.unit == "per_class" and mixed.label_names == XNLI_LABELS
    for lang in ("de", "fr"):
        shots, dev = mixed.shots[lang], mixed.target_dev[lang]
        assert Counter(shots["label"]) == {0: 4, 1: 4, 2: 4}
        assert set(shots["premise"]) <= set(data[lang]["validation"]["premise"])  # drawn from dev ...
        assert not set(shots["premise"]) & set(dev["premise"])  # ... and removed from it
        assert len(dev) == len(data[lang]["validation"]) - 12
        assert sorted(dev["premise"][:] + shots["premise"][:]) == sorted(data[lang]["validation"]["premise"])


def test_qa_questions(monkeypatch):
    install_fake_hub(monkeypatch)
    data = load_languages("qa", ["en", "ar", "sw"])
    mixed = assemble("qa", data, targets=["ar", "sw"], k=5, seed=0, method="gradient-mix")
    assert mixed.unit == "questions" and mixed.label_names is None and mixed.source_dev is None
    assert {lang: len(s) for lang, s in mixed.shots.items()} == {"ar": 5, "sw": 5}
    assert all(i.startswith("swahili-") for i in mixed.shots["sw"]["id"])
    assert len(mixed.train) == len(data["en"]["train"]) + 10


def test_missing_split_names_split_language_and_method(monkeypatch):
    install_fake_hub(monkeypatch)
    data = load_languages("pos", ["en", "de", "tl"])  # Tagalog: test only
    with pytest.raises(DataError, match=r"method 'naive-mix' needs splits that are missing: tl lacks 'train'"):
        assemble("pos", data, targets=["de", "tl"], k=2, seed=0, method="naive-mix")
    qa = load_languages("qa", ["en", "ar"])
    with pytest.raises(DataError, match=r"method 'ord-fs-dev' needs .*ar lacks 'validation'.*zero-shot"):
        assemble("qa", qa, targets=["ar"], k=2, seed=0, method="ord-fs-dev")
    mixed = assemble("pos", data, targets=["de", "tl"], k=0, seed=0, method="zero-shot")  # needs only test
    assert set(mixed.test) == {"en", "de", "tl"}


def test_bad_arguments(ner):
    with pytest.raises(DataError, match=r"unknown method 'pcgrad'; valid methods: zero-shot, ord-fs-dev"):
        assemble("ner", ner, targets=TARGETS, k=1, seed=0, method="pcgrad")
    with pytest.raises(DataError, match=r"method 'mix-ft' needs k >= 1"):
        assemble("ner", ner, targets=TARGETS, k=0, seed=0, method="mix-ft")
    with pytest.raises(DataError, match=r"language\(s\) \['fi'\] not in data"):
        assemble("ner", ner, targets=["de", "fi"], k=1, seed=0, method="naive-mix")
    with pytest.raises(DataError, match=r"language 'de': k=99 sentences asked but its pool has only 60"):
        assemble("ner", ner, targets=TARGETS, k=99, seed=0, method="naive-mix")
    mixed = assemble("ner", ner, targets=TARGETS, k=99, seed=0, method="naive-mix", allow_fewer=True)
    assert {lang: len(s) for lang, s in mixed.shots.items()} == {"de": 60, "sw": 60, "ar": 60}


def test_label_order_of_targets_follows_the_source(monkeypatch):
    install_fake_hub(monkeypatch)
    data = load_languages("xnli", ["en", "de"])
    reordered = list(reversed(XNLI_LABELS))
    features = Features({"premise": Value("string"), "hypothesis": Value("string"),
                         "label": ClassLabel(names=reordered), "lang": Value("string")})
    dev = xnli_split("de", "validation", 30)
    flipped = Dataset.from_dict({"premise": dev["premise"], "hypothesis": dev["hypothesis"],
                                 "label": [2 - y for y in dev["label"]], "lang": ["de"] * 30}, features=features)
    data["de"] = DatasetDict(validation=flipped, test=flipped)
    mixed = assemble("xnli", data, targets=["de"], k=2, seed=0, method="naive-mix")
    shots = mixed.shots["de"]
    assert shots.features["label"].names == XNLI_LABELS
    truth = dict(zip(dev["premise"], dev["label"]))
    assert all(truth[p] == y for p, y in zip(shots["premise"], shots["label"]))
    assert mixed.train.features["label"].names == XNLI_LABELS
