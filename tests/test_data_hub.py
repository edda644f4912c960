"""Hub loaders, exercised on fixtures in the Hub schemas; language presets; label-set checks across languages."""

import logging

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from data_fixtures import (UPOS_TAGS, WIKIANN_TAGS, XNLI_LABELS, install_fake_hub, tydiqa_split, udpos_split,
                           wikiann_split, xnli_split)
from hf_mixtrain.data import PAPER_LANGUAGES, DataError, hub_languages, load_language, load_languages


def test_paper_language_presets():
    assert {task: len(langs) for task, langs in PAPER_LANGUAGES.items()} == {"ner": 48, "pos": 35, "qa": 9,
                                                                             "xnli": 15}
    for langs in PAPER_LANGUAGES.values():
        assert len(set(langs)) == len(langs) and "en" in langs
    assert PAPER_LANGUAGES["ner"][:3] == ["ar", "he", "vi"] and PAPER_LANGUAGES["ner"][-1] == "ro"
    assert set(PAPER_LANGUAGES["qa"]) == {"en", "ar", "bn", "fi", "id", "ko", "ru", "sw", "te"}
    assert PAPER_LANGUAGES["xnli"] == "en fr es de el bg ru tr ar vi th zh hi sw ur".split()
    # every paper language can come from the task's default Hub source, except the POS languages that
    # google/xtreme lacks or holds mixed with another language (they need local CoNLL-U files)
    for task, langs in PAPER_LANGUAGES.items():
        missing = set(langs) - set(hub_languages(task))
        assert missing == ({"lt", "pl", "uk", "wo", "ro", "el", "fr", "ru", "zh"} if task == "pos" else set()), task


def test_wikiann_rows_become_canonical(monkeypatch):
    hub = install_fake_hub(monkeypatch)
    dd = load_language("ner", "de")
    assert hub.calls == [("unimelb-nlp/wikiann", "de")]
    raw = wikiann_split("de", "train", 60)
    assert list(dd) == ["train", "validation", "test"]
    assert dd["train"].column_names == ["tokens", "tags", "lang"]
    assert dd["train"].features["tags"].feature.names == WIKIANN_TAGS
    assert dd["train"]["tokens"] == raw["tokens"] and dd["train"]["tags"] == raw["ner_tags"]
    assert set(dd["test"]["lang"]) == {"de"}


def test_panx_from_xtreme(monkeypatch):
    hub = install_fake_hub(monkeypatch)
    dd = load_language("ner", "sw", hub_dataset="google/xtreme")
    assert hub.calls == [("google/xtreme", "PAN-X.sw")]
    assert dd["validation"]["tags"] == wikiann_split("sw", "validation", 30)["ner_tags"]
    assert dd["validation"].column_names == ["tokens", "tags", "lang"]


def test_udpos_maps_codes_to_xtreme_names_and_keeps_existing_splits(monkeypatch):
    hub = install_fake_hub(monkeypatch)
    dd = load_language("pos", "mr")
    tl = load_language("pos", "tl")
    assert hub.calls == [("google/xtreme", "udpos.Marathi"), ("google/xtreme", "udpos.Tagalog")]
    assert dd["train"].features["tags"].feature.names == UPOS_TAGS
    assert dd["train"]["tags"] == udpos_split("mr", "train", 60)["pos_tags"]
    assert list(tl) == ["test"]  # Tagalog is test-only in google/xtreme


def test_udpos_languages_missing_from_xtreme_point_to_local_conllu(monkeypatch):
    install_fake_hub(monkeypatch)
    with pytest.raises(DataError, match=r"no udpos config for 'wo' \(Wolof\)\. Fix: put the wo_\*\.conllu files of "
                                        r"UD v2\.7.*in data_dir/wo/"):
        load_language("pos", "wo")


@pytest.mark.parametrize("lang, name, other, ours", [
    ("el", "Greek", "Ancient Greek", "UD_Greek-GDT"), ("fr", "French", "Old French", "UD_French-"),
    ("ru", "Russian", "Old Russian", "UD_Russian-"), ("zh", "Chinese", "Classical Chinese", "UD_Chinese-")])
def test_udpos_configs_that_hold_another_language_are_refused(monkeypatch, lang, name, other, ours):
    # the Hub's rows carry no treebank id, so e.g. udpos.Greek's Ancient Greek rows cannot be told apart
    hub = install_fake_hub(monkeypatch, {("google/xtreme", f"udpos.{name}"): DatasetDict(
        train=udpos_split(lang, "train", 5), test=udpos_split(lang, "test", 5))})
    with pytest.raises(DataError, match=rf"udpos\.{name} is not used for '{lang}': besides {ours}.* it holds "
                                        rf"{other}.*'_{name}'.*Fix: put the {lang}_\*\.conllu files .*UD v2\.7.*"
                                        rf"data_dir/{lang}/"):
        load_language("pos", lang)
    assert hub.calls == []  # not even downloaded


def test_udpos_german_warns_about_its_swiss_german_test_rows(monkeypatch, caplog):
    install_fake_hub(monkeypatch)
    with caplog.at_level(logging.WARNING):
        load_language("pos", "de")
    assert "100 Swiss German sentences of UD_Swiss_German-UZH" in caplog.text


