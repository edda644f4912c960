"""Metrics against hand-computed cases."""

import logging

import pytest

from hf_mixtrain.tasks.metrics import (
    accuracy,
    entity_scores,
    normalize_answer,
    squad_exact_match,
    squad_f1,
    squad_scores,
    token_accuracy,
)


def test_entity_scores_two_gold_two_predicted_one_correct():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "O"]]
    # gold entities: PER[0:2], LOC[3]; predicted: PER[0:2] (correct), ORG[3] (wrong type)
    # P = 1/2, R = 1/2, F = 1/2; tokens right: 5 of 6
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(50.0)
    assert scores["recall"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(50.0)
    assert scores["accuracy"] == pytest.approx(100 * 5 / 6)


def test_entity_scores_span_must_match_exactly():
    gold = [["B-ORG", "I-ORG", "I-ORG", "O", "B-PER"]]
    pred = [["B-ORG", "I-ORG", "O", "O", "B-PER"], ]
    # gold: ORG[0:3], PER[4]; predicted: ORG[0:2] (span too short: wrong), PER[4] (right)
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(50.0)
    assert scores["recall"] == pytest.approx(50.0)


def test_entity_scores_unequal_precision_and_recall():
    gold = [["B-PER", "O", "B-LOC", "O"]]
    pred = [["B-PER", "B-ORG", "O", "B-LOC"]]
    # gold: PER[0], LOC[2]; predicted: PER[0] (right), ORG[1], LOC[3] (wrong place)
    # P = 1/3, R = 1/2, F = 2PR/(P+R) = 2/5
    scores = entity_scores(gold, pred)
    assert scores["precision"] == pytest.approx(100 / 3)
    assert scores["recall"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(40.0)


def test_entity_scores_no_predicted_entities_is_zero_not_an_error():
    scores = entity_scores([["B-PER", "O"]], [["O", "O"]])
    assert scores["precision"] == 0.0 and scores["recall"] == 0.0 and scores["f1"] == 0.0


def test_entity_scores_length_mismatch_names_the_sentence():
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        entity_scores([["O"], ["O", "O"]], [["O"], ["O"]])


def test_token_accuracy_counts_tokens_not_sentences():
    gold = [["NOUN", "VERB", "ADP"], ["DET"]]
    pred = [["NOUN", "NOUN", "ADP"], ["PRON"]]
    # 2 of 4 tokens right (a per-sentence average would give (2/3 + 0) / 2)
    assert token_accuracy(gold, pred) == pytest.approx(50.0)


def test_token_accuracy_keeps_tags_that_look_like_bio():
    # seqeval would read "B-X"/"I-X"-looking POS names as chunks; token accuracy compares tags as they are.
    assert token_accuracy([["I-X", "B-X"]], [["B-X", "B-X"]]) == pytest.approx(50.0)


def test_token_accuracy_unpredicted_word_is_wrong():
    assert token_accuracy([["NOUN", "VERB"]], [["NOUN", None]]) == pytest.approx(50.0)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The  Eiffel-Tower!", "eiffeltower"),
        ("  a Cat,  an apple ", "cat apple"),
        ("Theatre of the Absurd", "theatre of absurd"),
        ("Paris.", "paris"),
        ("AN", ""),
        ("tab\tand\nnewline", "tab and newline"),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_squad_f1_hand_computed_overlap():
    # normalised: pred "cat sat on mat" (4 tokens), gold "cat on mat" (3); 3 shared
    # P = 3/4, R = 3/3, F1 = 2 * 0.75 * 1 / 1.75 = 6/7
    assert squad_f1("The cat sat on the mat.", "a cat on a mat") == pytest.approx(6 / 7)
    assert squad_exact_match("The cat sat on the mat.", "a cat on a mat") == 0.0


def test_squad_f1_counts_repeated_tokens_once_per_match():
    # pred "paris paris" vs gold "paris": 1 shared, P = 1/2, R = 1, F1 = 2/3
    assert squad_f1("Paris paris", "Paris") == pytest.approx(2 / 3)
    assert squad_f1("Berlin", "Paris") == 0.0


def test_squad_scores_best_over_gold_answers_and_averaged(caplog):
    predictions = {"q1": "Eiffel Tower", "q2": "in Paris France"}
    references = {"q1": ["Tower", "the Eiffel tower"], "q2": ["Paris"], "q3": ["Berlin"]}
    # q1: EM 1, F1 1 (second gold); q2: EM 0, F1 = 2*(1/3)*1/(4/3) = 1/2; q3: no prediction -> 0 and a warning
    with caplog.at_level(logging.WARNING):
        scores = squad_scores(predictions, references)
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * 1.5 / 3)
    assert "1 of 3 examples have no prediction" in caplog.text


def test_squad_scores_rejects_examples_without_gold():
    with pytest.raises(ValueError, match="no gold answer"):
        squad_scores({"q1": "x"}, {"q1": []})


def test_accuracy():
    assert accuracy([0, 1, 2, 1], [0, 2, 2, 1]) == pytest.approx(75.0)
    with pytest.raises(ValueError, match="4 references but 3 predictions"):
        accuracy([0, 1, 2, 1], [0, 2, 2])
