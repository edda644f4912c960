"""The surgery history: one record per surgery, its summary in the training logs, and `surgery_history.jsonl`."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any, Optional

import numpy as np

from .files import write_text

SURGERY_HISTORY_NAME = "surgery_history.jsonl"


def surgery_event(step: int, micro: int, lang: str, rows, dot: float, cosine: float, num_projected: int) -> dict:
    """One line of surgery_history.jsonl."""
    return {
        "step": step,
        "micro_step": micro,
        "lang": lang,
        "rows": int(rows),
        "dot": dot,
        "cosine": cosine,
        "projected": num_projected > 0,
        "num_projected": num_projected,
    }


def summarize_surgery(events: list[dict[str, Any]]) -> dict[str, float]:
    """Conflict rate, mean cosine and per-language counts over surgery events (keys prefixed `surgery/`)."""
    if not events:
        return {}
    out = {
        "surgery/events": float(len(events)),
        "surgery/conflict_rate": sum(e["projected"] for e in events) / len(events),
        "surgery/mean_cosine": float(np.nanmean([e["cosine"] for e in events])),
    }
    for lang, count in sorted(Counter(e["lang"] for e in events).items()):
        out[f"surgery/count_{lang}"] = float(count)
    return out


def write_history(output_dir: str, events: list[dict[str, Any]]) -> str:
    """`<output_dir>/surgery_history.jsonl`, written atomically."""
    return write_text(os.path.join(output_dir, SURGERY_HISTORY_NAME), "".join(json.dumps(e) + "\n" for e in events))


def read_history(folder: Optional[str]) -> list[dict[str, Any]]:
    """The events saved in `folder` (a checkpoint), or none when it holds no history."""
    path = os.path.join(folder, SURGERY_HISTORY_NAME) if folder else None
    if not path or not os.path.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
