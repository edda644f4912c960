import math

import pytest
import torch

from hf_mixtrain import project_conflicting

SHAPES = [(3, 4), (5,), (2, 2, 3), (1,)]


def reference(grads, oracles, scope):
    """The paper's formula in float64 on flattened vectors (global) or each tensor's vector (per_tensor)."""
    pairs = [(g, o) for g, o in zip(grads, oracles) if g is not None and o is not None]
    g64 = [g.detach().double().flatten() for g, _ in pairs]
    o64 = [o.detach().double().flatten() for _, o in pairs]
    if scope == "global":
        g, o = torch.cat(g64), torch.cat(o64)
        dot, oo = float(g @ o), float(o @ o)
        coeff = min(0.0, dot / oo) if oo > 0 else 0.0
        out = g - coeff * o
        sizes = [t.numel() for t in g64]
        return list(out.split(sizes)), dot
    outs = []
    for g, o in zip(g64, o64):
        dot, oo = float(g @ o), float(o @ o)
        outs.append(g - (min(0.0, dot / oo) if oo > 0 else 0.0) * o)
    return outs, float(torch.cat(g64) @ torch.cat(o64))


def make(kind, seed, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(s, generator=gen) for s in SHAPES]
    oracles = [torch.randn(s, generator=gen) for s in SHAPES]
    if kind == "conflicting":
        oracles = [-g + 0.3 * o for g, o in zip(grads, oracles)]
    elif kind == "aligned":
        oracles = [g + 0.3 * o for g, o in zip(grads, oracles)]
    elif kind == "orthogonal":
        g, o = torch.cat([t.flatten() for t in grads]), torch.cat([t.flatten() for t in oracles])
        o = o - (g @ o) / (g @ g) * g
        oracles = list(o.split([math.prod(s) for s in SHAPES]))
        oracles = [t.view(s) for t, s in zip(oracles, SHAPES)]
    elif kind == "zero_oracle":
        oracles = [torch.zeros(s) for s in SHAPES]
    elif kind == "none_entries":
        grads[1] = None
        oracles[2] = None
    return [None if g is None else g.to(dtype) for g in grads], [None if o is None else o.to(dtype) for o in oracles]


@pytest.mark.parametrize("scope", ["global", "per_tensor"])
@pytest.mark.parametrize("kind", ["random", "conflicting", "aligned", "orthogonal", "zero_oracle", "none_entries"])
@pytest.mark.parametrize("seed", range(8))
def test_matches_float64_formula(scope, kind, seed):
    grads, oracles = make(kind, seed)
    before = [None if g is None else g.clone() for g in grads]
    expected, expected_dot = reference(before, oracles, scope)
    record = project_conflicting(grads, oracles, scope=scope)
    got = [g for g, o in zip(grads, oracles) if g is not None and o is not None]
    for g, e in zip(got, expected):
        torch.testing.assert_close(g.double().flatten(), e, rtol=1e-5, atol=1e-6)
    # Tensors that take no part are left exactly as they were.
    for g, o, b in zip(grads, oracles, before):
        if g is not None and o is None:
            assert torch.equal(g, b)
    assert record.dot == pytest.approx(expected_dot, rel=1e-5, abs=1e-6)
    if kind == "conflicting":
        assert record.projected and record.cosine < 0
    # "aligned" is aligned as a whole; a single small tensor may still conflict, so per_tensor can project it.
    if kind == "zero_oracle" or (kind == "aligned" and scope == "global"):
        assert not record.projected
        for g, b in zip(grads, before):
            assert g is None or torch.equal(g, b)
    if kind == "orthogonal" and scope == "global":
        assert abs(record.cosine) < 1e-5


def test_after_global_projection_no_conflict_remains():
    grads, oracles = make("conflicting", 0)
    project_conflicting(grads, oracles)
    dot = sum(float((g.double() * o.double()).sum()) for g, o in zip(grads, oracles))
    assert abs(dot) < 1e-4


