"""Per-language tokenizer coverage (<unk> share, pieces per word)."""

import logging

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Sequence
from helpers import tiny_tokenizer

from hf_mixtrain.tasks.coverage import Coverage, log_coverage, texts_of, tokenizer_coverage

# ---------------------------------------------------------------- counts, on the WordPiece tokenizer of helpers.py
# Whole-word pieces: the, is, paris. A word with a character outside the vocabulary (Cyrillic) is one [UNK];
# other unknown words split into letters: "zebra" -> z ##e ##b ##r ##a.


def test_counts_of_strings_by_hand():
    tok = tiny_tokenizer()
    cov = tokenizer_coverage(tok, ["the жук is", "paris zebra"])
    # the [UNK] is | paris z ##e ##b ##r ##a: 3 + 6 pieces, 5 words, 1 unknown.
    assert (cov.texts, cov.words, cov.pieces, cov.unk_pieces) == (2, 5, 9, 1)
    assert cov.unk_share == pytest.approx(1 / 9)
    assert cov.pieces_per_word == pytest.approx(9 / 5)
    assert not cov.split_into_words


def test_counts_of_word_lists_by_hand():
    tok = tiny_tokenizer()
    cov = tokenizer_coverage(tok, [["the", "жук"], ["ёж", "is", "a"], ["zebra"]])
    # [the, [UNK]] [[UNK], is, a] [z ##e ##b ##r ##a]: 10 pieces for 6 words, 2 unknown.
    assert (cov.texts, cov.words, cov.pieces, cov.unk_pieces) == (3, 6, 10, 2)
    assert cov.unk_share == pytest.approx(0.2) and cov.pieces_per_word == pytest.approx(10 / 6)
    assert cov.split_into_words


def test_special_tokens_and_truncation_left_on_the_tokenizer_do_not_count():
    tok = tiny_tokenizer()
    tok(["the paris zebra is"], truncation=True, max_length=3, padding="max_length")  # leaves state on the backend
    cov = tokenizer_coverage(tok, ["the paris zebra is"])
    assert (cov.pieces, cov.unk_pieces) == (8, 0)  # no [CLS]/[SEP], nothing cut


def test_batches_give_the_same_counts(monkeypatch):
    from hf_mixtrain.tasks import coverage

    texts = ["the жук is", "paris zebra", "a"] * 7
    whole = tokenizer_coverage(tiny_tokenizer(), texts)
    monkeypatch.setattr(coverage, "BATCH_SIZE", 4)
    assert tokenizer_coverage(tiny_tokenizer(), texts) == whole
    assert (whole.pieces, whole.unk_pieces) == (7 * 10, 7)


def test_empty_and_mixed_inputs():
    tok = tiny_tokenizer()
    empty = tokenizer_coverage(tok, [])
    assert (empty.pieces, empty.unk_share, empty.pieces_per_word) == (0, 0.0, 0.0)
    with pytest.raises(ValueError, match="not a mix"):
        tokenizer_coverage(tok, ["the", ["is"]])


def test_log_coverage_warns_above_the_threshold_naming_language_share_and_fix(caplog):
    tok = tiny_tokenizer()
    texts = {"en": ["the paris is"], "xx": ["the жук is"], "yy": [["the", "zebras"]]}
    with caplog.at_level(logging.INFO, logger="hf_mixtrain.tasks.coverage"):
        result = log_coverage(tok, texts)
    assert set(result) == {"en", "xx", "yy"} and all(isinstance(c, Coverage) for c in result.values())
    assert result["xx"].unk_share == pytest.approx(1 / 3)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert [m.split(":")[0] for m in info] == [f"tokenizer coverage {lang}" for lang in ("en", "xx", "yy")]
    assert "3 words -> 3 pieces (1.00 pieces per word), 1 <unk> (33.33%)" in info[1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert warnings[0].startswith("the tokenizer does not cover xx: 33.33% of its pieces are <unk> (1 of 3;")
    assert "covers xx" in warnings[0] and "--model_name_or_path" in warnings[0]
    # yy: no <unk>, but 7 pieces for 2 words (the z ##e ##b ##r ##a ##s) is above 3 pieces per word.
    assert "yy: its words split into 3.50 pieces on average" in warnings[1]


def test_log_coverage_threshold_is_strictly_above(caplog):
    tok = tiny_tokenizer()
    # 1 unknown of 4 pieces: 25%, warned above 20% but not at a 25% threshold.
    with caplog.at_level(logging.WARNING, logger="hf_mixtrain.tasks.coverage"):
        log_coverage(tok, {"xx": ["the жук is a"]}, threshold=0.25)
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="hf_mixtrain.tasks.coverage"):
        log_coverage(tok, {"xx": ["the жук is a"]}, threshold=0.2, fix="retrain {lang}")
    assert [r.getMessage().split("Fix: ")[1] for r in caplog.records] == ["retrain xx"]


def test_texts_of_canonical_datasets():
    tags = Sequence(ClassLabel(names=["O", "X"]))
    pos = DatasetDict({
        "train": Dataset.from_dict({"tokens": [["a", "b"]], "tags": [[0, 1]]}).cast_column("tags", tags),
        "test": Dataset.from_dict({"tokens": [["c"]], "tags": [[1]]}).cast_column("tags", tags),
    })
    assert texts_of(pos) == [["a", "b"], ["c"]]
    qa = Dataset.from_dict({"id": ["1", "2"], "question": ["q1", "q2"], "context": ["ctx", "ctx"]})
    assert texts_of(qa) == ["q1", "q2", "ctx"]  # a context shared by two questions counts once
    xnli = Dataset.from_dict({"premise": ["p", "p"], "hypothesis": ["h1", "h2"], "label": [0, 1]})
    assert texts_of([xnli]) == ["p", "h1", "h2"]
    with pytest.raises(ValueError, match="no text column"):
        texts_of(Dataset.from_dict({"label": [0]}))