def test_tydiqa_language_from_id_prefix_and_dev_as_test(monkeypatch):
    hub = install_fake_hub(monkeypatch)
    dd = load_language("qa", "ar")
    assert hub.calls == [("google/xtreme", "tydiqa")]
    assert list(dd) == ["train", "test"]
    raw_train = tydiqa_split({"en": 60, "ar": 40, "sw": 25, "bn": 30}, "train")
    expected = [row["id"] for row in raw_train if row["id"].split("-")[0] == "arabic"]
    assert dd["train"]["id"] == expected and len(expected) == 40
    assert len(dd["test"]) == 10 and all(i.startswith("arabic-") for i in dd["test"]["id"])
    assert dd["train"].column_names == ["id", "context", "question", "answers", "lang"]
    assert dd["train"].features["answers"]["answer_start"].feature == Value("int32")
    row = dd["train"][0]
    start, text = row["answers"]["answer_start"][0], row["answers"]["text"][0]
    assert row["context"][start:start + len(text)] == text

    load_language("qa", "sw", hub_dataset="google-research-datasets/tydiqa")
    assert hub.calls[-1] == ("google-research-datasets/tydiqa", "secondary_task")


def test_xnli_keeps_class_names(monkeypatch):
    hub = install_fake_hub(monkeypatch)
    dd = load_language("xnli", "fr", hub_dataset="xnli")
    assert hub.calls == [("facebook/xnli", "fr")]
    assert dd["validation"].features["label"].names == XNLI_LABELS
    assert dd["validation"]["label"] == xnli_split("fr", "validation", 30)["label"]
    assert dd["test"].column_names == ["premise", "hypothesis", "label", "lang"]


def test_unknown_code_lists_valid_codes_and_local_escape(monkeypatch):
    install_fake_hub(monkeypatch)
    with pytest.raises(DataError, match=r"unknown language code 'xx'.*valid codes: ar bg de el en.*data_dir"):
        load_language("xnli", "xx")
    with pytest.raises(DataError, match=r"unknown language code 'qu' for task 'ner' from the Hub dataset "
                                        r"google/xtreme.*af ar bg"):
        load_language("ner", "qu", hub_dataset="google/xtreme")  # in WikiANN, not in PAN-X


def test_unknown_hub_dataset_and_task():
    with pytest.raises(DataError, match=r"not a known source for task 'pos'.*google/xtreme"):
        load_language("pos", "en", hub_dataset="universal_dependencies")
    with pytest.raises(DataError, match=r"unknown task 'sentiment'.*ner, pos, qa, xnli"):
        load_language("sentiment", "en")


def test_unreachable_hub_says_to_use_data_dir(tmp_path):
    # no fake: conftest set HF_HUB_OFFLINE=1 and the cache is empty, so the real datasets.load_dataset fails at once
    with pytest.raises(DataError, match=r"could not load unimelb-nlp/wikiann config 'sw'.*data_dir="):
        load_language("ner", "sw", cache_dir=str(tmp_path))


def test_hub_rows_with_mismatched_lengths_name_the_row(monkeypatch):
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=WIKIANN_TAGS)),
                         "langs": List(Value("string"))})
    bad = Dataset.from_dict({"tokens": [["a"], ["b", "c"]], "ner_tags": [[0], [0]], "langs": [["de"], ["de"]]},
                            features=features)
    install_fake_hub(monkeypatch, {("google/xtreme", "PAN-X.de"): DatasetDict(train=bad)})
    with pytest.raises(DataError, match=r"PAN-X.de train, row 1: 2 tokens but 1 tags"):
        load_language("ner", "de", hub_dataset="xtreme")


def test_load_languages_label_sets_must_agree(monkeypatch, tmp_path):
    install_fake_hub(monkeypatch)
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "train.conll").write_text("a B-PER\nb I-PER\nc B-MISC\n")
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "train.conll").write_text("a B-PER\nb B-LOC\n")
    with pytest.raises(DataError) as err:
        load_languages("ner", ["en", "de"], data_dir=tmp_path)
    message = str(err.value)
    # en saw B-PER I-PER B-MISC (no known set holds them: sorted); de's tags fit WikiANN's set (all 7 used)
    assert "reference 'en': ['B-MISC', 'B-PER', 'I-PER']" in message
    assert "de: extra ['B-LOC', 'B-ORG', 'I-LOC', 'I-ORG', 'O'], missing ['B-MISC']" in message
    union = ["O", "B-LOC", "I-LOC", "B-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert f"pass label_names={union}" in message
    data = load_languages("ner", ["en", "de"], data_dir=tmp_path, label_names=union)  # the fix it names
    assert all(dd["train"].features["tags"].feature.names == union for dd in data.values())


def test_load_languages_reorders_labels_to_the_first_language(monkeypatch):
    reordered = list(reversed(XNLI_LABELS))
    features = Features({"premise": Value("string"), "hypothesis": Value("string"),
                         "label": ClassLabel(names=reordered)})
    de = Dataset.from_dict({"premise": ["p", "q"], "hypothesis": ["h", "i"], "label": [0, 2]}, features=features)
    table = {("facebook/xnli", "en"): DatasetDict(test=xnli_split("en", "test", 6)),
             ("facebook/xnli", "de"): DatasetDict(test=de)}
    install_fake_hub(monkeypatch, table)
    data = load_languages("xnli", "en,de")
    assert list(data) == ["en", "de"]
    test = data["de"]["test"]
    assert test.features["label"].names == XNLI_LABELS
    assert test.features["label"].int2str(test["label"]) == ["contradiction", "entailment"]


def test_data_layer_task_names_are_the_task_registry_s():
    # data/ keeps its own tuple (it imports nothing above it); both mean the task names, so they must agree
    from hf_mixtrain.data import TASKS as DATA_TASKS
    from hf_mixtrain.tasks import TASKS

    assert DATA_TASKS == TASKS
