"""NER/POS preprocessing: label alignment, truncation logging, lang_id, collator, word-level scoring."""

import logging

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, List, Value
from helpers import tiny_tokenizer

from hf_mixtrain.tasks import get_task

NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
POS_LABELS = ["NOUN", "VERB", "ADP", "PROPN", "DET"]
O, B_PER, I_PER, B_LOC, I_LOC = 0, 1, 2, 5, 6


def tagging_dataset(tokens, tags, label_names, lang_ids=None):
    columns = {"tokens": tokens, "tags": tags, "lang": ["de"] * len(tokens)}
    features = {"tokens": List(Value("string")), "tags": List(ClassLabel(names=label_names)), "lang": Value("string")}
    if lang_ids is not None:
        columns["lang_id"] = lang_ids
        features["lang_id"] = Value("int64")
    return Dataset.from_dict(columns, features=Features(features))


@pytest.fixture
def tokenizer():
    return tiny_tokenizer()


def test_first_sub_token_labelled_others_ignored(tokenizer):
    ds = tagging_dataset([["johnny", "in", "paris"]], [[B_PER, O, B_LOC]], NER_LABELS)
    features = get_task("ner").preprocess(ds, tokenizer, max_length=32, training=True)
    row = features[0]
    assert tokenizer.convert_ids_to_tokens(row["input_ids"]) == ["[CLS]", "john", "##n", "##y", "in", "paris", "[SEP]"]
    assert row["labels"] == [-100, B_PER, -100, -100, O, B_LOC, -100]


def test_label_all_tokens_continues_b_as_i(tokenizer):
    ds = tagging_dataset([["johnny", "lives", "paris"]], [[B_PER, O, B_LOC]], NER_LABELS)
    features = get_task("ner").preprocess(ds, tokenizer, max_length=32, training=True, label_all_tokens=True)
    row = features[0]
    tokens = tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert tokens == ["[CLS]", "john", "##n", "##y", "l", "##i", "##v", "##e", "##s", "paris", "[SEP]"]
    # B-PER continues as I-PER; O stays O
    assert row["labels"] == [-100, B_PER, I_PER, I_PER, O, O, O, O, O, B_LOC, -100]


def test_label_all_tokens_keeps_non_bio_tags(tokenizer):
    ds = tagging_dataset([["johnny", "is"]], [[3, 1]], POS_LABELS)
    features = get_task("pos").preprocess(ds, tokenizer, max_length=32, training=True, label_all_tokens=True)
    assert features[0]["labels"] == [-100, 3, 3, 3, 1, -100]


def test_truncation_is_logged_with_counts(tokenizer, caplog):
    ds = tagging_dataset(
        [["john", "smithers", "in", "paris"], ["paris"]], [[B_PER, I_PER, O, B_LOC], [B_LOC]], NER_LABELS
    )
    with caplog.at_level(logging.WARNING):
        features = get_task("ner").preprocess(ds, tokenizer, max_length=6, training=True)
    # [CLS] john smith ##e ##r [SEP]: "smithers" keeps its first sub-token, "in" and "paris" are cut
    assert features[0]["labels"] == [-100, B_PER, I_PER, -100, -100, -100]
    assert "1 of 2 sentences are longer than max_length=6; 2 words were cut" in caplog.text


def test_no_truncation_no_warning(tokenizer, caplog):
    ds = tagging_dataset([["john", "in", "paris"]], [[B_PER, O, B_LOC]], NER_LABELS)
    with caplog.at_level(logging.WARNING):
        get_task("ner").preprocess(ds, tokenizer, max_length=32, training=True)
    assert "cut" not in caplog.text


def test_words_without_sub_tokens_are_counted(tokenizer, caplog):
    ds = tagging_dataset([["john", "\u200b", "paris"]], [[B_PER, O, B_LOC]], NER_LABELS)
    with caplog.at_level(logging.WARNING):
        features = get_task("ner").preprocess(ds, tokenizer, max_length=32, training=True)
    assert features[0]["labels"] == [-100, B_PER, B_LOC, -100]
    assert "1 words produced no sub-token" in caplog.text


def test_columns_raw_removed_lang_id_kept_word_ids_for_eval(tokenizer):
    ds = tagging_dataset([["john"], ["paris", "in"]], [[B_PER], [B_LOC, O]], NER_LABELS, lang_ids=[4, 7])
    train = get_task("ner").preprocess(ds, tokenizer, max_length=32, training=True)
    assert sorted(train.column_names) == ["attention_mask", "input_ids", "labels", "lang_id"]
    assert train["lang_id"] == [4, 7]
    evaluation = get_task("ner").preprocess(ds, tokenizer, max_length=32, training=False)
    assert evaluation["word_ids"] == [[None, 0, None], [None, 0, 1, None]]


