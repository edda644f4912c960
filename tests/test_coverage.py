"""Per-language tokenizer coverage (<unk> share, pieces per word), and the offline presets' switch to the full
vocabulary when the pruned one does not cover the run's text."""

import json
import logging

import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Sequence
from helpers import tiny_config, tiny_tokenizer
from test_offline_encoder import PIECES, tiny_tokenizer_json
from transformers import AutoTokenizer, BertModel, XLMRobertaTokenizerFast

from hf_mixtrain.offline import build
from hf_mixtrain.offline.covering import covering_model, pruned_from
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


# ---------------------------------------------------------------- offline: pruned vs full vocabulary
# The tiny Unigram vocabulary of test_offline_encoder. The "benchmark" text is the words a, bc, ab, so the pruned
# vocabulary keeps ▁a, ▁, bc, ▁ab (plus specials and the lowest-scoring zz). By the scores:
#   "abc": full ▁abc (-5.0); pruned ▁a + bc (-7.0): no <unk>, but two pieces instead of one.
#   "cab": full ▁c + ab (-8.0); pruned: c, a, ca are gone, so ▁ + <unk>.
BENCHMARK = [["a", "bc"], ["ab"]]


@pytest.fixture
def offline_cache(tmp_path):
    """A cache laid out as build.py lays it out: the full encoder and one pruned by build_pruned_model."""
    cache = tmp_path / "cache"
    full = cache / "models" / build.MODEL_NAME
    tok = XLMRobertaTokenizerFast(tokenizer_file=str(tiny_tokenizer_json(tmp_path / "tokenizer.json")),
                                  model_max_length=16)
    torch.manual_seed(0)
    BertModel(tiny_config(vocab_size=len(PIECES), pad_token_id=1), add_pooling_layer=False).save_pretrained(full)
    tok.save_pretrained(full)
    (full / "build.json").write_text(json.dumps({"key": {"converter_version": 1, "tiny": True}}))
    data = tmp_path / "bench"
    tags = Sequence(ClassLabel(names=["O"]))
    DatasetDict({"train": Dataset.from_dict({"tokens": BENCHMARK, "tags": [[0, 0], [0]]}).cast_column("tags", tags)}
                ).save_to_disk(str(data / "en"))
    (data / "metadata.json").write_text(json.dumps({"source_lang": "en", "target_langs": []}))
    pruned = build.build_pruned_model("offline-pos", full, data, cache_dir=cache)
    return full, pruned


def test_the_tiny_pair_behaves_as_described(offline_cache):
    full, pruned = (AutoTokenizer.from_pretrained(p) for p in offline_cache)
    assert len(pruned) < len(full)
    assert full.tokenize("abc") == ["▁abc"] and pruned.tokenize("abc") == ["▁a", "bc"]
    assert full.tokenize("cab") == ["▁c", "ab"]
    # Tokens show an <unk>'s surface text ("cab"); the id says it is unknown (c, a and ca fused into one <unk>).
    ids = pruned("cab", add_special_tokens=False)["input_ids"]
    assert ids == [pruned.convert_tokens_to_ids("▁"), pruned.unk_token_id]
    assert [pruned.tokenize(" ".join(words)) for words in BENCHMARK] == [["▁a", "▁", "bc"], ["▁ab"]]


def test_covered_text_keeps_the_pruned_model(offline_cache, caplog):
    full, pruned = offline_cache
    with caplog.at_level(logging.INFO, logger="hf_mixtrain.offline.covering"):
        chosen = covering_model(pruned, {"en": BENCHMARK, "xx": [["bc", "a", "a"]]})
    assert chosen == str(pruned)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("covers" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize("other", [[["abc"]], [["cab"]], ["abc a"]], ids=["more-pieces", "unk", "strings"])
def test_uncovered_text_switches_to_the_full_model_and_says_why(offline_cache, caplog, other):
    full, pruned = offline_cache
    with caplog.at_level(logging.INFO, logger="hf_mixtrain.offline.covering"):
        chosen = covering_model(str(pruned), {"en": BENCHMARK, "tr": other})
    assert chosen == str(full)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert f"the pruned vocabulary of {pruned} does not cover tr: 1 of 1 texts split differently" in warnings[0]
    assert f"using the full-vocabulary encoder {full} instead" in warnings[1] and "(tr not covered)" in warnings[1]


def test_the_more_pieces_case_is_reported_with_both_vocabularies(offline_cache, caplog):
    full, pruned = offline_cache
    with caplog.at_level(logging.WARNING, logger="hf_mixtrain.offline.covering"):
        covering_model(pruned, {"tr": [["abc", "ab"]]})
    # Pruned: ▁a bc ▁ab = 3 pieces for 2 words; full: ▁abc ▁ab = 2. No <unk> on either side.
    assert ("(pruned: 3 pieces, 1.50 per word, 0.00% <unk>; full: 2 pieces, 1.00 per word, 0.00% <unk>)"
            in caplog.records[0].getMessage())


def test_other_models_are_returned_unchanged_without_loading_anything(offline_cache, tmp_path, monkeypatch):
    full, _ = offline_cache
    monkeypatch.setattr(AutoTokenizer, "from_pretrained", lambda *a, **k: pytest.fail("loaded a tokenizer"))
    for model in ("FacebookAI/xlm-roberta-base", str(full), str(tmp_path)):
        assert covering_model(model, {"tr": [["cab"]]}) == model
        assert pruned_from(model) is None


def test_missing_full_model_refuses_with_the_fix(offline_cache, tmp_path):
    full, pruned = offline_cache
    assert pruned_from(pruned) == full
    with pytest.raises(ValueError, match=r"not at .*nothing there.*python -m hf_mixtrain.offline build --what model"):
        covering_model(pruned, {"tr": [["cab"]]}, full_model=tmp_path / "elsewhere")
    (full / "build.json").write_text(json.dumps({"key": {"converter_version": 2}}))  # rebuilt since: not its source
    with pytest.raises(ValueError, match=r"an encoder built from \{'converter_version': 2\} there"):
        covering_model(pruned, {"tr": [["cab"]]})
