"""QA windows, answer positions, lang_id replication and n-best post-processing across windows."""

import logging

import numpy as np
import pytest
import torch
from datasets import Dataset
from helpers import tiny_tokenizer

from hf_mixtrain.tasks import get_task, postprocess_qa_predictions

# Ten one-token words; with the one-token question "paris", max_length=10 leaves 6 context tokens per window and
# doc_stride=2 makes windows "a..f" and "e..j" (token positions: [CLS]=0, paris=1, [SEP]=2, context from 3).
CONTEXT = "a b c d e f g h i j"


def qa_dataset(answers, lang_ids=None, contexts=None):
    n = len(answers)
    columns = {
        "id": [f"q{i}" for i in range(n)],
        "context": contexts or [CONTEXT] * n,
        "question": ["paris"] * n,
        "answers": answers,
        "lang": ["de"] * n,
    }
    if lang_ids is not None:
        columns["lang_id"] = lang_ids
    return Dataset.from_dict(columns)


def answer(text, context=CONTEXT):
    return {"text": [text], "answer_start": [context.index(text)]}


@pytest.fixture
def tokenizer():
    return tiny_tokenizer()


def test_windows_are_the_hand_computed_ones(tokenizer):
    features = get_task("qa").preprocess(qa_dataset([answer("g h")]), tokenizer, max_length=10, training=True,
                                         doc_stride=2)
    tokens = [tokenizer.convert_ids_to_tokens(ids) for ids in features["input_ids"]]
    assert tokens == [
        ["[CLS]", "paris", "[SEP]", "a", "b", "c", "d", "e", "f", "[SEP]"],
        ["[CLS]", "paris", "[SEP]", "e", "f", "g", "h", "i", "j", "[SEP]"],
    ]


def test_train_positions_point_at_answer_in_its_window_cls_elsewhere(tokenizer):
    ds = qa_dataset([answer("g h"), answer("f g"), answer("b")], lang_ids=[3, 5, 8])
    features = get_task("qa").preprocess(ds, tokenizer, max_length=10, training=True, doc_stride=2)
    positions = list(zip(features["start_positions"], features["end_positions"]))
    assert positions == [
        (0, 0), (5, 6),  # "g h" only in window 2, at e=3 f=4 g=5 h=6
        (0, 0), (4, 5),  # "f g" is cut by window 1 (f at 8, g outside): CLS there; whole in window 2
        (4, 4), (0, 0),  # "b" only in window 1
    ]
    assert features["lang_id"] == [3, 3, 5, 5, 8, 8]
    assert sorted(features.column_names) == [
        "attention_mask", "end_positions", "input_ids", "lang_id", "start_positions"
    ]


def test_multi_token_answer_inside_sub_words(tokenizer):
    context = "john smithers in berlin"
    ds = qa_dataset([answer("smithers in", context)], contexts=[context])
    row = get_task("qa").preprocess(ds, tokenizer, max_length=32, training=True, doc_stride=8)[0]
    tokens = tokenizer.convert_ids_to_tokens(row["input_ids"])
    # "smithers in" is smith ##e ##r ##s in
    assert tokens[row["start_positions"] : row["end_positions"] + 1] == ["smith", "##e", "##r", "##s", "in"]


def test_unanswerable_example_points_at_cls(tokenizer):
    ds = qa_dataset([{"text": [], "answer_start": []}])
    features = get_task("qa").preprocess(ds, tokenizer, max_length=10, training=True, doc_stride=2)
    assert features["start_positions"] == [0, 0] and features["end_positions"] == [0, 0]


def test_answer_text_mismatch_is_logged(tokenizer, caplog):
    ds = qa_dataset([{"text": ["g h"], "answer_start": [0]}])
    with caplog.at_level(logging.WARNING):
        get_task("qa").preprocess(ds, tokenizer, max_length=10, training=True, doc_stride=2)
    assert "1 of 1 examples have an answer text that differs" in caplog.text


def test_eval_features_keep_example_id_and_context_offsets(tokenizer):
    ds = qa_dataset([answer("g h"), answer("b")], lang_ids=[1, 2])
    features = get_task("qa").preprocess(ds, tokenizer, max_length=10, training=False, doc_stride=2)
    assert features["example_id"] == ["q0", "q0", "q1", "q1"]
    assert features["lang_id"] == [1, 1, 2, 2]
    assert features["offset_mapping"][1] == [None, None, None, [8, 9], [10, 11], [12, 13], [14, 15], [16, 17],
                                             [18, 19], None]


