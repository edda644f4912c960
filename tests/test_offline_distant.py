"""Distant-language readers and tag mappings (he, th, zh, id), checked by hand on real lines of the pinned files."""

import gzip
from collections import Counter

import pytest
from distant_fixtures import AKSARA, HTB_CONLLU, NEMO_CSV, ORCHID, PKU, REVIEWS_NEG, REVIEWS_POS

from hf_mixtrain.offline import corpora, htb, orchid, pku, reviews, wide
from hf_mixtrain.offline.tagsets import JUDGEMENT_CALLS, ORCHID as ORCHID_TABLE, PKU as PKU_TABLE, UD, \
    UNIVERSAL_TAGS, to_universal

# Every tag in the pinned files (collected from them once): ORCHID's 46 (its 47th, INT, never occurs), PKU's 44.
ORCHID_IN_CORPUS = (
    "NCMN PUNC VACT RPRE VSTA FIXN JSBR JCRG XVAE PREL VATT XVBM NPRP ADVN DCNM XVAM NLBL DDAC DONM CNIT NCNM CMTR "
    "DIBQ DIAC XVMM NEG CLTV FIXV DDAN DDBQ PDMN PPRS NTTL JCMP ADVS CFQC ADVP PNTR ADVI EITT DDAQ EAFF DIAQ NONM "
    "CVBL XVBB"
).split()
PKU_IN_CORPUS = (
    "n v w u d vn m p nr a r ns c q t f j b l ad i Ng s nz nt an y Vg z k vd Tg nx Ag Dg o h e Rg Bg Mg vvn na Yg"
).split()
UPOS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()


def _write(tmp_path, name, text, newline=None):
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline=newline) as f:
        f.write(text)
    return path


def test_new_tables_map_the_full_inventories_into_the_twelve_tags():
    assert len(ORCHID_IN_CORPUS) == 46 and len(PKU_IN_CORPUS) == 44
    for tagset, tags in (("orchid", ORCHID_IN_CORPUS + ["INT"]), ("pku", PKU_IN_CORPUS), ("ud", UPOS)):
        assert [t for t in tags if to_universal(tagset, t, "x") is None] == []
    for table in (UD, ORCHID_TABLE, PKU_TABLE):
        assert set(table.values()) <= set(UNIVERSAL_TAGS)
    for tagset, calls in JUDGEMENT_CALLS.items():
        table = {"ud": UD, "orchid": ORCHID_TABLE, "pku": PKU_TABLE}[tagset]
        assert set(calls) <= set(table)  # every judgement call names a tag of its table


def test_hebrew_conllu_words_splits_and_mapping(tmp_path):
    counts = Counter()
    sentences = htb.read_htb_conllu(_write(tmp_path, "ud.conllu", HTB_CONLLU), counts)
    assert [s[0] for s in sentences] == ["validation", "train", "train", "test"]
    # Sentence 1 (dev): 16 surface tokens, 20 UD words; mapped by hand (PROPN -> NOUN, SCONJ כש -> ADP).
    _, words, tags = sentences[0]
    assert words == "עשרות אנשים מגיעים מ תאילנד ל ישראל כש הם נרשמים כ מתנדבים , אך למעשה משמשים עובדים שכירים " \
                    "זולים .".split()
    assert [to_universal("ud", t, w) for w, t in zip(words, tags)] == (
        "NUM NOUN VERB ADP NOUN ADP NOUN ADP PRON VERB ADP NOUN . CONJ ADV VERB NOUN ADJ ADJ .".split())
    # 1042: the article absorbed by ב is the word ה_ (written ה here); AUX היא -> VERB.
    _, words, tags = sentences[1]
    assert words == ["רוח", "היא", "ב", "ה", "אדם", "."]
    assert [to_universal("ud", t, w) for w, t in zip(words, tags)] == "NOUN VERB ADP DET NOUN .".split()
    # 996: ושיטותיו = ו + שיטה_ _של_ _הוא; the markers go, the words stay.
    assert sentences[2][1] == ["כל", "איש", "ו", "שיטה", "של", "הוא", "."]
    assert counts == Counter({"sentences_validation": 1, "sentences_train": 2, "sentences_test": 1,
                              "multiword_range_or_empty_node_lines_skipped": 6,
                              "words_with_htb_underscore_markers_stripped": 4})


def test_hebrew_conllu_needs_a_set_comment(tmp_path):
    text = HTB_CONLLU.replace("# set = dev\n", "")
    with pytest.raises(ValueError, match=r"ud.conllu:\d+: sentence without a '# set = ' comment"):
        htb.read_htb_conllu(_write(tmp_path, "ud.conllu", text), Counter())


