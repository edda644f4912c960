import contextlib
import io
import json
import logging
import os
import re

import pytest
import torch
from datasets import concatenate_datasets
from helpers import assert_label_maps, synthetic_token_data, tiny_config, tiny_token_model, tiny_tokenizer
from huggingface_hub import ModelCard
from hub_fake import install

from hf_mixtrain import GradientMixTrainer, MixTrainingArguments
from hf_mixtrain.modelcard import (
    ModelCardInfo,
    build_model_card,
    template_path,
    training_command,
    training_hyperparameters,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NER_LABELS = ["O", "B-PER", "I-PER"]


def qa_info(**kw):
    base = dict(
        task="qa",
        base_model="FacebookAI/xlm-roberta-base",
        languages=["ar", "en", "fi", "sw"],  # source not first on purpose
        method="gradient-mix",
        k_shot=5,
        seeds=[1, 2, 3],
        # en is the source; bn is evaluated without being trained on.
        results={
            "en": {"f1": 90.0, "exact_match": 80.0},
            "ar": {"f1": 60.0, "exact_match": 40.0},
            "fi": {"f1": 70.5, "exact_match": 50.25},
            "sw": {"f1": 80.0, "exact_match": 66.0},
            "bn": {"f1": 30.0, "exact_match": 20.0},
        },
        datasets=["google-research-datasets/tydiqa"],
        dataset_configs={lang: "secondary_task" for lang in ("en", "ar", "fi", "sw", "bn")},
        command="python run_qa.py --model_name_or_path FacebookAI/xlm-roberta-base --method gradient-mix --k_shot 5",
        license="mit",
        model_id="someone/xlmr-tydiqa-mix",
        hyperparameters={"max_seq_length": 384, "doc_stride": 128},
    )
    base.update(kw)
    return ModelCardInfo(**base)


def mix_args(tmp_path, **kw):
    base = dict(
        output_dir=str(tmp_path),
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        learning_rate=3e-5,
        num_train_epochs=30,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=4,
        surgery_prob=0.1,
    )
    base.update(kw)
    return MixTrainingArguments(**base)


def parse(card_text):
    """The card as the Hub would read it back: YAML metadata and model-index, offline (no validation call)."""
    return ModelCard(card_text)


def section(text, title):
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"no '## {title}' section"
    return match.group(1)


def table_rows(text):
    """Rows of the results table: {language: [role, cell, ...]}."""
    rows = {}
    for line in section(text, "Results").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells[1:]
        elif line.startswith("| **Average"):
            rows["average"] = cells[1:]
    return rows


def python_block(text, title):
    match = re.search(r"```python\n(.*?)```", section(text, title), flags=re.S)
    assert match, f"no python block in '## {title}'"
    return match.group(1)


# ---- the card from a hand-made info object -----------------------------------------------------------------


def test_metadata_languages_and_one_eval_result_per_language_and_metric():
    info = qa_info()
    card = parse(str(build_model_card(info, mix_args("/tmp/unused"))))
    data = card.data
    assert data.language == ["en", "ar", "fi", "sw"]  # every language trained on, source first
    assert data.pipeline_tag == "question-answering"
    assert data.library_name == "transformers"
    assert data.base_model == "FacebookAI/xlm-roberta-base"
    assert data.datasets == ["google-research-datasets/tydiqa"]
    assert data.license == "mit"
    assert {"hf-mixtrain", "cross-lingual", "gradient-mix", "gradient-surgery"} <= set(data.tags)
    assert data.model_name == "xlm-roberta-base-qa-gradient-mix"

    results = data.eval_results
    assert len(results) == 5 * 2
    # The dataset config is the same for every language here, so the language must survive in the names.
    got = {(r.metric_name, r.metric_type): r.metric_value for r in results}
    for lang, metrics in info.results.items():
        for metric, value in metrics.items():
            pretty = {"f1": "F1", "exact_match": "Exact match"}[metric]
            assert got[(f"{pretty} ({lang})", metric)] == pytest.approx(value)
    assert {r.task_type for r in results} == {"question-answering"}
    assert {r.dataset_split for r in results} == {"test"}
    assert {r.dataset_type for r in results} == {"google-research-datasets/tydiqa"}
    assert {r.dataset_config for r in results} == {"secondary_task"}


def test_dataset_config_defaults_to_the_language_code():
    info = ModelCardInfo(
        task="ner", base_model="FacebookAI/xlm-roberta-large", languages=["en", "de"], k_shot=1,
        results={"de": {"f1": 50.0}, "en": {"f1": 80.0}}, datasets=["unimelb-nlp/wikiann"],
    )
    data = parse(str(build_model_card(info))).data
    assert {(r.dataset_config, r.dataset_name): r.metric_value for r in data.eval_results} == {
        ("de", "unimelb-nlp/wikiann (de)"): 50.0,
        ("en", "unimelb-nlp/wikiann (en)"): 80.0,
    }


def test_average_excludes_the_source_language():
    info = qa_info()
    # Hand-computed over ar, fi, sw, bn (en left out): f1 (60 + 70.5 + 80 + 30) / 4, EM (40 + 50.25 + 66 + 20) / 4.
    assert info.average == pytest.approx({"f1": 60.125, "exact_match": 44.0625})
    rows = table_rows(build_model_card(info).text)
    assert rows["average"] == ["", f"**{60.125:.2f}**", f"**{44.0625:.2f}**"]


def test_results_table_has_a_row_per_language():
    results = {**qa_info().results, "sw": {"f1": 80.0}}  # sw without exact match
    info = qa_info(languages=["ar", "en", "fi", "sw", "te"], results=results)  # te trained on, not evaluated
    text = build_model_card(info).text
    header = next(line for line in section(text, "Results").splitlines() if line.startswith("| Language"))
    assert header == "| Language | Role | F1 | Exact match |"
    rows = table_rows(text)
    assert list(rows) == ["en", "ar", "fi", "sw", "te", "bn", "average"]
    assert rows["en"] == ["source", "90.00", "80.00"]
    assert rows["ar"] == ["target", "60.00", "40.00"]
    assert rows["fi"] == ["target", "70.50", "50.25"]
    assert rows["sw"] == ["target", "80.00", "-"]
    assert rows["te"] == ["target", "-", "-"]
    assert rows["bn"] == ["evaluated only (zero-shot)", "30.00", "20.00"]
    # exact match averages over the languages that have it: ar, fi, bn
    assert rows["average"][2] == f"**{(40 + 50.25 + 20) / 3:.2f}**"


def test_card_text_method_setup_command_and_citation():
    info = qa_info()
    text = build_model_card(info, mix_args("/tmp/unused")).text
    method = section(text, "Method")
    assert "g <- g - min(0, g.o / ||o||^2) * o" in method
    assert "one language is drawn at random" in method and "(with probability 0.1 per batch)" in method
    assert "Xu & Murray, Findings of NAACL 2022" in method and "arXiv:2204.13869" in method
    citation = section(text, "Citation")
    assert "```bibtex\n@inproceedings{xu-murray-2022-por," in citation and 'eprint = "2204.13869"' in citation

    setup = dict(
        re.fullmatch(r"\| (.*?) \| (.*?) \|", line).groups()
        for line in section(text, "Training setup").splitlines()
        if line.startswith("| ") and not line.startswith("| Setting")
    )
    assert setup["K (shots per target language)"] == "5"
    assert setup["Seeds"] == "1, 2, 3"
    assert setup["Target languages"] == "3: ar, fi, sw"
    assert setup["`learning_rate`"] == "3e-05"
    assert setup["`num_train_epochs`"] == "30"
    assert setup["`per_device_train_batch_size`"] == "8" and setup["`gradient_accumulation_steps`"] == "4"
    assert setup["`total_train_batch_size`"] == "32"
    assert setup["`surgery_prob`"] == "0.1" and setup["`surgery_scope`"] == "global"
    assert setup["`max_seq_length`"] == "384" and setup["`doc_stride`"] == "128"

    assert f"```bash\n{info.command}\n```" in section(text, "Training command")
    usage = python_block(text, "Usage")
    assert 'AutoModelForQuestionAnswering.from_pretrained("someone/xlmr-tydiqa-mix")' in usage


def test_baseline_card_does_not_claim_surgery():
    info = ModelCardInfo(task="ner", base_model="FacebookAI/xlm-roberta-large", languages=["en", "de"], method="naive-mix", k_shot=10)
    card = build_model_card(info, mix_args("/tmp/unused", gradient_surgery=False))
    assert "trained without gradient surgery" in card.text
    assert "gradient-surgery" not in card.data.tags and "naive-mix" in card.data.tags
    assert "`surgery_prob`" not in card.text
    assert "No test results were recorded" in card.text and card.data.eval_results is None


def test_local_base_model_stays_out_of_the_metadata():
    info = ModelCardInfo(task="pos", base_model="/models/xlmr", languages=["en"], method="zero-shot")
    card = parse(str(build_model_card(info)))
    assert card.data.base_model is None
    assert "`/models/xlmr`" in card.text
    assert "zero-shot" in card.data.tags and "few-shot" not in card.data.tags


@pytest.mark.parametrize(
    "task, model_class, labels, printed",
    [
        ("ner", "BertForTokenClassification", NER_LABELS, r"'entity_group': '(PER)'"),
        ("pos", "BertForTokenClassification", ["NOUN", "VERB", "ADP"], r"(?m)^John (NOUN|VERB|ADP)$"),
        ("qa", "BertForQuestionAnswering", None, r"^\{'answer': '[^']+'\}$"),
        ("xnli", "BertForSequenceClassification", ["entailment", "neutral", "contradiction"], r"'label': '(entailment|neutral|contradiction)'"),
    ],
)
def test_usage_snippet_runs(tmp_path, task, model_class, labels, printed):
    import transformers

    torch.manual_seed(0)
    config = tiny_config(**({"id2label": dict(enumerate(labels))} if labels else {}))
    getattr(transformers, model_class)(config).save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    info = ModelCardInfo(task=task, base_model="tiny", languages=["en", "de"], k_shot=1, model_id=str(tmp_path))
    card = build_model_card(info)
    snippet = python_block(card.text, "Usage")
    # transformers 5 has no question-answering pipeline; the QA snippet uses the model class.
    # POS reads one tag per word itself (the pipeline's aggregation merges adjacent words that share a tag).
    loader = {"qa": "AutoModelForQuestionAnswering.from_pretrained(", "pos": "AutoModelForTokenClassification.from_pretrained("}.get(
        task, f'pipeline("{card.data.pipeline_tag}", model=')
    assert f'{loader}"{tmp_path}"' in snippet
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(snippet, {})
    assert re.search(printed, out.getvalue()), out.getvalue()


def test_pos_usage_snippet_prints_one_tag_per_word_of_a_trained_tagger(tmp_path):
    # A tiny tagger fitted to one sentence's tags at each word's first sub-word ("born" is four pieces): the card's
    # snippet must print exactly those tags, one line per word, "New" and "York" apart although both are PROPN.
    from transformers import BertForTokenClassification

    words = "John Smith was born in New York .".split()
    tags = ["PROPN", "PROPN", "AUX", "VERB", "ADP", "PROPN", "PROPN", "PUNCT"]
    labels = sorted(set(tags))
    torch.manual_seed(0)
    model = BertForTokenClassification(tiny_config(id2label=dict(enumerate(labels))))
    tokenizer = tiny_tokenizer()
    enc = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    word_ids = enc.word_ids()
    assert len(enc["input_ids"][0]) > len(words) + 2  # some word is several pieces
    target = [-100 if w is None or w == word_ids[i - 1] else labels.index(tags[w]) for i, w in enumerate(word_ids)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        model(**enc, labels=torch.tensor([target])).loss.backward()
        optimizer.step()
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    info = ModelCardInfo(task="pos", base_model="tiny", languages=["en", "de"], k_shot=1, model_id=str(tmp_path))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(python_block(build_model_card(info).text, "Usage"), {})
    assert out.getvalue().splitlines() == [f"{w} {t}" for w, t in zip(words, tags)]


def test_card_names_the_surgery_source_language_batches_and_the_selection_rule(tmp_path):
    split = training_hyperparameters(mix_args(tmp_path, surgery_source="batch_split"))
    assert split["surgery_source"] == "batch_split" and split["language_batches"] is True
    assert not any(key.startswith("oracle_") for key in split)  # batch_split draws no oracle batch
    pool = training_hyperparameters(mix_args(tmp_path))
    assert pool["surgery_source"] == "oracle_pool" and "oracle_batch_size" in pool and "language_batches" not in pool


def test_offline_encoders_are_named_by_their_hub_origin_never_by_a_local_path(tmp_path):
    from hf_mixtrain.recipes import base_model_of

    pruned = tmp_path / "models" / "multilingual-e5-small-offline-pos"
    pruned.mkdir(parents=True)
    (pruned / "build.json").write_text(json.dumps({"key": {"pruning_version": 1, "model": {"converter_version": 1}}}))
    name, note = base_model_of(str(pruned))
    assert name == "intfloat/multilingual-e5-small"
    assert "4-bit-rounded" in note and "vocabulary pruned to the text of offline-pos" in note
    info = ModelCardInfo(task="pos", base_model=name, base_model_note=note, languages=["en"], method="zero-shot")
    card = parse(str(build_model_card(info)))
    assert card.data.base_model == "intfloat/multilingual-e5-small" and str(tmp_path) not in str(card)
    assert f"({note})" in card.text
    assert base_model_of(str(tmp_path / "models")) == ("models", "a local checkpoint")
    assert base_model_of("FacebookAI/xlm-roberta-large") == ("FacebookAI/xlm-roberta-large", None)


def test_bad_input_names_the_problem_and_the_fix():
    ok = dict(task="ner", base_model="b", languages=["en", "de"])
    with pytest.raises(ValueError, match=r"Invalid language code\(s\) \['english'\].*ISO 639"):
        ModelCardInfo(**{**ok, "languages": ["english", "de"]})
    with pytest.raises(ValueError, match="source language 'en' is not among languages.*add it"):
        ModelCardInfo(**{**ok, "languages": ["de", "fr"]})
    with pytest.raises(ValueError, match="Unknown task 'sentiment'; choose one of ner, pos, qa, xnli"):
        ModelCardInfo(**{**ok, "task": "sentiment"})
    with pytest.raises(ValueError, match="Unknown method 'pcgrad'"):
        ModelCardInfo(**{**ok, "method": "pcgrad"})
    with pytest.raises(ValueError, match="lists de more than once"):
        ModelCardInfo(**{**ok, "languages": ["en", "de", "de"]})
    with pytest.raises(ValueError, match=r"results\['de'\]\['f1'\] = 171.0 is not a number in \[0, 100\]"):
        ModelCardInfo(**ok, results={"de": {"f1": 171.0}}, datasets=["d"])
    # Local data: no Hub id to cite, so the results stay in the text and the metadata has no model-index.
    local = build_model_card(ModelCardInfo(**ok, results={"de": {"f1": 71.0}}))
    assert "model-index" not in str(local.data.to_dict()) and "71.00" in local.text
    with pytest.raises(TypeError, match="list of language codes"):
        ModelCardInfo(**{**ok, "languages": "en"})
    info = ModelCardInfo(**ok, datasets=["d"])
    info.results = {"de": {"f1": float("nan")}}  # set after construction, as the scripts do after testing
    with pytest.raises(ValueError, match=r"results\['de'\]\['f1'\] = nan"):
        build_model_card(info)


def test_fractions_instead_of_percentages_are_flagged(caplog):
    with caplog.at_level(logging.WARNING, logger="hf_mixtrain.modelcard"):
        ModelCardInfo(task="ner", base_model="b", languages=["en", "de"], results={"de": {"f1": 0.71}}, datasets=["d"])
    assert "0-100 scale" in caplog.text


def test_training_command_is_quoted_and_hides_tokens():
    argv = ["run_ner.py", "--languages", "en de", "--hub_token", "hf_secret", "--token=hf_other", "--push_to_hub"]
    command = training_command(argv)
    assert command == "python run_ner.py --languages 'en de' --hub_token '<redacted>' '--token=<redacted>' --push_to_hub"
    assert "hf_" not in command


def test_the_packaged_template_is_the_top_level_one():
    # model_cards/ is the template's home; the package ships a copy (setup.cfg package_data) that must not drift.
    assert os.path.isfile(template_path())
    with open(os.path.join(ROOT, "model_cards", "model_card_template.md"), "rb") as top, open(template_path(), "rb") as packaged:
        assert packaged.read() == top.read(), "copy model_cards/model_card_template.md to hf_mixtrain/templates/"


# ---- the trainer: checkpoints and the push flow, against a recording fake of the Hub ----------------------------


def tiny_run(tmp_path, **kw):
    en = synthetic_token_data(16, lang_id=0, seed=1)
    de = synthetic_token_data(4, lang_id=1, seed=2, label_shift=1)
    model = tiny_token_model(vocab_size=128)
    # The scripts' job: the label names go into the config, so pipelines print them.
    model.config.id2label = dict(enumerate(NER_LABELS))
    model.config.label2id = {name: i for i, name in enumerate(NER_LABELS)}
    args = dict(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        learning_rate=1e-3,
        max_steps=4,
        per_device_train_batch_size=4,
        save_strategy="steps",
        save_steps=2,
        seed=7,
    )
    args.update(kw)
    return GradientMixTrainer(
        model=model,
        args=MixTrainingArguments(**args),
        train_dataset=concatenate_datasets([en, de]),
        oracle_datasets={"en": en, "de": de},
        processing_class=tiny_tokenizer(),
    )


def test_push_to_hub_uploads_model_tokenizer_config_and_card(tmp_path, monkeypatch):
    hub = install(monkeypatch)
    trainer = tiny_run(tmp_path, push_to_hub=True, hub_model_id="user/tiny-mix", hub_strategy="checkpoint")
    command = "python run_ner.py --method gradient-mix --k_shot 4 --push_to_hub --hub_model_id user/tiny-mix"
    trainer.card_info = ModelCardInfo(
        task="ner", base_model="FacebookAI/xlm-roberta-base", languages=["en", "de"], k_shot=4, seeds=[7],
        datasets=["unimelb-nlp/wikiann"], command=command,
    )
    assert hub.calls_to("create_repo") == [dict(repo_id="user/tiny-mix", private=None, repo_type=None, exist_ok=True)]

    trainer.train()
    # Pushes during training run in the background: the fake hands back Futures, which the trainer tracks.
    assert all(job.done() for job in trainer.push_in_progress.jobs)
    during = hub.calls_to("upload_folder")
    assert [c["commit_message"] for c in during] == [
        "Training in progress, step 2", "Training in progress, step 2, checkpoint",
        "Training in progress, step 4", "Training in progress, step 4, checkpoint",
    ]
    assert all(c["run_as_future"] for c in during)
    # Every push carries a card: the repository root and the checkpoint folder.
    for commit in hub.commits:
        card_path = "last-checkpoint/README.md" if commit["message"].endswith("checkpoint") else "README.md"
        assert card_path in commit["files"], (commit["message"], sorted(commit["files"]))
    checkpoint_card = parse(hub.repos["user/tiny-mix"]["last-checkpoint/README.md"].decode())
    assert checkpoint_card.data.language == ["en", "de"] and "No test results were recorded" in checkpoint_card.text

    # The script evaluates on the test sets, records the results, then pushes.
    trainer.card_info.results = {"en": {"f1": 81.5}, "de": {"f1": 42.25}}
    commit = trainer.push_to_hub()
    final = hub.calls_to("upload_folder")[-1]
    assert final["repo_id"] == "user/tiny-mix" and final["commit_message"] == "End of training"
    assert final["run_as_future"] is False and commit.oid == hub.commits[-1]["oid"]

    uploaded = hub.commits[-1]["files"]
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "README.md"} <= set(uploaded)
    assert not any(name.startswith("checkpoint-") for name in uploaded)  # the Trainer's ignore patterns
    assert_label_maps(json.loads(uploaded["config.json"]), NER_LABELS)

    card = parse(uploaded["README.md"].decode())
    assert card.data.language == ["en", "de"]
    assert card.data.base_model == "FacebookAI/xlm-roberta-base"
    assert card.data.model_name == "tiny-mix"
    assert {(r.dataset_config, r.metric_type): r.metric_value for r in card.data.eval_results} == {
        ("en", "f1"): 81.5,
        ("de", "f1"): 42.25,
    }
    assert f"```bash\n{command}\n```" in card.text
    usage = python_block(card.text, "Usage")
    assert 'pipeline("token-classification", model="user/tiny-mix", aggregation_strategy="simple")' in usage
    assert "**Labels (3):** `O`, `B-PER`, `I-PER`" in card.text
    assert "| `max_steps` | 4 |" in card.text

    # What landed in the repository loads with a pipeline and speaks the label names.
    from transformers import pipeline

    repo = tmp_path / "repo"
    for name, content in hub.repos["user/tiny-mix"].items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(content)
    tagger = pipeline("token-classification", model=str(repo), ignore_labels=[])
    assert {token["entity"] for token in tagger("john smith in paris")} <= set(NER_LABELS)


def test_checkpoints_carry_the_card_and_the_surgery_history(tmp_path):
    trainer = tiny_run(tmp_path)
    trainer.card_info = ModelCardInfo(task="ner", base_model="tiny", languages=["en", "de"], k_shot=4)
    trainer.train()
    for step in (2, 4):
        checkpoint = tmp_path / "out" / f"checkpoint-{step}"
        card = ModelCard.load(checkpoint / "README.md")
        assert card.data.language == ["en", "de"] and "hf-mixtrain" in card.data.tags
        assert (checkpoint / "surgery_history.jsonl").is_file()
        assert not (checkpoint / "README.md.tmp").exists()
        assert_label_maps(str(checkpoint), NER_LABELS)
    trainer.save_model()
    assert ModelCard.load(tmp_path / "out" / "README.md").data.pipeline_tag == "token-classification"


def test_without_card_info_the_stock_card_is_written(tmp_path):
    trainer = tiny_run(tmp_path, max_steps=2)
    trainer.train()
    assert not (tmp_path / "out" / "checkpoint-2" / "README.md").exists()
    trainer.create_model_card(model_name="tiny")
    text = (tmp_path / "out" / "README.md").read_text()
    assert "hf-mixtrain" not in text and "# tiny" in text


def test_create_model_card_arguments_merge_into_card_info(tmp_path, caplog):
    trainer = tiny_run(tmp_path, max_steps=1, save_strategy="no")
    trainer.card_info = ModelCardInfo(task="ner", base_model="tiny", languages=["en", "de"], tags=["ner"], datasets=["a/b"])
    with caplog.at_level(logging.WARNING, logger="hf_mixtrain.trainer"):
        trainer.create_model_card(
            language="fr", license="apache-2.0", tags=["demo"], model_name="my-model", finetuned_from="org/base", dataset="c/d"
        )
    assert "ignores language" in caplog.text
    data = ModelCard.load(tmp_path / "out" / "README.md").data
    assert data.language == ["en", "de"]
    assert data.license == "apache-2.0"
    assert data.base_model == "org/base"
    assert data.datasets == ["a/b", "c/d"]
    assert {"ner", "demo", "hf-mixtrain"} <= set(data.tags)
    assert "# my-model" in ModelCard.load(tmp_path / "out" / "README.md").text


def test_generic_label_names_are_flagged(tmp_path, caplog):
    trainer = tiny_run(tmp_path, max_steps=1, save_strategy="no")
    trainer.model.config.id2label = {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    trainer.card_info = ModelCardInfo(task="ner", base_model="tiny", languages=["en", "de"])
    with caplog.at_level(logging.WARNING, logger="hf_mixtrain.trainer"):
        trainer.save_model_card()
    assert "id2label/label2id" in caplog.text


def test_local_data_warning_is_logged_once_per_process(caplog, monkeypatch):
    import dataclasses
    from hf_mixtrain import modelcard
    monkeypatch.setitem(modelcard._warned, "no_dataset_id", False)
    with caplog.at_level(logging.WARNING, logger="hf_mixtrain.modelcard"):
        info = ModelCardInfo(task="ner", base_model="b", languages=["en", "de"], results={"de": {"f1": 71.0}})
        for _ in range(3):  # each save renders a copy, as ModelCardMixin does
            dataclasses.replace(info, results={"de": {"f1": 72.0}})
    assert caplog.text.count("no test-set dataset id") == 1
