"""K-shot sampling: seeded, stable in a fresh process, and meeting each unit's counts."""

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, Features, List, Value
from seqeval.metrics.sequence_labeling import get_entities

from data_fixtures import WIKIANN_TAGS, install_fake_hub
from hf_mixtrain.data import DataError, load_language, sample_k_shot, sample_rows
from hf_mixtrain.data.sampling import _label_counts

ROOT = Path(__file__).resolve().parents[1]

# Builds pools through the Hub code path (fake Hub) and prints the shots of every unit.
SHOTS_SCRIPT = """
import json, sys
sys.path.insert(0, "tests")
import hf_mixtrain.data.hub as hub
from data_fixtures import FakeHub, hub_table
from hf_mixtrain.data import load_language, sample_k_shot
hub.load_hub_dataset = FakeHub(hub_table())
ner = load_language("ner", "sw")["train"]
pos = load_language("pos", "de")["train"]
xnli = load_language("xnli", "de")["validation"]
qa = load_language("qa", "ar")["train"]
print(json.dumps({
    "sentences": sample_k_shot(ner, 5, seed=SEED)["tokens"][:],
    "labels": sample_k_shot(pos, 2, seed=SEED, unit="labels")["tokens"][:],
    "per_class": sample_k_shot(xnli, 3, seed=SEED, unit="per_class")["premise"][:],
    "questions": sample_k_shot(qa, 4, seed=SEED, unit="questions")["id"][:],
}))
"""


