"""Atomic file writes (text, JSON, CSV, figures) and the lazy matplotlib import: the one home of both."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile


def _readable(tmp: str) -> None:
    # mkstemp creates files readable by their owner only; give the result the permissions open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


def write_text(path: str, text: str) -> str:
    """Write `text` to `path` atomically: a temporary file in the same folder, then `os.replace`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    _readable(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: str, obj) -> str:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_csv(path: str, rows: list[dict], columns: list[str]) -> str:
    """Rows (dicts) as CSV with a header; floats keep full precision, None is an empty cell."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return write_text(path, buffer.getvalue())


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed), or a clear error naming the extra to install."""
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(
            "Plots need matplotlib, an optional dependency: pip install 'hf-mixtrain[plots]' (or pip install "
            "matplotlib), or pass --no_plots to write the tables only."
        ) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str) -> str:
    """Save a matplotlib figure as PNG atomically and close it."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".png")
    os.close(fd)
    _readable(tmp)
    try:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        pyplot().close(fig)
    return path
