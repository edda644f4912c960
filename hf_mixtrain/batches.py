"""Per-language parts of a collated batch, and averaging gradients across processes by hand.

The split surgery sources (batch_split, pairwise) pass the rows of one micro-batch in parts, one per language;
every row carries its language in the `lang_id` column, the one name for it in the package.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.distributed as dist

LANG_ID = "lang_id"


def select_rows(inputs: dict[str, Any], mask: torch.Tensor) -> dict[str, Any]:
    """The rows of a collated batch where `mask` is True, with right padding that only those rows had trimmed."""
    size = mask.shape[0]
    part = {k: v[mask.to(v.device)] if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == size else v for k, v in inputs.items()}
    attention = part.get("attention_mask")
    if attention is not None and attention.dim() == 2:
        length = int(attention.sum(dim=1).max())
        if length < attention.shape[1] and not bool(attention[:, length:].any()):
            width = attention.shape[1]
            part = {
                k: v[:, :length].contiguous() if torch.is_tensor(v) and v.dim() >= 2 and v.shape[1] == width else v
                for k, v in part.items()
            }
    return part


def loss_items(part: dict[str, Any]) -> int:
    """How many terms a mean-reduced loss averages over: labelled positions, else rows (QA, start/end per row)."""
    labels = part.get("labels")
    if labels is not None:
        return int((labels != -100).sum())
    return int(next(v.shape[0] for v in part.values() if torch.is_tensor(v) and v.dim() > 0))


def weighted_sum(terms: list[tuple[Optional[torch.Tensor], float]]) -> Optional[torch.Tensor]:
    """sum(w * t) over the tensors present, written into the first one present (no new gradient buffer)."""
    present = [(t, w) for t, w in terms if t is not None]
    if not present:
        return None
    out, w0 = present[0]
    if w0 != 1.0:
        out.mul_(w0)
    for t, w in present[1:]:
        out.add_(t, alpha=w)
    return out


def all_reduce_mean(tensors: list[torch.Tensor], world_size: int, bucket_bytes: int = 25 * 2**20) -> None:
    """Average tensors across processes in place, in flat buckets of about `bucket_bytes` (gloo has no AVG op)."""
    bucket: list[torch.Tensor] = []

    def flush():
        if not bucket:
            return
        in_place = len(bucket) == 1 and bucket[0].is_contiguous()
        flat = bucket[0].view(-1) if in_place else torch.cat([t.reshape(-1) for t in bucket])
        dist.all_reduce(flat)
        flat.div_(world_size)
        if not in_place:
            offset = 0
            for t in bucket:
                t.copy_(flat[offset : offset + t.numel()].view_as(t))
                offset += t.numel()
        bucket.clear()

    size = 0
    for t in tensors:
        if bucket and (t.dtype != bucket[0].dtype or t.device != bucket[0].device or size + t.numel() * t.element_size() > bucket_bytes):
            flush()
            size = 0
        bucket.append(t)
        size += t.numel() * t.element_size()
    flush()