def test_pad_to_max_length_pads_labels_with_ignore_index(tokenizer):
    ds = tagging_dataset([["john"]], [[B_PER]], NER_LABELS)
    row = get_task("ner").preprocess(ds, tokenizer, max_length=6, training=True, pad_to_max_length=True)[0]
    assert len(row["input_ids"]) == 6
    assert row["labels"] == [-100, B_PER, -100, -100, -100, -100]


def test_tokens_tags_length_mismatch_names_row(tokenizer):
    ds = tagging_dataset([["john"], ["paris", "in"]], [[B_PER], [B_LOC]], NER_LABELS)
    with pytest.raises(ValueError, match="row 1 has 2 tokens but 1 tags"):
        get_task("ner").preprocess(ds, tokenizer, max_length=32, training=True)


def test_label_names_need_class_label():
    ds = Dataset.from_dict({"tokens": [["a"]], "tags": [[0]]})
    with pytest.raises(ValueError, match="must hold ClassLabel ids.*cast_column"):
        get_task("pos").label_names(ds)
    assert get_task("ner").label_names(tagging_dataset([["a"]], [[0]], NER_LABELS)) == NER_LABELS


def test_collator_passes_lang_id_as_long_tensor(tokenizer):
    ds = tagging_dataset([["john"], ["paris", "in", "berlin"]], [[B_PER], [B_LOC, O, B_LOC]], NER_LABELS, [2, 9])
    task = get_task("ner")
    features = task.preprocess(ds, tokenizer, max_length=32, training=True)
    batch = task.data_collator(tokenizer)([features[0], features[1]])
    assert batch["lang_id"].dtype == torch.long
    assert batch["lang_id"].tolist() == [2, 9]
    assert batch["labels"].tolist()[0] == [-100, B_PER, -100, -100, -100]  # padded with -100


def one_hot_logits(label_rows, width, num_labels):
    """Logits whose argmax at each position is the given label (0 where the label is -100)."""
    logits = np.zeros((len(label_rows), width, num_labels), dtype=np.float32)
    for i, labels in enumerate(label_rows):
        for j, label in enumerate(labels):
            logits[i, j, max(label, 0)] = 5.0
    return logits


def test_truncated_words_are_scored_as_wrong_for_pos(tokenizer, caplog):
    ds = tagging_dataset([["john", "smithers", "in", "paris"], ["is"]], [[3, 3, 2, 3], [1]], POS_LABELS)
    task = get_task("pos")
    features = task.preprocess(ds, tokenizer, max_length=6, training=False)
    # The model gets every word it sees right; "in" and "paris" were cut: 3 of 5 words right.
    logits = one_hot_logits(features["labels"], 6, len(POS_LABELS))
    with caplog.at_level(logging.WARNING):
        scores = task.compute_metrics(ds, features, logits)
    assert scores == {"accuracy": pytest.approx(60.0)}
    assert "2 of 5 words have no prediction" in caplog.text


def test_truncated_words_are_scored_as_o_for_ner(tokenizer):
    ds = tagging_dataset([["john", "smithers", "in", "paris"]], [[B_PER, I_PER, O, B_LOC]], NER_LABELS)
    task = get_task("ner")
    features = task.preprocess(ds, tokenizer, max_length=6, training=False)
    scores = task.compute_metrics(ds, features, one_hot_logits(features["labels"], 6, len(NER_LABELS)))
    # PER found, LOC lost to truncation: P = 1/1, R = 1/2, F = 2/3
    assert scores["precision"] == pytest.approx(100.0)
    assert scores["recall"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(200 / 3)


def test_scoring_uses_first_sub_token_even_with_label_all_tokens(tokenizer):
    ds = tagging_dataset([["johnny", "paris"]], [[B_PER, B_LOC]], NER_LABELS)
    task = get_task("ner")
    features = task.preprocess(ds, tokenizer, max_length=32, training=False, label_all_tokens=True)
    logits = np.zeros((1, 6, len(NER_LABELS)), dtype=np.float32)
    # [CLS] john ##n ##y paris [SEP]: first sub-token says B-PER, later ones say B-LOC (ignored)
    logits[0, 1, B_PER] = logits[0, 2, B_LOC] = logits[0, 3, B_LOC] = logits[0, 4, B_LOC] = 1.0
    assert task.compute_metrics(ds, features, logits)["f1"] == pytest.approx(100.0)


def test_wrong_label_count_is_reported(tokenizer):
    ds = tagging_dataset([["john"]], [[B_PER]], NER_LABELS)
    task = get_task("ner")
    features = task.preprocess(ds, tokenizer, max_length=32, training=False)
    with pytest.raises(ValueError, match="predicts 3 labels but the data has 7.*num_labels=7"):
        task.compute_metrics(ds, features, np.zeros((1, 3, 3)))
