"""Local readers: CoNLL/IOB, CoNLL-U, JSON Lines, save_to_disk folders, and their errors."""

import json
import logging

import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from data_fixtures import WIKIANN_TAGS, XNLI_LABELS, install_fake_hub, wikiann_split
from hf_mixtrain.data import DataError, load_language, read_conll, read_conllu


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tag_strings(ds):
    names = ds.features["tags"].feature.names
    return [[names[t] for t in row] for row in ds["tags"]]


CONLL = """-DOCSTART- -X- O O

EU\tB-ORG
rejects\tO
German B-MISC

Peter\tB-PER
Blackburn\tI-PER


-DOCSTART-\tO
London   B-LOC
"""


def test_read_conll_skips_docstart_and_blank_lines(tmp_path):
    path = write(tmp_path / "train.conll", CONLL)
    sentences = read_conll(path)
    assert [s["tokens"] for s in sentences] == [["EU", "rejects", "German"], ["Peter", "Blackburn"], ["London"]]
    assert [s["tags"] for s in sentences] == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"], ["B-LOC"]]
    assert [s["lines"] for s in sentences] == [[3, 4, 5], [7, 8], [12]]


def test_read_conll_one_column_line_names_file_and_line(tmp_path):
    path = write(tmp_path / "train.conll", "EU\tB-ORG\nrejects\n\n")
    with pytest.raises(DataError, match=r"train\.conll:2: one column \('rejects'\)"):
        read_conll(path)


def test_read_conll_keeps_a_space_token_between_tabs_and_refuses_an_empty_column(tmp_path):
    # Japanese corpora tag the ideographic space (U+3000) as a token: it must not be stripped into the next column.
    path = write(tmp_path / "train.conll", "\u3000\tZSPACE\tO\n東京\tNOUN\tB-LOC\n\n")
    assert [(s["tokens"], s["tags"]) for s in read_conll(path)] == [(["\u3000", "東京"], ["O", "B-LOC"])]
    with pytest.raises(DataError, match=r"train\.conll:1: an empty tag column"):
        read_conll(write(tmp_path / "train.conll", "Paris\t\n"))


# A hand-written UD sentence: "vámonos" is a multiword token (range 1-2 over "vamos" + "nos"), 3.1 an empty node.
CONLLU = """# sent_id = 1
# text = vámonos al mar
1-2\tvámonos\t_\t_\t_\t_\t_\t_\t_\t_
1\tvamos\tir\tVERB\t_\t_\t0\troot\t_\t_
2\tnos\tnosotros\tPRON\t_\t_\t1\tobj\t_\t_
3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_
3\ta\ta\tADP\t_\t_\t5\tcase\t_\t_
3.1\tir\tir\tVERB\t_\t_\t_\t_\t0:root\t_
4\tel\tel\tDET\t_\t_\t5\tdet\t_\t_
5\tmar\tmar\tNOUN\t_\t_\t1\tobl\t_\tSpaceAfter=No

# sent_id = 2
1\tSí\tsí\tINTJ\t_\t_\t0\troot\t_\t_
"""


def test_read_conllu_multiword_token_and_empty_node(tmp_path):
    path = write(tmp_path / "es_test-ud-train.conllu", CONLLU)
    sentences = read_conllu(path)
    assert [s["tokens"] for s in sentences] == [["vamos", "nos", "a", "el", "mar"], ["Sí"]]
    assert [s["tags"] for s in sentences] == [["VERB", "PRON", "ADP", "DET", "NOUN"], ["INTJ"]]
    assert sentences[0]["lines"] == [4, 5, 7, 9, 10]


def test_read_conllu_wrong_column_count_names_line(tmp_path):
    path = write(tmp_path / "train.conllu", "1\tvamos\tir\tVERB\n")
    with pytest.raises(DataError, match=r"train\.conllu:1: 4 tab-separated column"):
        read_conllu(path)


