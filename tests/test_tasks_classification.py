"""XNLI / single-sentence classification preprocessing and collator."""

import logging

import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value
from helpers import tiny_tokenizer

from hf_mixtrain.tasks import get_task

NLI_LABELS = ["entailment", "neutral", "contradiction"]


def nli_dataset(premises, hypotheses=None, labels=None, lang_ids=None):
    n = len(premises)
    columns = {"premise": premises, "label": labels or [0] * n, "lang": ["de"] * n}
    features = {"premise": Value("string"), "label": ClassLabel(names=NLI_LABELS), "lang": Value("string")}
    if hypotheses is not None:
        columns["hypothesis"] = hypotheses
        features["hypothesis"] = Value("string")
    if lang_ids is not None:
        columns["lang_id"] = lang_ids
        features["lang_id"] = Value("int64")
    return Dataset.from_dict(columns, features=Features(features))


@pytest.fixture
def tokenizer():
    return tiny_tokenizer()


def test_pairs_are_encoded_as_pairs(tokenizer):
    ds = nli_dataset(["john is in paris"], ["john was in berlin"], labels=[2], lang_ids=[4])
    features = get_task("xnli").preprocess(ds, tokenizer, max_length=32, training=True)
    row = features[0]
    assert tokenizer.convert_ids_to_tokens(row["input_ids"]) == [
        "[CLS]", "john", "is", "in", "paris", "[SEP]", "john", "was", "in", "berlin", "[SEP]"
    ]
    assert row["labels"] == 2 and row["lang_id"] == 4
    assert sorted(features.column_names) == ["attention_mask", "input_ids", "labels", "lang_id"]


def test_single_sentence_without_hypothesis_column(tokenizer):
    ds = nli_dataset(["john is in paris"])
    row = get_task("xnli").preprocess(ds, tokenizer, max_length=32, training=True)[0]
    assert tokenizer.convert_ids_to_tokens(row["input_ids"]) == ["[CLS]", "john", "is", "in", "paris", "[SEP]"]


def test_truncation_is_logged_with_count(tokenizer, caplog):
    # With specials: 11 tokens, and [CLS] a [SEP] the e ##n ##d [SEP] = 8, which fits max_length=8 exactly.
    ds = nli_dataset(["john is in paris", "a"], ["john was in berlin", "the end"])
    with caplog.at_level(logging.WARNING):
        features = get_task("xnli").preprocess(ds, tokenizer, max_length=8, training=True)
    assert [len(ids) for ids in features["input_ids"]] == [8, 8]
    assert "1 of 2 pairs are longer than max_length=8 and were truncated" in caplog.text


def test_exact_fit_is_not_reported_as_truncated(tokenizer, caplog):
    ds = nli_dataset(["john is in paris"], ["john was in berlin"])  # 11 tokens with specials
    with caplog.at_level(logging.WARNING):
        get_task("xnli").preprocess(ds, tokenizer, max_length=11, training=True)
    assert "truncated" not in caplog.text


def test_collator_passes_lang_id_as_long_tensor(tokenizer):
    ds = nli_dataset(["john is in paris", "a"], ["berlin", "the end"], labels=[1, 0], lang_ids=[3, 0])
    task = get_task("xnli")
    features = task.preprocess(ds, tokenizer, max_length=32, training=True)
    batch = task.data_collator(tokenizer)([features[0], features[1]])
    assert batch["lang_id"].dtype == torch.long and batch["lang_id"].tolist() == [3, 0]
    assert batch["labels"].tolist() == [1, 0]
    assert batch["input_ids"].shape == (2, 8)


def test_label_names_and_unknown_task():
    assert get_task("xnli").label_names(nli_dataset(["a"])) == NLI_LABELS
    with pytest.raises(ValueError, match="Unknown task 'nli'; valid tasks: ner, pos, qa, xnli"):
        get_task("nli")
