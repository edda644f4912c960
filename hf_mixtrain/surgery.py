"""Stochastic gradient surgery: remove the part of an update that conflicts with one language's gradient.

For the update ``g`` (the mixed-batch gradient) and an oracle gradient ``o`` (one language's batch),

    g <- g - min(0, g.o / ||o||^2) * o

so ``g`` is changed only when ``g.o < 0``, and then it loses exactly its component along ``o``: afterwards
``g.o = 0``. This is PCGrad's projection (Yu et al., 2020) applied to a single randomly chosen language, as
in Xu & Murray (2022).

Two scopes:

* ``"global"`` (the authors): ``g`` and ``o`` are each the concatenation of every parameter's gradient, so
  one scalar decides and scales the projection of the whole model.
* ``"per_tensor"`` (an extension): the rule is applied to each parameter tensor on its own, so a layer whose
  gradient conflicts is projected even when the model-wide dot product is positive.

Parameters whose ``g`` or ``o`` is ``None`` take no part: they count neither in dot products nor in norms,
and their gradient is left as it is. The full gradient is never concatenated: dot products and norms are
summed per tensor (in float32, then float64 across tensors, whatever the gradient dtype) and the update is
an in-place ``add_`` per tensor, so the only memory beyond ``g`` and ``o`` is a few scalars.

A zero oracle norm is a no-op. Non-finite dot products or norms (inf/nan gradients, e.g. an fp16 overflow)
leave ``g`` untouched so that a ``GradScaler`` still sees the overflow and skips the step. The projection is
invariant to scaling ``g`` and ``o`` by positive constants, so gradients scaled by a loss scaler (or
divided by an accumulation count) give the same result as unscaled ones.

This module deliberately imports nothing from transformers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch

SCOPES = ("global", "per_tensor")


@dataclass
class SurgeryRecord:
    """What one projection saw and did.

    ``dot``, ``cosine``, ``grad_norm`` and ``oracle_norm`` describe ``g`` and ``o`` BEFORE projection, over
    all tensors that took part. ``projected`` is True when any gradient changed. ``num_projected`` counts
    projected tensors (global scope: all participating tensors or none). ``tensor_cosines`` holds the
    per-tensor cosine of every participating tensor, in input order, when asked for (``nan`` where a norm
    is zero).
    """

    dot: float
    cosine: float
    projected: bool
    grad_norm: float
    oracle_norm: float
    num_projected: int = 0
    num_tensors: int = 0
    tensor_cosines: Optional[list] = field(default=None, repr=False)


def _pairs(grads: Sequence[Optional[torch.Tensor]], oracle_grads: Sequence[Optional[torch.Tensor]]):
    if len(grads) != len(oracle_grads):
        raise ValueError(
            f"grads and oracle_grads must list the same parameters; got {len(grads)} and {len(oracle_grads)} tensors."
        )
    pairs = []
    for i, (g, o) in enumerate(zip(grads, oracle_grads)):
        if g is None or o is None:
            continue
        if g.shape != o.shape:
            raise ValueError(f"Tensor {i}: gradient shape {tuple(g.shape)} differs from oracle shape {tuple(o.shape)}.")
        pairs.append((g, o))
    return pairs


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # torch.dot on float32 views costs no copy; half-precision tensors are upcast one tensor at a time.
    a = a.reshape(-1)
    b = b.reshape(-1)
    if a.dtype != torch.float32 and a.dtype != torch.float64:
        a = a.float()
    if b.dtype != torch.float32 and b.dtype != torch.float64:
        b = b.float()
    if a.dtype != b.dtype:
        a, b = a.double(), b.double()
    return torch.dot(a, b)


def project_conflicting(
    grads: Sequence[Optional[torch.Tensor]],
    oracle_grads: Sequence[Optional[torch.Tensor]],
    scope: str = "global",
    return_tensor_cosines: bool = False,
) -> SurgeryRecord:
    """Project ``grads`` in place off the directions of ``oracle_grads`` that they conflict with.

    Args:
        grads: one tensor (or ``None``) per parameter: the update to correct, modified in place.
        oracle_grads: the oracle language's gradient, same length and shapes; not modified.
        scope: ``"global"`` (one scalar over all tensors, the authors' rule) or ``"per_tensor"``.
        return_tensor_cosines: also report each tensor's cosine in the record (costs one norm per tensor).

    Returns:
        A :class:`SurgeryRecord`.
    """
    if scope not in SCOPES:
        raise ValueError(f"Unknown surgery scope {scope!r}; choose one of {SCOPES}.")
    pairs = _pairs(grads, oracle_grads)
    if not pairs:
        return SurgeryRecord(0.0, 0.0, False, 0.0, 0.0, 0, 0, [] if return_tensor_cosines else None)

    gs = [g for g, _ in pairs]
    os_ = [o for _, o in pairs]
    # Per-tensor dots, one fused norm kernel per side, then a single host sync for the whole model.
    dots = torch.stack([_dot(g, o) for g, o in pairs]).double()
    g_norms = torch.stack(torch._foreach_norm(gs, 2, dtype=torch.float32)).double()
    o_norms = torch.stack(torch._foreach_norm(os_, 2, dtype=torch.float32)).double()
    per_tensor = torch.stack([dots, g_norms.square(), o_norms.square()], dim=1).cpu().tolist()
    dot = math.fsum(r[0] for r in per_tensor)
    gg = math.fsum(r[1] for r in per_tensor)
    oo = math.fsum(r[2] for r in per_tensor)
    finite = all(math.isfinite(x) for x in (dot, gg, oo))
    grad_norm, oracle_norm = math.sqrt(gg) if finite else float("nan"), math.sqrt(oo) if finite else float("nan")
    if not finite:
        cosine = float("nan")
    else:
        cosine = dot / (grad_norm * oracle_norm) if grad_norm > 0 and oracle_norm > 0 else 0.0

    tensor_cosines = None
    if return_tensor_cosines:
        tensor_cosines = [
            d / math.sqrt(a * b) if a > 0 and b > 0 and math.isfinite(d * a * b) else float("nan") for d, a, b in per_tensor
        ]

    num_projected = 0
    if finite:
        if scope == "global":
            if dot < 0 and oo > 0:
                torch._foreach_add_(gs, os_, alpha=-dot / oo)
                num_projected = len(pairs)
        else:
            for (g, o), (d, _, o2) in zip(pairs, per_tensor):
                if d < 0 and o2 > 0 and math.isfinite(d) and math.isfinite(o2):
                    g.add_(o, alpha=-d / o2)
                    num_projected += 1

    return SurgeryRecord(
        dot=dot,
        cosine=cosine,
        projected=num_projected > 0,
        grad_norm=grad_norm,
        oracle_norm=oracle_norm,
        num_projected=num_projected,
        num_tensors=len(pairs),
        tensor_cosines=tensor_cosines,
    )


def gram_matrix(grads: Sequence[Sequence[Optional[torch.Tensor]]]) -> list:
    """Dot products ``G[i][j] = <g_i, g_j>`` between gradients, each a list of tensors (one per parameter).

    Tensors that are ``None`` in either gradient take no part in that pair. Sums are float32 per tensor and
    float64 across tensors, as in :func:`project_conflicting`; no gradient is concatenated.
    """
    n = len(grads)
    gram = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            dots = [_dot(a, b) for a, b in _pairs(grads[i], grads[j])]
            value = math.fsum(torch.stack(dots).double().cpu().tolist()) if dots else 0.0
            gram[i][j] = gram[j][i] = value
    return gram


def pcgrad_coefficients(gram: Sequence[Sequence[float]], orders: Sequence[Sequence[int]]) -> tuple[list, int]:
    """PCGrad (Yu et al., 2020, Algorithm 1) over n gradients, computed on their Gram matrix.

    Each ``g_i`` is projected in turn, in the order ``orders[i]``, off every ``g_j`` (j != i) that its projected
    version conflicts with; the update is the sum of the projected gradients. Every projected gradient stays in
    the span of the g's, so the update is ``sum_k c_k g_k``: this returns ``(c, number of projections made)``.
    With no conflict, c is all ones (the plain sum). A non-finite Gram matrix (inf/nan gradients) returns all
    ones and 0 projections, so a loss scaler still sees the overflow.
    """
    n = len(gram)
    if not all(math.isfinite(x) for row in gram for x in row):
        return [1.0] * n, 0
    total, made = [0.0] * n, 0
    for i in range(n):
        w = [0.0] * n
        w[i] = 1.0
        for j in orders[i]:
            if j == i or gram[j][j] <= 0:
                continue
            d = math.fsum(w[k] * gram[k][j] for k in range(n))  # (projected g_i) . g_j
            if d < 0:
                w[j] -= d / gram[j][j]
                made += 1
        total = [t + x for t, x in zip(total, w)]
    return total, made