def test_nemo_tokens_and_biose_to_iob2(tmp_path):
    path = tmp_path / "tokens.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(NEMO_CSV)
    sentences = htb.read_nemo_tokens(path)
    assert [(s[0], len(s[1])) for s in sentences] == [("validation", 16), ("train", 15), ("test", 7)]
    assert sentences[0][1][3:5] == ["מתאילנד", "לישראל"] and sentences[0][1][8] == ","
    repairs = Counter()
    # Sentence 5084: B-GPE I-GPE I-GPE is never closed by E-GPE before S-GPE: it ends at האדומים.
    iob2 = htb.biose_to_iob2(sentences[1][2], repairs)
    assert iob2[7:11] == ["B-GPE", "I-GPE", "I-GPE", "B-GPE"] and repairs == Counter({"entities_not_closed_by_E": 1})
    assert htb.biose_to_iob2(["S-GPE", "O", "B-ORG", "I-ORG", "E-ORG"], repairs) == [
        "B-GPE", "O", "B-ORG", "I-ORG", "I-ORG"]
    repairs.clear()
    assert htb.biose_to_iob2(["E-PER", "I-ORG", "B-PER", "O", "I-PER"], repairs) == [
        "B-PER", "B-ORG", "B-PER", "O", "B-PER"]
    assert repairs == Counter({"I_or_E_without_B_to_B": 3, "entities_not_closed_by_E": 3})
    # Types: GPE and FAC become LOC (as English facility); WOA, EVE, DUC, ANG become O and are counted.
    dropped, repaired = Counter(), Counter()
    out = corpora.map_entities([(["a", "b", "c", "d"], ["B-GPE", "B-FAC", "B-WOA", "I-WOA"])], wide.NEMO_TYPES,
                               dropped, repaired)
    assert out[0][1] == ["B-LOC", "B-LOC", "O", "O"] and dropped == Counter({"WOA": 2})


def test_orchid_reader_on_real_lines(tmp_path):
    counts = Counter()
    sentences = orchid.read_orchid(_write(tmp_path, "orchid97.txt", ORCHID), counts)
    assert len(sentences) == 3
    words, tags = sentences[0]
    assert words == ["การ", "ประชุม", "ทาง", "วิชาการ", "ครั้ง", "ที่ 1"]  # <space> dropped
    # By hand: nominaliser การ -> NOUN, ประชุม active verb, classifier ครั้ง -> NOUN, ordinal ที่ 1 -> ADJ.
    assert [to_universal("orchid", t) for t in tags] == "NOUN VERB NOUN NOUN NOUN ADJ".split()
    words, tags = sentences[1]
    assert words == ["วัน", "ที่ 15", "-", "16", "สิงหาคม", "2532"]  # <minus> written back
    assert [to_universal("orchid", t) for t in tags] == "NOUN ADJ . ADJ NOUN NUM".split()
    # The raw text spans three lines (\\ continues it); 34 word lines, 3 of them <space>.
    words, tags = sentences[2]
    assert len(words) == 31 and words[:4] == ["ใน", "การ", "ดำเนินการ", "เพื่อให้"]
    assert [to_universal("orchid", t) for t in tags[:12]] == (
        "ADP NOUN VERB ADP VERB NOUN DET VERB VERB VERB NOUN DET".split())
    assert counts == Counter({"header_lines": 11, "paragraphs": 4, "sentences_read": 3, "words_read": 49,
                              "space_words_dropped_PUNC": 6, "words_with_named_signs_rewritten": 1,
                              "english_sentences_untagged_skipped": 2})


def test_orchid_reader_names_the_bad_line(tmp_path):
    bad = ORCHID.replace("ประชุม/VACT", "ประชุม VACT")
    with pytest.raises(ValueError, match=r"orchid97.txt:16: expected word/TAG, got 'ประชุม VACT'"):
        orchid.read_orchid(_write(tmp_path, "orchid97.txt", bad), Counter())