def test_record_cosine_and_norms():
    grads, oracles = make("random", 3)
    g = torch.cat([t.flatten() for t in grads]).double()
    o = torch.cat([t.flatten() for t in oracles]).double()
    record = project_conflicting([t.clone() for t in grads], oracles, return_tensor_cosines=True)
    assert record.cosine == pytest.approx(float(g @ o / (g.norm() * o.norm())), rel=1e-5)
    assert record.grad_norm == pytest.approx(float(g.norm()), rel=1e-5)
    assert record.oracle_norm == pytest.approx(float(o.norm()), rel=1e-5)
    per = [float(a.double().flatten() @ b.double().flatten() / (a.double().norm() * b.double().norm())) for a, b in zip(grads, oracles)]
    assert record.tensor_cosines == pytest.approx(per, rel=1e-5)
    assert record.num_tensors == len(SHAPES)


def test_per_tensor_projects_a_conflicting_tensor_even_when_global_dot_is_positive():
    grads = [torch.tensor([10.0, 0.0]), torch.tensor([1.0, 0.0])]
    oracles = [torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])]
    g_global = [g.clone() for g in grads]
    assert not project_conflicting(g_global, oracles, scope="global").projected
    record = project_conflicting(grads, oracles, scope="per_tensor")
    assert record.projected and record.num_projected == 1
    torch.testing.assert_close(grads[1], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(grads[0], torch.tensor([10.0, 0.0]))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("scope", ["global", "per_tensor"])
def test_half_precision_inputs(dtype, scope):
    grads, oracles = make("conflicting", 5, dtype=dtype)
    expected, _ = reference(grads, oracles, scope)  # from the same rounded half values
    record = project_conflicting(grads, oracles, scope=scope)
    assert record.projected
    tol = 1e-2 if dtype == torch.float16 else 4e-2
    for g, e in zip(grads, expected):
        assert g.dtype == dtype
        torch.testing.assert_close(g.double().flatten(), e, rtol=tol, atol=tol)


def test_fp16_scaled_gradients_give_the_unscaled_projection():
    # A GradScaler multiplies both gradients by one constant S; the projection must commute with that.
    grads, oracles = make("conflicting", 7)
    scale = 2.0**12
    unscaled = [g.clone() for g in grads]
    project_conflicting(unscaled, oracles)
    scaled = [(g * scale).half() for g in grads]
    project_conflicting(scaled, [(o * scale).half() for o in oracles])
    for s, u in zip(scaled, unscaled):
        torch.testing.assert_close(s.float() / scale, u, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_non_finite_gradients_are_left_for_the_scaler(bad):
    grads, oracles = make("conflicting", 1)
    grads[0][0, 0] = bad
    before = [g.clone() for g in grads]
    record = project_conflicting(grads, oracles)
    assert not record.projected
    for g, b in zip(grads, before):
        assert torch.equal(g.nan_to_num(), b.nan_to_num())
    assert not math.isfinite(grads[0][0, 0].item())


def test_all_none_and_mismatched_inputs():
    assert not project_conflicting([None], [torch.ones(2)]).projected
    with pytest.raises(ValueError, match="same parameters"):
        project_conflicting([torch.ones(2)], [])
    with pytest.raises(ValueError, match="shape"):
        project_conflicting([torch.ones(2)], [torch.ones(3)])
    with pytest.raises(ValueError, match="scope"):
        project_conflicting([torch.ones(2)], [torch.ones(2)], scope="layer")


def test_no_transformers_import():
    import subprocess
    import sys

    # Import the module file directly so the package __init__ (which imports the trainer) stays out of it.
    code = (
        "import importlib.util, sys; spec = importlib.util.spec_from_file_location('s', 'hf_mixtrain/surgery.py');"
        "m = importlib.util.module_from_spec(spec); sys.modules['s'] = m; spec.loader.exec_module(m); sys.exit('transformers' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
