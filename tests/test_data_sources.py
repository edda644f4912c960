"""Each language from its local folder when data_dir has one, else from the Hub; where each came from is recorded."""

import logging

import pytest
from datasets import DatasetDict

from data_fixtures import install_fake_hub, udpos_split
from hf_mixtrain.data import PAPER_LANGUAGES, DataError, assemble, load_language, load_languages
from hf_mixtrain.data.languages import UDPOS_NAMES


def write_ud(folder, lang, n_sentences=3):
    """UD-style files (lang_x-ud-<split>.conllu) with a few two-word sentences."""
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        sentences = [f"# sent_id = {i}\n1\t{lang}{split}{i}\t_\tNOUN\t_\t_\t0\troot\t_\t_\n"
                     f"2\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_\n" for i in range(n_sentences)]
        (folder / f"{lang}_x-ud-{split}.conllu").write_text("\n".join(sentences) + "\n", encoding="utf-8")


def test_paper_pos_languages_from_the_hub_and_local_folders(monkeypatch, tmp_path, caplog):
    langs = PAPER_LANGUAGES["pos"]
    on_xtreme = [lang for lang in langs if lang in UDPOS_NAMES]  # 30 of the 35 have a google/xtreme config
    assert len(on_xtreme) == 30
    hub = install_fake_hub(monkeypatch, {
        ("google/xtreme", f"udpos.{UDPOS_NAMES[lang]}"): DatasetDict(
            train=udpos_split(lang, "train", 4), validation=udpos_split(lang, "validation", 2),
            test=udpos_split(lang, "test", 2))
        for lang in on_xtreme})
    # lt pl uk wo ro are not on the Hub; el fr ru zh are there but mixed with another language, so local too
    local = ["el", "fr", "ru", "zh", "lt", "pl", "uk", "wo", "ro"]  # in the order of the paper's list
    for lang in local:
        write_ud(tmp_path / lang, lang)
    with caplog.at_level(logging.INFO, logger="hf_mixtrain.data"):
        data = load_languages("pos", langs, data_dir=tmp_path)

    assert list(data) == langs
    from_hub = [lang for lang in langs if lang not in local]
    assert data.sources == {
        lang: {"source": "local", "path": str(tmp_path / lang)} if lang in local
        else {"source": "hub", "dataset": "google/xtreme", "config": f"udpos.{UDPOS_NAMES[lang]}"}
        for lang in langs}
    assert hub.calls == [("google/xtreme", f"udpos.{UDPOS_NAMES[lang]}") for lang in from_hub]
    assert data["el"]["test"]["tokens"] == [["eltest0", "."], ["eltest1", "."], ["eltest2", "."]]
    for lang in from_hub:  # a log line per language says where it came from
        assert f"language '{lang}': no folder {tmp_path / lang}, so it comes from the Hub" in caplog.text
        assert f"language '{lang}' from google/xtreme udpos.{UDPOS_NAMES[lang]}: train 4" in caplog.text
    for lang in local:
        assert f"language '{lang}' from {tmp_path / lang}: train 3, validation 3, test 3" in caplog.text
    assert f"pos: 9 language(s) from local folders: {' '.join(local)}" in caplog.text

    mixed = assemble("pos", data, source="en", targets=langs, k=2, seed=0, method="gradient-mix")
    assert mixed.sources == data.sources and len(mixed.oracle_pools) == 35


def test_a_language_neither_local_nor_on_the_hub_names_both(monkeypatch, tmp_path):
    install_fake_hub(monkeypatch)
    write_ud(tmp_path / "lt", "lt")
    with pytest.raises(DataError, match=rf"language 'wo': no folder {tmp_path / 'wo'} \(language folders there: "
                                        r"\['lt'\]\), and from the Hub: google/xtreme has no udpos config for 'wo'"):
        load_languages("pos", ["lt", "wo"], data_dir=tmp_path)


def test_data_dir_that_is_not_a_folder_is_an_error_not_a_fallback(monkeypatch, tmp_path):
    hub = install_fake_hub(monkeypatch)
    with pytest.raises(DataError, match=r"data_dir '.*missing' is not a folder"):
        load_language("ner", "de", data_dir=tmp_path / "missing")
    assert hub.calls == []


def test_without_data_dir_every_source_is_the_hub(monkeypatch):
    install_fake_hub(monkeypatch)
    data = load_languages("ner", ["en", "de"])
    assert data.sources == {lang: {"source": "hub", "dataset": "unimelb-nlp/wikiann", "config": lang}
                            for lang in ("en", "de")}
