"""task.evaluate end to end: tiny models, transformers.Trainer, checked against per-example forward passes."""

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, List, Value
from helpers import tiny_config, tiny_tokenizer
from seqeval.metrics.sequence_labeling import precision_recall_fscore_support
from transformers import Trainer, TrainingArguments

from hf_mixtrain.tasks import get_task, postprocess_qa_predictions, squad_scores

NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
POS_LABELS = ["NOUN", "VERB", "ADP", "PROPN", "DET"]
NLI_LABELS = ["entailment", "neutral", "contradiction"]
SENTENCES = [
    ["john", "smithers", "is", "in", "paris"],
    ["the", "new", "york", "office"],
    ["berlin"],
    ["a", "man", "was", "in", "berlin", "and", "paris"],
    ["smith", "of", "berlin"],
]
NER_TAGS = [[1, 2, 0, 0, 5], [0, 3, 4, 4], [5], [0, 0, 0, 0, 5, 0, 5], [1, 0, 5]]
POS_TAGS = [[3, 3, 1, 2, 3], [4, 0, 0, 0], [3], [4, 0, 1, 2, 3, 2, 3], [3, 2, 3]]


def make_trainer(task, num_labels, tmp_path, remove_unused_columns=True, trainer_class=Trainer):
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    config = tiny_config(num_labels=num_labels) if num_labels else tiny_config()
    model = task.auto_model_class.from_config(config).eval()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        use_cpu=True,
        report_to=[],
        per_device_eval_batch_size=2,  # several batches of different lengths
        remove_unused_columns=remove_unused_columns,
        disable_tqdm=True,
    )
    return trainer_class(
        model=model, args=args, processing_class=tokenizer, data_collator=task.data_collator(tokenizer)
    )


def tagging_examples(tags, names):
    return Dataset.from_dict(
        {"tokens": SENTENCES, "tags": tags, "lang": ["de"] * 5, "lang_id": [1, 1, 2, 2, 2]},
        features=Features(
            {"tokens": List(Value("string")), "tags": List(ClassLabel(names=names)), "lang": Value("string"),
             "lang_id": Value("int64")}
        ),
    )