def test_conllu_folder_with_ud_file_names_and_two_treebanks(tmp_path):
    write(tmp_path / "es" / "es_a-ud-train.conllu", CONLLU)
    write(tmp_path / "es" / "es_b-ud-train.conllu", "1\tNo\tno\tADV\t_\t_\t0\troot\t_\t_\n")
    write(tmp_path / "es" / "es_a-ud-test.conllu", CONLLU)
    dd = load_language("pos", "es", data_dir=tmp_path)
    assert set(dd) == {"train", "test"}
    assert dd["train"]["tokens"] == [["vamos", "nos", "a", "el", "mar"], ["Sí"], ["No"]]
    # every tag seen is UPOS, so the full UPOS list (17, alphabetical as in google/xtreme) is the label set
    assert len(dd["train"].features["tags"].feature.names) == 17
    assert tag_strings(dd["train"])[2] == ["ADV"]
    assert dd["train"]["lang"] == ["es"] * 3


def test_conll_folder_wikiann_tags_get_wikiann_order(tmp_path):
    write(tmp_path / "de" / "train.iob", "Angela B-PER\nMerkel I-PER\nin O\nBerlin B-LOC\n\nja O\n")
    write(tmp_path / "de" / "dev.txt", "Bonn\tB-LOC\n")
    write(tmp_path / "de" / "test.conll", "de:Siemens\tB-ORG\nAG\tI-ORG\n")
    dd = load_language("ner", "de", data_dir=tmp_path)
    assert list(dd) == ["train", "validation", "test"]
    assert dd["train"].features["tags"].feature.names == WIKIANN_TAGS
    assert tag_strings(dd["train"]) == [["B-PER", "I-PER", "O", "B-LOC"], ["O"]]
    assert dd["test"]["tokens"] == [["de:Siemens", "AG"]]  # only a prefix on EVERY token of a file is stripped


def test_conll_raw_wikiann_language_prefix_is_stripped(tmp_path):
    write(tmp_path / "de" / "train.conll", "de:Angela\tB-PER\nde:Merkel\tI-PER\n")
    assert load_language("ner", "de", data_dir=tmp_path)["train"]["tokens"] == [["Angela", "Merkel"]]


def test_other_tag_sets_get_a_stable_order(tmp_path):
    write(tmp_path / "en" / "train.conll", "a I-MISC\nb B-PER\nc O\nd B-MISC\n")
    dd = load_language("ner", "en", data_dir=tmp_path)
    assert dd["train"].features["tags"].feature.names == ["O", "B-MISC", "I-MISC", "B-PER"]
    assert tag_strings(dd["train"]) == [["I-MISC", "B-PER", "O", "B-MISC"]]


def test_label_names_fix_the_set_and_an_unknown_tag_names_file_and_line(tmp_path):
    write(tmp_path / "en" / "train.conll", "a\tB-PER\n\nb\tO\nc\tB-MISC\n")
    with pytest.raises(DataError, match=r"train\.conll:4: tag 'B-MISC' is not in label_names"):
        load_language("ner", "en", data_dir=tmp_path, label_names=WIKIANN_TAGS)
    names = ["O", "B-PER", "I-PER", "B-MISC", "I-MISC"]
    dd = load_language("ner", "en", data_dir=tmp_path, label_names=names)
    assert dd["train"].features["tags"].feature.names == names
    assert tag_strings(dd["train"]) == [["B-PER"], ["O", "B-MISC"]]


