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


def read_history(path: Optional[str], missing_ok: bool = True) -> list[dict[str, Any]]:
    """The surgery events of a history file, or of `<folder>/surgery_history.jsonl`, in the order they happened.

    A missing history is `[]` with `missing_ok` (a checkpoint of a run without surgery), else an error; a line
    that is not a surgery event is an error naming the file and line.
    """
    if path and os.path.isdir(path):
        path = os.path.join(path, SURGERY_HISTORY_NAME)
    if not path or not os.path.isfile(path):
        if missing_ok:
            return []
        raise FileNotFoundError(
            f"No surgery history at {path}: only gradient-mix runs write one (into their output_dir, with the model)."
        )
    events = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not a JSON line ({err}).") from err
            missing = [key for key in ("step", "lang", "dot", "cosine") if key not in event]
            if missing:
                raise ValueError(f"{path}:{number}: a surgery event without {', '.join(missing)}.")
            events.append(event)
    return sorted(events, key=lambda e: (e["step"], e.get("micro_step", 0)))  # stable: same-step events keep order