def test_pku_sentences_tags_and_silver_entities(tmp_path):
    counts = Counter()
    sentences = pku.read_pku(_write(tmp_path, "199801.txt", PKU), counts)
    # Line 1 has no end mark; line 4 splits after 。; line 7 (cut) has two sentences.
    assert ["".join(w) for w, _ in sentences] == [
        "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）",
        "１２月３１日，中共中央总书记、国家主席江泽民发表１９９８年新年讲话《迈向充满希望的新世纪》。",
        "（新华社记者兰红光摄）",
        "１９９７年，是中国发展历史上非常重要的很不平凡的一年。",
        "中国人民决心继承邓小平同志的遗志，继续把建设有中国特色社会主义事业推向前进。",
    ]
    assert counts == Counter({"paragraphs": 3, "sentences": 5, "words": 84})
    words, tags = sentences[3]  # by hand: 上/f -> ADP, 发展/vn -> NOUN, 一/m 年/q -> NUM NOUN
    assert [to_universal("pku", t) for t in tags] == (
        "NOUN . VERB NOUN NOUN NOUN ADP ADV ADJ PRT ADV ADV ADJ PRT NUM NOUN .".split())
    assert [to_universal("pku", t) for t in sentences[0][1]] == (
        "VERB VERB NOUN PRT ADJ NOUN . NOUN NOUN NOUN . VERB NOUN NUM NOUN .".split())
    ents = pku.pku_entities(*sentences[1], counts)
    assert [(w, e) for w, e in zip(sentences[1][0], ents) if e != "O"] == [
        ("中共中央", "B-ORG"), ("江", "B-PER"), ("泽民", "I-PER")]
    # A byline with two names and no separator: 杜中武 and 孙传刚 are two people.
    words, tags = ["（", "杜", "中武", "孙", "传刚", "）"], ["w", "nr", "nr", "nr", "nr", "w"]
    assert pku.pku_entities(words, tags, counts) == ["O", "B-PER", "I-PER", "B-PER", "I-PER", "O"]
    assert pku.pku_entities(["北京", "朝阳区", "政协"], ["ns", "ns", "j"], counts) == ["B-LOC", "B-LOC", "O"]
    assert counts["nr_runs_split_at_a_surname"] == 1 and counts["adjacent_ns_words_kept_apart"] == 1
    assert counts["j_words_left_O"] == 1


def test_indonesian_lines_with_crlf_and_negation(tmp_path):
    sentences = corpora.read_tagged(_write(tmp_path, "preprocessed.txt", AKSARA, newline=""))
    assert len(sentences) == 3
    words, tags = sentences[0]
    mapped = [to_universal("ud", t, w) for w, t in zip(words, tags)]
    # By hand: Meski/SCONJ -> ADP; belum and tidak (PART, negation) -> ADV; lah (PART) -> PRT; PROPN -> NOUN.
    assert list(zip(words, mapped))[:13] == [
        ("“", "."), ("Meski", "ADP"), ("kebanyakan", "DET"), ("transisi", "NOUN"), ("digital", "ADJ"),
        ("yang", "PRON"), ("terjadi", "VERB"), ("di", "ADP"), ("Amerika", "NOUN"), ("Serikat", "NOUN"),
        ("belum", "ADV"), ("pernah", "ADV"), ("terjadi", "VERB")]
    assert list(zip(words, mapped))[18:21] == [("damai", "ADJ"), ("tidak", "ADV"), ("lah", "PRT")]
    assert [to_universal("ud", t, w) for w, t in zip(*sentences[1])] == (
        "ADP PRON PRON VERB NOUN NOUN ADJ ADP NOUN NOUN . PRON VERB ADJ VERB .".split())
    assert "C/D" in sentences[2][0] and sentences[2][1][-1] == "PUNCT"  # a "/" inside a word; no "\r" left


def test_reviews_dedupe_conflicts_and_balance(tmp_path):
    counts = Counter()
    texts, labels = reviews.balanced_reviews(_write(tmp_path, "neg.txt", REVIEWS_NEG),
                                             _write(tmp_path, "pos.txt", REVIEWS_POS), seed=0, counts=counts)
    # neg: 4 distinct texts, one also in pos -> 3; pos: 3 distinct, one in neg -> 2; balanced: 2 + 2.
    assert Counter(labels) == Counter({0: 2, 1: 2})
    assert "没有配置驱动光盘。这点很不好。虽然说笔记本本身带刻录。可是也麻烦了客户啊。" not in texts
    assert counts == Counter({"negative_lines_read": 6, "negative_duplicates_dropped": 1,
                              "negative_empty_lines_dropped": 1, "positive_lines_read": 4,
                              "positive_duplicates_dropped": 1, "texts_in_both_files_dropped": 1,
                              "negative_beyond_balance_dropped": 1, "positive_beyond_balance_dropped": 0})
    again = reviews.balanced_reviews(tmp_path / "neg.txt", tmp_path / "pos.txt", seed=0, counts=Counter())
    assert again == (texts, labels)
