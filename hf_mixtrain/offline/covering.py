"""Use a benchmark's pruned encoder only on text its vocabulary covers; switch to the full encoder otherwise.

A pruned encoder (``build_pruned_model``) computes what the full one computes on the benchmark's own text, and
nothing guarantees that elsewhere: a word whose pieces were pruned splits into more, shorter pieces or ``<unk>``
(Turkish added to offline-pos: 40 pieces with 5 ``<unk>`` instead of 19, 58.6 instead of 77.5 accuracy). The full
encoder it was pruned from sits next to it in the cache and is a superset: same pieces, same weights.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..tasks.coverage import coverage_of_ids, piece_ids
from .build import MODEL_NAME

logger = logging.getLogger(__name__)


def _marker(model_dir: Path) -> dict | None:
    try:
        return json.loads((model_dir / "build.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def pruned_from(model_dir: str | Path, full_model: str | Path | None = None) -> Path | None:
    """The full encoder a pruned one was built from, or None when ``model_dir`` is not a pruned offline encoder.

    ``full_model`` defaults to its place in the cache (``models/multilingual-e5-small`` beside the pruned folder).
    Raises ValueError, naming the fix, when that folder does not hold the encoder the pruned one was built from.
    """
    model_dir = Path(model_dir)
    marker = _marker(model_dir)
    if not marker or "pruning_version" not in marker.get("key", {}):
        return None
    full = Path(full_model) if full_model is not None else model_dir.parent / MODEL_NAME
    full_marker = _marker(full)
    if full_marker is None or full_marker.get("key") != marker["key"]["model"]:
        found = "nothing" if full_marker is None else f"an encoder built from {full_marker.get('key')}"
        raise ValueError(
            f"{model_dir} is an encoder whose vocabulary is pruned to a benchmark's text, and the full encoder it "
            f"was pruned from is not at {full} ({found} there). Fix: rebuild it with `python -m hf_mixtrain.offline "
            f"build --what model` (same cache), or pass --model_name_or_path with a model that covers your text"
        )
    return full


def covering_model(
    model_name_or_path: str | Path,
    texts_by_lang: Mapping[str, Iterable[str | Sequence[str]]],
    full_model: str | Path | None = None,
) -> str:
    """The model to run on ``texts_by_lang``: ``model_name_or_path`` unless it is a pruned offline encoder that
    tokenises some of the text differently from the full encoder, then the full encoder (logged with the reason).

    ``texts_by_lang``: every language's text the run will tokenise (``hf_mixtrain.tasks.coverage.texts_of``): word
    lists or strings. Any other model (a Hub id, your own checkpoint, the full encoder) is returned unchanged without
    loading anything. The check is exact: each text's pieces under the pruned tokenizer are compared with the full
    tokenizer's, so a language whose words merely split into more pieces (no ``<unk>``) switches too.
    """
    full = pruned_from(model_name_or_path, full_model)
    if full is None:
        return str(model_name_or_path)
    from transformers import AutoTokenizer

    pruned_tok = AutoTokenizer.from_pretrained(model_name_or_path)
    full_tok = AutoTokenizer.from_pretrained(full)
    # Ids of the pruned vocabulary in the full one (the pruned pieces are a subset, in the same order).
    to_full = np.asarray(full_tok.convert_tokens_to_ids(pruned_tok.convert_ids_to_tokens(list(range(len(pruned_tok))))))
    uncovered = []
    for lang, texts in texts_by_lang.items():
        texts = list(texts)
        pruned_ids, full_ids = piece_ids(pruned_tok, texts), piece_ids(full_tok, texts)
        differ = sum(1 for p, f in zip(pruned_ids, full_ids) if len(p) != len(f) or (to_full[p] != f).any())
        if not differ:
            logger.info("pruned vocabulary of %s covers %s (%d texts)", model_name_or_path, lang, len(texts))
            continue
        p, f = (coverage_of_ids(ids, texts, tok.unk_token_id)
                for ids, tok in ((pruned_ids, pruned_tok), (full_ids, full_tok)))
        uncovered.append(lang)
        logger.warning(
            "the pruned vocabulary of %s does not cover %s: %d of %d texts split differently from the full "
            "vocabulary (pruned: %d pieces, %.2f per word, %.2f%% <unk>; full: %d pieces, %.2f per word, "
            "%.2f%% <unk>)",
            model_name_or_path, lang, differ, len(texts), p.pieces, p.pieces_per_word, 100 * p.unk_share,
            f.pieces, f.pieces_per_word, 100 * f.unk_share,
        )
    if not uncovered:
        return str(model_name_or_path)
    logger.warning(
        "using the full-vocabulary encoder %s instead of the pruned %s, which is exact only on its benchmark's text "
        "(%s not covered). It is the same encoder with all %d pieces (the same hidden states on the benchmark's "
        "text), only bigger.",
        full, model_name_or_path, ", ".join(uncovered), len(full_tok),
    )
    return str(full)
