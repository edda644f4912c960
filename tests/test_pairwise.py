"""surgery_source="pairwise": full PCGrad over the languages in a batch, against PCGrad on flattened float64 vectors."""

import numpy as np
import pytest
import torch
from helpers import tiny_token_model
from test_batch_split import current_grad, grad_of
from test_trainer import args

from hf_mixtrain import GradientMixTrainer, MixTrainingArguments
from hf_mixtrain.surgery import gram_matrix, pcgrad_coefficients

LANGS = {"en": 0, "xx": 1, "yy": 2}


def explicit_pcgrad(vectors, orders):
    """Yu et al. (2020), Algorithm 1, written directly on vectors."""
    out = torch.zeros_like(vectors[0])
    for i, g in enumerate(vectors):
        pc = g.clone()
        for j in orders[i]:
            if j != i and float(pc @ vectors[j]) < 0:
                pc = pc - float(pc @ vectors[j]) / float(vectors[j] @ vectors[j]) * vectors[j]
        out += pc
    return out


@pytest.mark.parametrize("seed", range(5))
def test_pcgrad_coefficients_rebuild_pcgrad(seed):
    rng = np.random.default_rng(seed)
    n = 4
    vectors = [torch.tensor(rng.normal(size=30)) for _ in range(n)]
    vectors[1] = -0.8 * vectors[0] + 0.3 * vectors[1]  # make sure something conflicts
    # As tensor lists with a None entry and mixed dtypes: three "parameters" per gradient.
    as_lists = [[v[:10].float(), None if k == 2 else v[10:20].float(), v[20:].half()] for k, v in enumerate(vectors)]
    flat = [torch.cat([t.double() for t in (l[0], l[1] if l[1] is not None else torch.zeros(10), l[2])]) for l in as_lists]
    gram = gram_matrix(as_lists)
    for i in range(n):
        for j in range(n):
            a, b = flat[i], flat[j]
            if i == 2 or j == 2:  # the None tensor takes no part in pairs with gradient 2
                a, b = torch.cat([a[:10], a[20:]]), torch.cat([b[:10], b[20:]])
            assert gram[i][j] == pytest.approx(float(a @ b), rel=1e-5, abs=1e-6)
    orders = [rng.permutation(n).tolist() for _ in range(n)]
    exact = [[float(a @ b) for b in vectors] for a in vectors]
    c, made = pcgrad_coefficients(exact, orders)
    torch.testing.assert_close(sum(ci * v for ci, v in zip(c, vectors)), explicit_pcgrad(vectors, orders))
    assert made > 0


def test_pcgrad_coefficients_without_conflict_or_with_overflow():
    assert pcgrad_coefficients([[1.0, 0.2], [0.2, 2.0]], [[0, 1], [1, 0]]) == ([1.0, 1.0], 0)
    assert pcgrad_coefficients([[1.0, float("nan")], [float("nan"), 2.0]], [[0, 1], [1, 0]]) == ([1.0, 1.0], 0)


def batch(shift=1, seed=0):
    """Rows of three languages, right-padded; language l maps tokens to tags with shift l * `shift`."""
    rng = np.random.default_rng(seed)
    lengths, lang = [9, 5, 7, 9, 3, 6, 8, 4, 5, 7, 2], [0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    ids, labels, mask = (np.zeros((11, 12), dtype=np.int64) for _ in range(3))
    labels[:] = -100
    for r, (n, l) in enumerate(zip(lengths, lang)):
        ids[r, :n] = rng.integers(5, 64, n)
        labels[r, :n] = (ids[r, :n] + l * shift) % 3
        mask[r, :n] = 1
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": torch.tensor(labels),
            "lang_id": torch.tensor(lang)}


def trainer_for(tmp_path, **kw):
    model = tiny_token_model()
    trainer = GradientMixTrainer(model=model, args=args(tmp_path, surgery_source="pairwise", **kw), language_ids=LANGS)
    trainer.current_gradient_accumulation_steps = 1
    return trainer, model


def test_pairwise_step_is_pcgrad_on_the_languages_weighted_gradients(tmp_path):
    trainer, model = trainer_for(tmp_path)
    inputs = batch(shift=1)
    ids = inputs["lang_id"]
    counts = [int((inputs["labels"][ids == l] != -100).sum()) for l in range(3)]
    grads = [grad_of(model, inputs, ids == l) * (n / sum(counts)) for l, n in enumerate(counts)]
    # The orders the trainer draws: its generator for (seed, step 0, micro-batch 0), after the surgery_prob draw.
    rng = np.random.default_rng([trainer.args.seed, 0, 0])
    rng.random()
    orders = [rng.permutation(3).tolist() for _ in range(3)]
    expected = explicit_pcgrad(grads, orders)
    assert not torch.allclose(expected, sum(grads)), "the fixture must conflict"
    trainer.training_step(model, dict(inputs))
    torch.testing.assert_close(current_grad(model), expected, rtol=1e-4, atol=1e-6)
    (event,) = trainer.surgery_history
    assert event["projected"] and event["lang"] == "en+xx+yy" and event["cosine"] < 0


def test_pairwise_without_conflict_is_the_mixed_batch_gradient(tmp_path):
    trainer, model = trainer_for(tmp_path)
    inputs = batch(shift=0)  # one rule for every language
    expected = grad_of(model, inputs)
    trainer.training_step(model, dict(inputs))
    assert not trainer.surgery_history[0]["projected"]
    torch.testing.assert_close(current_grad(model), expected, rtol=1e-4, atol=1e-6)


def test_pairwise_refuses_settings_it_cannot_honour(tmp_path):
    with pytest.raises(ValueError, match="surgery_scope='global' only"):
        MixTrainingArguments(output_dir=str(tmp_path), gradient_surgery=True, surgery_source="pairwise",
                             surgery_scope="per_tensor")
    with pytest.raises(ValueError, match="surgery_every='micro_batch'"):
        MixTrainingArguments(output_dir=str(tmp_path), gradient_surgery=True, surgery_source="pairwise",
                             surgery_every="optimizer_step")


def test_pairwise_leaves_out_a_language_without_labelled_positions(tmp_path):
    # yy's rows carry no label: its loss is 0/0. PCGrad then runs over en and xx alone, and stays finite.
    trainer, model = trainer_for(tmp_path)
    inputs = batch(shift=1)
    ids = inputs["lang_id"]
    inputs["labels"][ids == 2] = -100
    counts = [int((inputs["labels"][ids == l] != -100).sum()) for l in range(2)]
    grads = [grad_of(model, inputs, ids == l) * (n / sum(counts)) for l, n in enumerate(counts)]
    rng = np.random.default_rng([trainer.args.seed, 0, 0])
    rng.random()
    orders = [rng.permutation(2).tolist() for _ in range(2)]
    trainer.training_step(model, dict(inputs))
    torch.testing.assert_close(current_grad(model), explicit_pcgrad(grads, orders), rtol=1e-4, atol=1e-6)
    (event,) = trainer.surgery_history
    assert event["lang"] == "en+xx"
