"""Small deterministic datasets in the Hub schemas, and a stand-in for the Hub that serves them.

Builders depend only on their arguments, so a fresh process builds the very same rows.
"""

import functools
import zlib

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

WIKIANN_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
UPOS_TAGS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
             "SCONJ", "SYM", "VERB", "X"]
XNLI_LABELS = ["entailment", "neutral", "contradiction"]
TYDIQA_NAMES = {"en": "english", "ar": "arabic", "bn": "bengali", "fi": "finnish", "id": "indonesian",
                "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu"}


def _rng(*key):
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in key])


def ner_sentences(lang, split, n):
    """n IOB2 sentences: lists of (token, tag string)."""
    rng = _rng("ner", lang, split)
    out = []
    for i in range(n):
        tags = []
        while len(tags) < int(rng.integers(3, 10)):
            if rng.random() < 0.55:
                tags.append("O")
            else:
                kind = ["PER", "ORG", "LOC"][int(rng.integers(3))]
                tags += [f"B-{kind}"] + [f"I-{kind}"] * int(rng.integers(0, 3))
        out.append([(f"{lang}{split[:2]}{i}w{j}", tag) for j, tag in enumerate(tags)])
    return out


def wikiann_split(lang, split, n):
    """unimelb-nlp/wikiann schema: tokens, ner_tags (ClassLabel), langs, spans."""
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=WIKIANN_TAGS)),
                         "langs": List(Value("string")), "spans": List(Value("string"))})
    rows = ner_sentences(lang, split, n)
    return Dataset.from_dict({
        "tokens": [[t for t, _ in s] for s in rows],
        "ner_tags": [[WIKIANN_TAGS.index(g) for _, g in s] for s in rows],
        "langs": [[lang] * len(s) for s in rows],
        "spans": [[f"{g[2:]}: {t}" for t, g in s if g.startswith("B-")] for s in rows],
    }, features=features)


def panx_split(lang, split, n):
    """google/xtreme PAN-X.<lang> schema: tokens, ner_tags, langs."""
    return wikiann_split(lang, split, n).remove_columns("spans")


def udpos_split(lang, split, n):
    """google/xtreme udpos.<Name> schema: tokens, pos_tags (ClassLabel of the 17 UPOS tags)."""
    rng = _rng("pos", lang, split)
    features = Features({"tokens": List(Value("string")), "pos_tags": List(ClassLabel(names=UPOS_TAGS))})
    lengths = rng.integers(4, 12, size=n)
    return Dataset.from_dict({
        "tokens": [[f"{lang}{i}t{j}" for j in range(m)] for i, m in enumerate(lengths)],
        "pos_tags": [rng.integers(0, len(UPOS_TAGS), size=m).tolist() for m in lengths],
    }, features=features)


def tydiqa_split(counts, split):
    """google/xtreme tydiqa schema, every language in one table: id ("<language>-..."), title, context,
    question, answers{answer_start, text}. ``counts``: {code: rows}."""
    features = Features({"id": Value("string"), "title": Value("string"), "context": Value("string"),
                         "question": Value("string"),
                         "answers": {"answer_start": List(Value("int32")), "text": List(Value("string"))}})
    rows = []
    for lang, n in counts.items():
        rng = _rng("qa", lang, split)
        for i in range(n):
            answer = f"answer{i}"
            pad = "x " * int(rng.integers(0, 20))
            context = f"{pad}The {lang} passage {i} says {answer} here."
            rows.append({"id": f"{TYDIQA_NAMES[lang]}-{int(rng.integers(1e12))}-{i}", "title": f"t{i}",
                         "context": context, "question": f"What does {lang} passage {i} say?",
                         "answers": {"answer_start": [context.index(answer)], "text": [answer]}})
    return Dataset.from_list(rows, features=features)


def xnli_split(lang, split, n):
    """facebook/xnli schema: premise, hypothesis, label (entailment, neutral, contradiction)."""
    rng = _rng("xnli", lang, split)
    features = Features({"premise": Value("string"), "hypothesis": Value("string"),
                         "label": ClassLabel(names=XNLI_LABELS)})
    labels = rng.permutation(np.arange(n) % 3).tolist()
    return Dataset.from_dict({"premise": [f"{lang} {split} premise {i}" for i in range(n)],
                              "hypothesis": [f"{lang} {split} hypothesis {i}" for i in range(n)],
                              "label": labels}, features=features)


@functools.lru_cache(maxsize=None)  # datasets are immutable: build once per process
def hub_table(n_train=60, n_dev=30, n_test=20):
    """(path, config) -> DatasetDict in the Hub schemas, for a few languages of each source."""
    table = {}
    for lang in ("en", "de", "sw", "ar"):
        table[("unimelb-nlp/wikiann", lang)] = DatasetDict(
            train=wikiann_split(lang, "train", n_train), validation=wikiann_split(lang, "validation", n_dev),
            test=wikiann_split(lang, "test", n_test))
        table[("google/xtreme", f"PAN-X.{lang}")] = DatasetDict(
            train=panx_split(lang, "train", n_train), validation=panx_split(lang, "validation", n_dev),
            test=panx_split(lang, "test", n_test))
    for lang, name in (("en", "English"), ("de", "German"), ("mr", "Marathi")):
        table[("google/xtreme", f"udpos.{name}")] = DatasetDict(
            train=udpos_split(lang, "train", n_train), validation=udpos_split(lang, "validation", n_dev),
            test=udpos_split(lang, "test", n_test))
    table[("google/xtreme", "udpos.Tagalog")] = DatasetDict(test=udpos_split("tl", "test", n_test))
    tydiqa = DatasetDict(train=tydiqa_split({"en": n_train, "ar": 40, "sw": 25, "bn": 30}, "train"),
                         validation=tydiqa_split({"en": 12, "ar": 10, "sw": 8, "bn": 9}, "validation"))
    table[("google/xtreme", "tydiqa")] = tydiqa
    table[("google-research-datasets/tydiqa", "secondary_task")] = tydiqa
    for lang in ("en", "de", "sw", "fr"):
        table[("facebook/xnli", lang)] = DatasetDict(
            train=xnli_split(lang, "train", n_train), validation=xnli_split(lang, "validation", n_dev),
            test=xnli_split(lang, "test", n_test))
    return table


class FakeHub:
    """Replaces ``hf_mixtrain.data.hub.load_hub_dataset``; records the (path, config) pairs asked for."""

    def __init__(self, table):
        self.table, self.calls = table, []

    def __call__(self, path, name=None, **kwargs):
        self.calls.append((path, name))
        if (path, name) not in self.table:
            raise ValueError(f"BuilderConfig '{name}' not found for {path}")  # what datasets raises
        return self.table[(path, name)]


def install_fake_hub(monkeypatch, table=None):
    import hf_mixtrain.data.hub as hub

    fake = FakeHub(hub_table() if table is None else table)
    monkeypatch.setattr(hub, "load_hub_dataset", fake)
    return fake