def test_jsonl_token_length_mismatch_names_file_and_line(tmp_path):
    lines = [{"tokens": ["a", "b"], "tags": ["O", "O"]}, {"tokens": ["a", "b", "c"], "ner_tags": ["O", "B-PER"]}]
    write(tmp_path / "en" / "train.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    with pytest.raises(DataError, match=r"train\.jsonl:2: 3 tokens but 2 tags"):
        load_language("ner", "en", data_dir=tmp_path)


def test_jsonl_bad_json_and_missing_keys_name_the_line(tmp_path):
    write(tmp_path / "en" / "train.jsonl", '{"premise": "p", "label": "neutral"}\n{"premise": "p"\n')
    with pytest.raises(DataError, match=r"train\.jsonl:2: not valid JSON"):
        load_language("xnli", "en", data_dir=tmp_path)
    write(tmp_path / "en" / "train.jsonl", '{"premise": "p", "label": "neutral"}\n\n{"premise": "q"}\n')
    with pytest.raises(DataError, match=r"train\.jsonl:3: missing key\(s\) \['label'\]"):
        load_language("xnli", "en", data_dir=tmp_path)


def test_jsonl_qa_squad_style_answers(tmp_path):
    rows = [{"id": "q1", "context": "Paris is in France.", "question": "Where is Paris?",
             "answers": [{"text": "France", "answer_start": 12}]},
            {"context": "Abc def.", "question": "?", "answers": {"text": ["def"], "answer_start": [4]}}]
    write(tmp_path / "fr" / "test.jsonl", "\n".join(json.dumps(x) for x in rows))
    ds = load_language("qa", "fr", data_dir=tmp_path)["test"]
    assert ds.column_names == ["id", "context", "question", "answers", "lang"]
    assert ds.features["answers"]["answer_start"].feature == Value("int32")
    assert ds[0]["answers"] == {"text": ["France"], "answer_start": [12]}
    assert ds[1]["answers"] == {"text": ["def"], "answer_start": [4]}
    assert ds["lang"] == ["fr", "fr"]


def test_jsonl_qa_answer_count_mismatch_names_row(tmp_path):
    rows = [{"id": "q", "context": "ab", "question": "?", "answers": {"text": ["a", "b"], "answer_start": [0]}}]
    write(tmp_path / "fr" / "test.jsonl", json.dumps(rows[0]))
    with pytest.raises(DataError, match=r"test\.jsonl, row 0: 2 answer texts but 1 answer_start"):
        load_language("qa", "fr", data_dir=tmp_path)


def test_jsonl_xnli_pairs_and_single_sentences(tmp_path):
    pairs = [{"premise": "p1", "hypothesis": "h1", "label": "contradiction"},
             {"sentence1": "p2", "sentence2": "h2", "label": "entailment"}]
    write(tmp_path / "de" / "validation.jsonl", "\n".join(json.dumps(x) for x in pairs))
    ds = load_language("xnli", "de", data_dir=tmp_path)["validation"]
    assert ds.features["label"].names == XNLI_LABELS
    assert ds["label"] == [2, 0] and ds["premise"] == ["p1", "p2"] and ds["hypothesis"] == ["h1", "h2"]

    single = [{"text": "great film", "label": "positive"}, {"text": "dull", "label": "negative"}]
    write(tmp_path / "nl" / "train.jsonl", "\n".join(json.dumps(x) for x in single))
    ds = load_language("xnli", "nl", data_dir=tmp_path)["train"]
    assert ds.column_names == ["premise", "label", "lang"]
    assert ds.features["label"].names == ["negative", "positive"]
    assert ds["label"] == [1, 0]


def test_integer_labels_need_label_names(tmp_path):
    write(tmp_path / "de" / "train.jsonl", '{"premise": "a", "hypothesis": "b", "label": 2}\n')
    with pytest.raises(DataError, match="pass label_names"):
        load_language("xnli", "de", data_dir=tmp_path)
    ds = load_language("xnli", "de", data_dir=tmp_path, label_names=XNLI_LABELS)["train"]
    assert ds.features["label"].int2str(ds["label"]) == ["contradiction"]


def test_save_to_disk_folder_canonical_round_trip(tmp_path):
    features = Features({"tokens": List(Value("string")), "tags": List(ClassLabel(names=["O", "B-X", "I-X"])),
                         "lang": Value("string")})
    saved = DatasetDict(train=Dataset.from_dict({"tokens": [["a", "b"]], "tags": [[1, 2]], "lang": ["xx"]},
                                                features=features),
                        test=Dataset.from_dict({"tokens": [["c"]], "tags": [[0]], "lang": ["xx"]},
                                               features=features))
    saved.save_to_disk(str(tmp_path / "xx"))
    dd = load_language("ner", "xx", data_dir=tmp_path)
    assert dd["train"].features == features
    assert dd["train"][0] == {"tokens": ["a", "b"], "tags": [1, 2], "lang": "xx"}
    assert list(tmp_path.joinpath("xx", "train").glob("cache-*")) == []  # nothing written into the user's folder


def test_save_to_disk_folder_in_hub_schema_with_dev_split(tmp_path, caplog):
    DatasetDict(train=wikiann_split("sw", "train", 5), dev=wikiann_split("sw", "dev", 3),
                extra=wikiann_split("sw", "x", 2)).save_to_disk(str(tmp_path / "sw"))
    with caplog.at_level(logging.WARNING):
        dd = load_language("ner", "sw", data_dir=tmp_path / "sw")  # the language folder itself
    assert list(dd) == ["train", "validation"]
    assert "split 'extra' ignored" in caplog.text
    assert dd["train"].column_names == ["tokens", "tags", "lang"]
    assert dd["train"]["tags"] == wikiann_split("sw", "train", 5)["ner_tags"]


def test_missing_language_folder_lists_what_is_there(tmp_path, monkeypatch):
    install_fake_hub(monkeypatch)
    write(tmp_path / "en" / "train.conll", "a O\n")
    with pytest.raises(DataError, match=r"language 'xx': no folder .*xx \(language folders there: \['en'\]\), and "
                                        r"from the Hub: unknown language code 'xx'"):
        load_language("ner", "xx", data_dir=tmp_path)


def test_wrong_format_for_task(tmp_path):
    write(tmp_path / "en" / "train.conll", "a O\n")
    with pytest.raises(DataError, match="task 'qa' reads .jsonl"):
        load_language("qa", "en", data_dir=tmp_path)
    write(tmp_path / "de" / "train.conllu", CONLLU)
    with pytest.raises(DataError, match="CoNLL-U files carry UPOS tags"):
        load_language("ner", "de", data_dir=tmp_path)


def test_jsonl_integer_tags_with_label_names_and_mixed_types(tmp_path):
    write(tmp_path / "en" / "train.jsonl", '{"tokens": ["a", "b"], "tags": [1, 0]}\n')
    dd = load_language("ner", "en", data_dir=tmp_path, label_names=WIKIANN_TAGS)
    assert tag_strings(dd["train"]) == [["B-PER", "O"]]
    write(tmp_path / "en" / "train.jsonl", '{"tokens": ["a", "b"], "tags": [1, 9]}\n')
    with pytest.raises(DataError, match=r"train\.jsonl:1: tag 9 is not in label_names"):
        load_language("ner", "en", data_dir=tmp_path, label_names=WIKIANN_TAGS)
    write(tmp_path / "en" / "train.jsonl", '{"premise": "a", "label": 1}\n{"premise": "b", "label": "neutral"}\n')
    with pytest.raises(DataError, match=r"train\.jsonl: the rows do not form one table"):
        load_language("xnli", "en", data_dir=tmp_path)


def test_rows_without_gold_label_are_dropped_and_counted(tmp_path, caplog):
    features = Features({"premise": Value("string"), "hypothesis": Value("string"),
                         "label": ClassLabel(names=XNLI_LABELS)})
    ds = Dataset.from_dict({"premise": ["a", "b", "c"], "hypothesis": ["x", "y", "z"], "label": [0, -1, 2]},
                           features=features)
    DatasetDict(test=ds).save_to_disk(str(tmp_path / "de"))
    with caplog.at_level(logging.INFO):
        test = load_language("xnli", "de", data_dir=tmp_path)["test"]
    assert test["premise"] == ["a", "c"] and test["label"] == [0, 2]
    assert "dropped 1 rows with label -1" in caplog.text


@pytest.mark.parametrize("name, text, what", [("test.conllu", "# sent_id = 1\n\n", "sentences"),
                                              ("test.conll", "", "sentences"), ("dev.jsonl", "\n\n", "rows")])
def test_a_split_file_without_data_names_the_file(tmp_path, name, text, what):
    task = "xnli" if name.endswith(".jsonl") else "pos"
    write(tmp_path / "en" / ("train.jsonl" if task == "xnli" else "train.conll"),
          '{"premise": "p", "label": "neutral"}\n' if task == "xnli" else "a\tNOUN\n")
    path = write(tmp_path / "en" / name, text)
    with pytest.raises(DataError, match=rf"^{path}: no {what} \(only blank or comment lines\); put the .* data in it "
                                        r"or remove the file$"):
        load_language(task, "en", data_dir=tmp_path)


@pytest.mark.parametrize("name, line", [("train.conll", "caf\xe9\tNOUN\n"), ("train.conllu", "1\tcaf\xe9" + "\t_" * 8 + "\n"),
                                        ("train.jsonl", '{"tokens": ["caf\xe9"], "tags": ["NOUN"]}\n')])
def test_a_file_that_is_not_utf8_names_file_and_line(tmp_path, name, line):
    good = {"train.conll": "a\tNOUN\n", "train.conllu": "1\ta\t_\tNOUN\t_\t_\t0\troot\t_\t_\n",
            "train.jsonl": '{"tokens": ["a"], "tags": ["NOUN"]}\n'}[name]
    head = (good * 3000).encode("utf-8")  # past the first chunk the text decoder reads
    path = tmp_path / "en" / name
    path.parent.mkdir()
    path.write_bytes(head + line.encode("latin-1"))  # é as the single byte 0xe9
    offset = len(head) + line.index("\xe9")
    with pytest.raises(DataError, match=rf"^{path}:3001: not UTF-8 \(byte 0xe9 at offset {offset}\); convert the "
                                        r"file to UTF-8, e.g. iconv -f <its encoding> -t UTF-8$"):
        load_language("pos", "en", data_dir=tmp_path)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_line(tmp_path):
    path = tmp_path / "en" / "train.conllu"
    path.parent.mkdir()
    path.write_bytes(b"\xef\xbb\xbf" + CONLLU.encode("utf-8"))
    assert load_language("pos", "en", data_dir=tmp_path)["train"]["tokens"][1] == ["Sí"]


def test_a_line_without_a_tag_names_file_and_line_through_load_language(tmp_path):
    path = write(tmp_path / "de" / "dev.conll", "Bonn\tB-LOC\n\nKöln\n")
    with pytest.raises(DataError, match=rf"^{path}:3: one column \('Köln'\)"):
        load_language("ner", "de", data_dir=tmp_path)


def test_read_conllu_fused_takes_the_surface_form_tagged_like_its_head_word(tmp_path):
    path = write(tmp_path / "train.conllu", CONLLU)
    sentences = read_conllu(path, "fused", "es")
    # vámonos: vamos (the root) is the highest word; al: a and el hang from mar alike, and ADP precedes DET
    assert [s["tokens"] for s in sentences] == [["vámonos", "al", "mar"], ["Sí"]]
    assert [s["tags"] for s in sentences] == [["VERB", "ADP", "NOUN"], ["INTJ"]]
    assert [s["lines"] for s in sentences] == [[3, 6, 10], [13]]


def ud_word(index, form, upos, head, deps="_"):
    return f"{index}\t{form}\t_\t{upos}\t_\t_\t{head}\tdep\t{deps}\t_\n"


# "xy" fuses a NOUN and a PRON that both hang from the verb: a tie that XTREME's UPOS order breaks.
FUSED_TIE = "1-2\txy\t_\t_\t_\t_\t_\t_\t_\t_\n" + ud_word(1, "x", "NOUN", 3) + ud_word(2, "y", "PRON", 3) + \
    ud_word(3, "z", "VERB", 0)


def test_fused_head_ties_follow_xtreme_upos_order_per_language_and_deps_heads_count(tmp_path):
    path = write(tmp_path / "train.conllu", FUSED_TIE)
    assert read_conllu(path, "fused", "de")[0]["tags"] == ["NOUN", "VERB"]  # default order: NOUN before PRON
    assert read_conllu(path, "fused", "es")[0]["tags"] == ["PRON", "VERB"]  # Spanish order lists PRON, not NOUN
    # an enhanced (DEPS) head is an ancestor too: x now hangs from y as well, so y alone is highest
    path = write(tmp_path / "train.conllu", FUSED_TIE.replace("\tdep\t_\t_\n", "\tdep\t3:dep|2:dep\t_\n", 1))
    assert read_conllu(path, "fused", "de")[0]["tags"] == ["PRON", "VERB"]
    assert read_conllu(path, "words", "de")[0]["tags"] == ["NOUN", "PRON", "VERB"]


def test_fused_forms_lose_inner_spaces_and_zero_width_non_joiners_as_in_xtreme(tmp_path):
    path = write(tmp_path / "train.conllu", ud_word(1, "Hà Nội", "PROPN", 0) + ud_word(2, "می\u200cشود", "VERB", 1))
    assert read_conllu(path, "fused")[0]["tokens"] == ["HàNội", "میشود"]
    assert read_conllu(path)[0]["tokens"] == ["Hà Nội", "می\u200cشود"]


@pytest.mark.parametrize("token_form", ["words", "fused"])
def test_sentences_without_word_forms_are_skipped_and_counted(tmp_path, caplog, token_form):
    textless = ud_word(1, "_", "PRON", 2) + ud_word(2, "_", "VERB", 0)
    path = write(tmp_path / "en_esl-ud-train.conllu", textless + "\n" + ud_word(1, "Go", "VERB", 0) + "\n" + textless)
    with caplog.at_level(logging.WARNING):
        sentences = read_conllu(path, token_form)
    assert [s["tokens"] for s in sentences] == [["Go"]]
    assert "skipped 2 sentence(s) whose every FORM is '_'" in caplog.text


def test_malformed_multiword_range_and_word_id_name_the_line(tmp_path):
    path = write(tmp_path / "train.conllu", "1-3\txyz\t_\t_\t_\t_\t_\t_\t_\t_\n" + ud_word(1, "x", "NOUN", 0))
    with pytest.raises(DataError, match=r"train\.conllu:1: multiword token 1-3 does not span words of its sentence"):
        read_conllu(path, "fused")
    path = write(tmp_path / "train.conllu", ud_word("a", "x", "NOUN", 0))
    with pytest.raises(DataError, match=r"train\.conllu:1: ID 'a' is not a word index"):
        read_conllu(path)


def test_ud_token_form_through_load_language(tmp_path, monkeypatch, caplog):
    install_fake_hub(monkeypatch)
    write(tmp_path / "es" / "es_x-ud-train.conllu", CONLLU)
    write(tmp_path / "es" / "dev.conll", "vámonos\tVERB\n")
    with caplog.at_level(logging.WARNING):
        dd = load_language("pos", "es", data_dir=tmp_path, ud_token_form="fused")
    assert dd["train"]["tokens"] == [["vámonos", "al", "mar"], ["Sí"]]
    assert tag_strings(dd["train"])[0] == ["VERB", "ADP", "NOUN"]
    assert "dev.conll: ud_token_form='fused' applies to .conllu files; this file is read as it is" in caplog.text
    assert load_language("pos", "es", data_dir=tmp_path)["train"]["tokens"][0] == ["vamos", "nos", "a", "el", "mar"]
    with pytest.raises(DataError, match=r"language 'en': no folder .*from the Hub: ud_token_form='fused' reads local "
                                        r"CoNLL-U files.*Fix: put the en_\*\.conllu files of UD v2\.7 in data_dir/en/, "
                                        r"or use ud_token_form='words'"):
        load_language("pos", "en", data_dir=tmp_path, ud_token_form="fused")
    with pytest.raises(DataError, match=r"ud_token_form='split'; choose one of words, fused"):
        load_language("pos", "es", data_dir=tmp_path, ud_token_form="split")


def test_the_ud_token_form_flag_offers_the_reader_s_forms():
    from dataclasses import fields

    from transformers import HfArgumentParser

    from hf_mixtrain.arguments import DataArguments
    from hf_mixtrain.data.local import TOKEN_FORMS

    field = fields(DataArguments)[-1]
    assert (field.name, field.default, tuple(field.metadata["choices"])) == ("ud_token_form", "words", TOKEN_FORMS)
    (args,) = HfArgumentParser(DataArguments).parse_args_into_dataclasses(["--ud_token_form", "fused"])
    assert args.ud_token_form == "fused"