def test_doc_stride_must_be_below_max_length(tokenizer):
    with pytest.raises(ValueError, match=r"doc_stride \(10\) must be smaller than max_length \(10\)"):
        get_task("qa").preprocess(qa_dataset([answer("b")]), tokenizer, max_length=10, training=True, doc_stride=10)


def test_postprocess_best_span_in_second_window(tokenizer):
    ds = qa_dataset([answer("g h")])
    features = get_task("qa").preprocess(ds, tokenizer, max_length=10, training=False, doc_stride=2)
    assert len(features) == 2
    # Baseline -10 so that only the crafted pairs can score well.
    start = np.full((2, 10), -10.0, dtype=np.float32)
    end = np.full((2, 10), -10.0, dtype=np.float32)
    # Window 1 (a=3 .. f=8): huge logits on [CLS] and the question token, which are not context and must be
    # skipped, and a 6-token span a..f scoring 9 + 9 that max_answer_length=5 excludes.
    start[0, 0], end[0, 0], start[0, 1], end[0, 1] = 50.0, 50.0, 40.0, 40.0
    start[0, 3], end[0, 8] = 9.0, 9.0
    # Window 2 (e=3 .. j=8): the gold span g..h (5, 6) scoring 4 + 4, and a reversed pair (start i=7, end f=4)
    # scoring 20.
    start[1, 5], end[1, 6] = 4.0, 4.0
    start[1, 7], end[1, 4] = 10.0, 10.0
    answers = postprocess_qa_predictions(ds, features, (start, end), n_best_size=5, max_answer_length=5)
    assert answers == {"q0": "g h"}
    # Without the length limit (default 30) the long span of window 1 wins.
    assert postprocess_qa_predictions(ds, features, (start, end))["q0"] == "a b c d e f"
    # With n_best_size=1 only the top start (i) and top end (f) of window 2 pair up: reversed, so window 1 wins
    # with its only context pair a..f.
    assert postprocess_qa_predictions(ds, features, (start, end), n_best_size=1)["q0"] == "a b c d e f"


def test_postprocess_ignores_batch_padding_positions(tokenizer):
    ds = qa_dataset([answer("b")], contexts=["a b"])
    features = get_task("qa").preprocess(ds, tokenizer, max_length=10, training=False, doc_stride=2)
    # Trainer.predict pads logits of shorter batches to the longest one; positions past the features' length
    # (and the -100 padding value) must never win.
    width = len(features[0]["input_ids"]) + 4
    start = np.full((1, width), -100.0)
    end = np.full((1, width), -100.0)
    start[0, -2:] = 99.0
    end[0, -1] = 99.0
    start[0, 4], end[0, 4] = 1.0, 1.0  # "b"
    assert postprocess_qa_predictions(ds, features, (start, end)) == {"q0": "b"}


def test_postprocess_strips_the_space_sentencepiece_offsets_include():
    # XLM-R's "▁Berlin" token has offsets (3, 10) in "ist Berlin": the span starts at the space.
    examples = Dataset.from_dict({"id": ["q"], "context": ["ist Berlin"]})
    features = Dataset.from_dict({"example_id": ["q"], "offset_mapping": [[None, [0, 3], [3, 10], None]]})
    logits = np.array([[0.0, 0.0, 5.0, 0.0]])
    assert postprocess_qa_predictions(examples, features, (logits, logits)) == {"q": "Berlin"}


def test_postprocess_rejects_features_of_other_examples(tokenizer):
    features = get_task("qa").preprocess(qa_dataset([answer("b")]), tokenizer, max_length=10, training=False,
                                         doc_stride=2)
    other = Dataset.from_dict({"id": ["zz"], "context": [CONTEXT]})
    with pytest.raises(ValueError, match="features belong to examples not given"):
        postprocess_qa_predictions(other, features, (np.zeros((2, 10)), np.zeros((2, 10))))


def test_collator_passes_lang_id_as_long_tensor(tokenizer):
    ds = qa_dataset([answer("b"), answer("b", "a b")], lang_ids=[6, 1], contexts=[CONTEXT, "a b"])
    task = get_task("qa")
    features = task.preprocess(ds, tokenizer, max_length=32, training=True, doc_stride=8)
    batch = task.data_collator(tokenizer)([features[0], features[1]])
    assert batch["lang_id"].dtype == torch.long and batch["lang_id"].tolist() == [6, 1]
    assert batch["input_ids"].shape[0] == 2 and batch["start_positions"].tolist() == [4, 4]