def word_predictions(model, tokenizer, sentences, names):
    """First-sub-token predictions, one sentence at a time (no padding)."""
    predictions = []
    for words in sentences:
        encoded = tokenizer(words, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            ids = model(**encoded).logits[0].argmax(-1).tolist()
        labels = {}
        for position, word in enumerate(encoded.word_ids(0)):
            if word is not None and word not in labels:
                labels[word] = names[ids[position]]
        predictions.append([labels[i] for i in range(len(words))])
    return predictions


def check_scores(scores, expected_keys):
    assert set(scores) == expected_keys
    assert all(0.0 <= v <= 100.0 for v in scores.values()), scores


@pytest.mark.parametrize("remove_unused_columns", [True, False])
@pytest.mark.parametrize("pass_features", [True, False])
def test_ner_evaluate(tmp_path, remove_unused_columns, pass_features):
    task = get_task("ner")
    examples = tagging_examples(NER_TAGS, NER_LABELS)
    trainer = make_trainer(task, len(NER_LABELS), tmp_path, remove_unused_columns)
    features = task.preprocess(examples, trainer.processing_class, max_length=64, training=False) if pass_features else None
    scores = task.evaluate(trainer, examples, features, metric_key_prefix="test_de")
    check_scores(scores, {"test_de_precision", "test_de_recall", "test_de_f1", "test_de_accuracy"})

    predicted = word_predictions(trainer.model, trainer.processing_class, SENTENCES, NER_LABELS)
    gold = [[NER_LABELS[t] for t in tags] for tags in NER_TAGS]
    p, r, f, _ = precision_recall_fscore_support(gold, predicted, average="micro", zero_division=0)
    assert scores["test_de_precision"] == pytest.approx(100 * p)
    assert scores["test_de_recall"] == pytest.approx(100 * r)
    assert scores["test_de_f1"] == pytest.approx(100 * f)


@pytest.mark.parametrize("remove_unused_columns", [True, False])
def test_pos_evaluate(tmp_path, remove_unused_columns):
    task = get_task("pos")
    examples = tagging_examples(POS_TAGS, POS_LABELS)
    trainer = make_trainer(task, len(POS_LABELS), tmp_path, remove_unused_columns)
    scores = task.evaluate(trainer, examples)
    check_scores(scores, {"test_accuracy"})

    predicted = word_predictions(trainer.model, trainer.processing_class, SENTENCES, POS_LABELS)
    pairs = [(POS_LABELS[g], p) for tags, row in zip(POS_TAGS, predicted) for g, p in zip(tags, row)]
    assert scores["test_accuracy"] == pytest.approx(100 * sum(g == p for g, p in pairs) / len(pairs))


@pytest.mark.parametrize("pair", [True, False])
@pytest.mark.parametrize("remove_unused_columns", [True, False])
def test_xnli_evaluate(tmp_path, pair, remove_unused_columns):
    task = get_task("xnli")
    premises = ["john is in paris", "a man", "berlin is new", "the york office", "smith was in berlin"]
    hypotheses = ["paris", "john is a man", "new york", "the office of smith", "berlin and paris"]
    labels = [0, 1, 2, 1, 0]
    columns = {"premise": premises, "label": labels, "lang": ["fr"] * 5, "lang_id": [0, 1, 0, 1, 0]}
    features = {"premise": Value("string"), "label": ClassLabel(names=NLI_LABELS), "lang": Value("string"),
                "lang_id": Value("int64")}
    if pair:
        columns["hypothesis"], features["hypothesis"] = hypotheses, Value("string")
    examples = Dataset.from_dict(columns, features=Features(features))
    trainer = make_trainer(task, len(NLI_LABELS), tmp_path, remove_unused_columns)
    scores = task.evaluate(trainer, examples, metric_key_prefix="eval")
    check_scores(scores, {"eval_accuracy"})

    correct = 0
    for i, label in enumerate(labels):
        texts = (premises[i], hypotheses[i]) if pair else (premises[i],)
        with torch.no_grad():
            logits = trainer.model(**trainer.processing_class(*texts, return_tensors="pt")).logits
        correct += int(logits.argmax(-1).item() == label)
    assert scores["eval_accuracy"] == pytest.approx(100 * correct / 5)


@pytest.mark.parametrize("remove_unused_columns", [True, False])
def test_qa_evaluate(tmp_path, remove_unused_columns):
    task = get_task("qa")
    contexts = ["john smith is in paris and berlin", "a b c d e f g h i j k l m n o p", "new york"]
    answers = ["paris", "k l", "new york"]
    examples = Dataset.from_dict(
        {
            "id": ["x1", "x2", "x3"],
            "context": contexts,
            "question": ["where is john", "what", "which"],
            "answers": [{"text": [a], "answer_start": [c.index(a)]} for a, c in zip(answers, contexts)],
            "lang": ["sw"] * 3,
            "lang_id": [2, 2, 2],
        }
    )
    trainer = make_trainer(task, None, tmp_path, remove_unused_columns)
    tokenizer = trainer.processing_class
    features = task.preprocess(examples, tokenizer, max_length=16, training=False, doc_stride=4)
    assert len(features) > len(examples)  # the long context makes several windows
    scores = task.evaluate(trainer, examples, features, metric_key_prefix="test_sw", max_answer_length=5)
    check_scores(scores, {"test_sw_exact_match", "test_sw_f1"})

    # The same windows, one at a time, through the model and the post-processing.
    starts, ends = [], []
    for row in features:
        inputs = {k: torch.tensor([row[k]]) for k in ("input_ids", "attention_mask")}
        with torch.no_grad():
            out = trainer.model(**inputs)
        starts.append(out.start_logits[0].numpy())
        ends.append(out.end_logits[0].numpy())
    width = max(len(s) for s in starts)
    pad = lambda rows: np.stack([np.pad(r, (0, width - len(r)), constant_values=-100.0) for r in rows])  # noqa: E731
    texts = postprocess_qa_predictions(examples, features, (pad(starts), pad(ends)), max_answer_length=5)
    expected = squad_scores(texts, {i: [a] for i, a in zip(examples["id"], answers)})
    assert scores["test_sw_f1"] == pytest.approx(expected["f1"])
    assert scores["test_sw_exact_match"] == pytest.approx(expected["exact_match"])


def test_qa_evaluate_preprocesses_when_no_features(tmp_path):
    task = get_task("qa")
    examples = Dataset.from_dict(
        {"id": ["x1"], "context": ["john is in paris"], "question": ["where"],
         "answers": [{"text": ["paris"], "answer_start": [11]}]}
    )
    scores = task.evaluate(make_trainer(task, None, tmp_path), examples)
    check_scores(scores, {"test_exact_match", "test_f1"})


def test_evaluate_without_processing_class_says_what_to_do(tmp_path):
    task = get_task("pos")
    trainer = make_trainer(task, len(POS_LABELS), tmp_path)
    trainer.processing_class = None
    with pytest.raises(ValueError, match="processing_class is None.*pass features="):
        task.evaluate(trainer, tagging_examples(POS_TAGS, POS_LABELS))


class RecordingTrainer(Trainer):
    """Remembers the input names of every prediction batch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen_keys = set()

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        self.seen_keys |= set(inputs)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)


@pytest.mark.parametrize("name", ["ner", "qa"])
def test_evaluate_never_feeds_lang_id_or_scoring_columns_to_the_model(tmp_path, name):
    # BERT-like forwards swallow unknown kwargs such as lang_id silently, so check the batches themselves.
    task = get_task(name)
    num_labels = len(NER_LABELS) if name == "ner" else None
    trainer = make_trainer(task, num_labels, tmp_path, remove_unused_columns=False, trainer_class=RecordingTrainer)
    if name == "ner":
        examples = tagging_examples(NER_TAGS, NER_LABELS)
    else:
        examples = Dataset.from_dict(
            {"id": ["x1"], "context": ["john is in paris"], "question": ["where"], "lang_id": [3],
             "answers": [{"text": ["paris"], "answer_start": [11]}]}
        )
    task.evaluate(trainer, examples)
    assert trainer.seen_keys and trainer.seen_keys <= {"input_ids", "attention_mask", "labels"}