def shots_in_fresh_process(seed):
    env = dict(os.environ, PYTHONHASHSEED="4321", HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", SHOTS_SCRIPT.replace("SEED", str(seed))], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_same_seed_same_shots_in_a_fresh_process_different_seeds_differ(monkeypatch):
    install_fake_hub(monkeypatch)
    here = {
        "sentences": sample_k_shot(load_language("ner", "sw")["train"], 5, seed=3)["tokens"][:],
        "labels": sample_k_shot(load_language("pos", "de")["train"], 2, seed=3, unit="labels")["tokens"][:],
        "per_class": sample_k_shot(load_language("xnli", "de")["validation"], 3, seed=3,
                                   unit="per_class")["premise"][:],
        "questions": sample_k_shot(load_language("qa", "ar")["train"], 4, seed=3, unit="questions")["id"][:],
    }
    fresh = shots_in_fresh_process(3)
    assert fresh == here
    other = shots_in_fresh_process(4)
    assert all(other[unit] != here[unit] for unit in here)


def test_sentences_are_a_seeded_prefix_of_a_permutation(monkeypatch):
    install_fake_hub(monkeypatch)
    pool = load_language("ner", "de")["train"]
    five, ten = sample_k_shot(pool, 5, seed=1), sample_k_shot(pool, 10, seed=1)
    assert ten["tokens"][:5] == five["tokens"][:]  # "shuffle, keep the first K": larger K extends smaller K
    assert len({tuple(t) for t in ten["tokens"]}) == 10
    assert set(map(tuple, ten["tokens"])) <= set(map(tuple, pool["tokens"]))
    # the stream is keyed by the language: the same pool tagged with another code gives other shots
    assert sample_k_shot(pool, 5, seed=1, lang="xx")["tokens"][:] != five["tokens"][:]
    assert sample_k_shot(pool, 0, seed=1).num_rows == 0


def test_label_counts_by_hand():
    names = WIKIANN_TAGS  # O B-PER I-PER B-ORG I-ORG B-LOC I-LOC
    rows = [[1, 2, 2], [0, 6], [3, 3, 4], [5, 2, 0, 0]]  # PER ; I-LOC opens LOC ; ORG ORG ; LOC then I-PER opens PER
    labels, counts = _label_counts(rows, names)
    assert labels == ["PER", "ORG", "LOC"]
    assert counts.tolist() == [[1, 0, 0], [0, 0, 1], [0, 2, 0], [1, 0, 1]]
    labels, counts = _label_counts([[0, 0, 2], [1]], ["A", "B", "C"])
    assert labels == ["A", "B", "C"] and counts.tolist() == [[2, 0, 1], [0, 1, 0]]


@pytest.mark.parametrize("task,lang,k", [("ner", "de", 1), ("ner", "sw", 4), ("pos", "en", 1), ("pos", "de", 3)])
def test_labels_unit_meets_its_counts(monkeypatch, task, lang, k):
    install_fake_hub(monkeypatch)
    pool = load_language(task, lang)["train"]
    names = pool.features["tags"].feature.names
    for seed in (0, 1):
        shots = sample_k_shot(pool, k, seed=seed, unit="labels")
        tags = [[names[t] for t in row] for row in shots["tags"]]
        if task == "ner":  # independent count: seqeval's entity chunks
            counts = Counter(kind for row in tags for kind, _, _ in get_entities(row))
            wanted = ["PER", "ORG", "LOC"]
        else:
            counts = Counter(tag for row in tags for tag in row)
            wanted = names
        assert all(counts[label] >= k for label in wanted), counts
        assert len(shots) < len(pool)


def tagged(rows):
    features = Features({"tokens": List(Value("string")), "tags": List(ClassLabel(names=WIKIANN_TAGS)),
                         "lang": Value("string")})
    return Dataset.from_dict({"tokens": [[f"s{i}"] * len(r) for i, r in enumerate(rows)], "tags": rows,
                              "lang": ["xx"] * len(rows)}, features=features)


def test_labels_unit_takes_as_few_sentences_as_it_takes():
    per, org, loc = [1], [3], [5]
    pool = tagged([per, org, loc, per + [0] + org + [0] + loc, per, org, per + org + loc, loc])
    for seed in range(5):
        assert sample_k_shot(pool, 1, seed=seed, unit="labels")["tokens"] in ([["s3"] * 5], [["s6"] * 3])
        assert sorted(t[0] for t in sample_k_shot(pool, 2, seed=seed, unit="labels")["tokens"]) == ["s3", "s6"]
    # ties are broken by the seed: ten equivalent sentences, several seeds pick several of them
    ties = tagged([per + org + loc] * 10)
    assert len({sample_k_shot(ties, 1, seed=s, unit="labels")["tokens"][0][0] for s in range(10)}) > 1


def test_labels_unit_absent_or_rare_label(caplog):
    pool = tagged([[1, 2], [3], [1], [3, 4]])  # PER twice, ORG twice, LOC absent
    with pytest.raises(DataError, match=r"language 'xx'.*pool of 4 sentences label 'LOC' is absent.*allow_fewer"):
        sample_k_shot(pool, 1, seed=0, unit="labels")
    with pytest.raises(DataError, match=r"label 'PER' occurs 2 time\(s\); label 'ORG' occurs 2"):
        sample_k_shot(pool, 3, seed=0, unit="labels")
    with caplog.at_level(logging.WARNING):
        shots = sample_k_shot(pool, 3, seed=0, unit="labels", allow_fewer=True)
    assert "allow_fewer=True" in caplog.text and "'LOC' is absent" in caplog.text
    assert sorted(t[0] for t in shots["tokens"]) == ["s0", "s1", "s2", "s3"]  # all PER and ORG it has


def test_per_class_gives_k_of_each_class(monkeypatch):
    install_fake_hub(monkeypatch)
    pool = load_language("xnli", "de")["validation"]
    for k in (1, 4, 10):
        shots = sample_k_shot(pool, k, seed=2, unit="per_class")
        assert Counter(shots["label"]) == {0: k, 1: k, 2: k}
        assert set(shots["premise"]) <= set(pool["premise"]) and len(set(shots["premise"])) == 3 * k
    assert sample_k_shot(pool, 4, seed=2, unit="per_class")["premise"][:] != \
        sample_k_shot(pool, 4, seed=5, unit="per_class")["premise"][:]
    with pytest.raises(DataError, match=r"language 'de': k=11 per class.*class 'entailment' has 10 row"):
        sample_k_shot(pool, 11, seed=0, unit="per_class")


def test_k_larger_than_pool_names_language_pool_and_fix(monkeypatch, caplog):
    install_fake_hub(monkeypatch)
    pool = load_language("qa", "sw")["train"]
    with pytest.raises(DataError, match=r"language 'sw': k=30 questions asked but its pool has only 25\. "
                                        r"Pass allow_fewer=True"):
        sample_k_shot(pool, 30, seed=0, unit="questions")
    with caplog.at_level(logging.WARNING):
        shots = sample_k_shot(pool, 30, seed=0, unit="questions", allow_fewer=True)
    assert len(shots) == 25 and "only 25" in caplog.text


def test_bad_arguments():
    pool = tagged([[1]])
    with pytest.raises(DataError, match="unknown shot unit 'windows'"):
        sample_k_shot(pool, 1, seed=0, unit="windows")
    with pytest.raises(DataError, match="seed must be a non-negative integer"):
        sample_k_shot(pool, 1, seed=-1)
    with pytest.raises(DataError, match="k must be a non-negative integer"):
        sample_k_shot(pool, 1.5, seed=0)
    with pytest.raises(DataError, match="'per_class' needs a ClassLabel 'label'"):
        sample_k_shot(pool, 1, seed=0, unit="per_class")


def test_sample_rows_is_seeded():
    ds = Dataset.from_dict({"x": list(range(50))})
    a = sample_rows(ds, 10, seed=1, key="de")["x"][:]
    assert a == sample_rows(ds, 10, seed=1, key="de")["x"][:] and len(set(a)) == 10
    assert a != sample_rows(ds, 10, seed=2, key="de")["x"][:]
    assert a != sample_rows(ds, 10, seed=1, key="fr")["x"][:]
    with pytest.raises(DataError, match=r"'de': 60 rows asked but the pool has only 50"):
        sample_rows(ds, 60, seed=1, key="de")
