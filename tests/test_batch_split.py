import copy
import subprocess
import sys

import numpy as np
import pytest
import torch
from datasets import concatenate_datasets
from helpers import synthetic_token_data, tiny_token_model
from test_trainer import args, assert_same_params, params

from hf_mixtrain import GradientMixTrainer
from hf_mixtrain.samplers import LanguageBatchSampler

LANGS = {"en": 0, "xx": 1, "yy": 2}


def padded_batch(seed=0, shift_target=1):
    """8 English rows and 3 target rows of different lengths, right-padded, labels -100 on padding."""
    rng = np.random.default_rng(seed)
    lengths = [9, 5, 7, 9, 3, 6, 8, 4, 5, 7, 2]
    lang = [0] * 8 + [1] * 3
    width = 12  # wider than any row: trimming must not change the result
    ids = np.zeros((11, width), dtype=np.int64)
    labels = np.full((11, width), -100, dtype=np.int64)
    mask = np.zeros((11, width), dtype=np.int64)
    for r, (n, l) in enumerate(zip(lengths, lang)):
        ids[r, :n] = rng.integers(5, 64, n)
        labels[r, :n] = (ids[r, :n] + (shift_target if l else 0)) % 3
        mask[r, :n] = 1
    return {k: torch.tensor(v) for k, v in (("input_ids", ids), ("attention_mask", mask), ("labels", labels), ("lang_id", np.array(lang)))}


def grad_of(model, batch, rows=None):
    model = copy.deepcopy(model)
    model.zero_grad()
    b = {k: v for k, v in batch.items() if k != "lang_id"}
    if rows is not None:
        b = {k: v[rows] for k, v in b.items()}
    model(**b).loss.backward()
    return torch.cat([p.grad.double().flatten() for p in model.parameters()])


def split_trainer(tmp_path, **kw):
    train = concatenate_datasets([synthetic_token_data(16, 0, seed=1), synthetic_token_data(4, 1, seed=2, label_shift=1)])
    model = tiny_token_model()
    trainer = GradientMixTrainer(
        model=model, args=args(tmp_path, surgery_source="batch_split", **kw), train_dataset=train, language_ids=LANGS
    )
    trainer.current_gradient_accumulation_steps = trainer.args.gradient_accumulation_steps
    return trainer, model


def current_grad(model):
    return torch.cat([p.grad.double().flatten() for p in model.parameters()])


def test_without_conflict_batch_split_gives_the_mixed_batch_gradient(tmp_path):
    trainer, model = split_trainer(tmp_path)
    batch = padded_batch(shift_target=0)  # both languages follow the same rule: their gradients agree
    expected = grad_of(model, batch)
    loss = trainer.training_step(model, dict(batch))
    (event,) = trainer.surgery_history
    assert not event["projected"] and event["cosine"] > 0 and event["lang"] == "xx" and event["rows"] == 3
    torch.testing.assert_close(current_grad(model), expected, rtol=1e-4, atol=1e-6)
    mixed = copy.deepcopy(model)
    assert loss.item() == pytest.approx(mixed(**{k: v for k, v in batch.items() if k != "lang_id"}).loss.item(), rel=1e-5)


def test_with_conflict_batch_split_equals_the_float64_formula(tmp_path):
    trainer, model = split_trainer(tmp_path)
    batch = padded_batch(shift_target=1)
    source, target = batch["lang_id"] == 0, batch["lang_id"] == 1
    g_s, g_t = grad_of(model, batch, source), grad_of(model, batch, target)
    n_s, n_t = int((batch["labels"][source] != -100).sum()), int((batch["labels"][target] != -100).sum())
    dot = float(g_s @ g_t)
    assert dot < 0, "the fixture must conflict"
    g_s_proj = g_s - (dot / float(g_t @ g_t)) * g_t
    expected = (n_s * g_s_proj + n_t * g_t) / (n_s + n_t)
    trainer.training_step(model, dict(batch))
    assert trainer.surgery_history[0]["projected"]
    torch.testing.assert_close(current_grad(model), expected, rtol=1e-4, atol=1e-6)


def test_batch_split_under_accumulation_adds_to_the_running_gradient(tmp_path):
    trainer, model = split_trainer(tmp_path, gradient_accumulation_steps=2)
    first, second = padded_batch(seed=1), padded_batch(seed=2)
    state = trainer.accelerator.gradient_state
    state._set_sync_gradients(False)
    trainer.training_step(model, dict(first))
    after_first = current_grad(model).clone()
    state._set_sync_gradients(True)
    trainer.training_step(model, dict(second))
    # The second micro-batch's contribution is computed on its own, then added: check it by difference.
    fresh, _ = split_trainer(tmp_path / "fresh", gradient_accumulation_steps=2)
    fresh_model = fresh.model
    fresh._micro_step = 1
    fresh.training_step(fresh_model, dict(second))
    torch.testing.assert_close(current_grad(model), after_first + current_grad(fresh_model), rtol=1e-4, atol=1e-7)
    assert [e["micro_step"] for e in trainer.surgery_history] == [0, 1]


# ---- the sampler ---------------------------------------------------------------------------------------------


def sampler_ids():
    return [0] * 40 + [1] * 3 + [2] * 10 + [3] * 1


def test_every_batch_holds_source_rows_and_exactly_one_target_language():
    ids = np.array(sampler_ids())
    sampler = LanguageBatchSampler(ids, source_id=0, batch_size=8, target_rows=2, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 7
    seen_source = []
    for batch in batches:
        langs = ids[batch]
        assert (langs == 0).sum() >= 1
        assert len(set(langs[langs != 0])) == 1
        assert len(set(batch)) == len(batch)
        seen_source += [r for r in batch if ids[r] == 0]
    assert sorted(seen_source) == list(range(40))  # one epoch = one pass over the source rows


def test_target_rows_cycle_through_the_pool():
    ids = np.array([0] * 200 + [1] * 5)
    batches = list(LanguageBatchSampler(ids, 0, batch_size=4, target_rows=2, seed=0))
    targets = [r for b in batches for r in b if ids[r] == 1]
    # 100 batches x 2 = 200 target rows from a pool of 5: every row used 40 times, each cycle a permutation.
    assert np.bincount(np.array(targets) - 200).tolist() == [40] * 5
    for start in range(0, 200, 5):
        assert sorted(targets[start : start + 5]) == list(range(200, 205))


def test_small_pools_and_temperature():
    ids = np.array(sampler_ids())
    sampler = LanguageBatchSampler(ids, 0, batch_size=8, target_rows=2, temperature=1.0)
    np.testing.assert_allclose(sampler.probs, np.array([3, 10, 1]) / 14)
    np.testing.assert_allclose(LanguageBatchSampler(ids, 0, 8, 2).probs, [1 / 3] * 3)
    np.testing.assert_allclose(LanguageBatchSampler(ids, 0, 8, 2, temperature=2.0).probs, np.sqrt([3, 10, 1]) / np.sqrt([3, 10, 1]).sum())
    for batch in sampler:
        if ids[batch[-1]] == 3:
            assert sum(ids[r] == 3 for r in batch) == 1  # the one-row pool gives its only row


def test_batches_are_seeded_epoch_dependent_and_stable_across_processes():
    ids = sampler_ids()
    a, b = LanguageBatchSampler(ids, 0, 8, 2, seed=5), LanguageBatchSampler(ids, 0, 8, 2, seed=5)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    assert list(LanguageBatchSampler(ids, 0, 8, 2, seed=6)) != list(b)
    code = (
        "from hf_mixtrain.samplers import LanguageBatchSampler as S;"
        f"print(list(S({ids}, 0, 8, 2, seed=5)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(list(b))


def test_sampler_errors():
    with pytest.raises(ValueError, match="target_rows=8"):
        LanguageBatchSampler(sampler_ids(), 0, 8, 8)
    with pytest.raises(ValueError, match="source language id 9"):
        LanguageBatchSampler(sampler_ids(), 9, 8, 2)
    with pytest.raises(ValueError, match="target-language rows"):
        LanguageBatchSampler([0, 0, 0], 0, 2, 1)


# ---- in training ---------------------------------------------------------------------------------------------


def language_data():
    en = synthetic_token_data(30, 0, seed=1)
    xx = synthetic_token_data(3, 1, seed=2, label_shift=1)
    yy = synthetic_token_data(5, 2, seed=3, label_shift=2)
    return concatenate_datasets([en, xx, yy])


def test_training_with_language_batches(tmp_path):
    trainer = GradientMixTrainer(
        model=tiny_token_model(),
        args=args(tmp_path, surgery_source="batch_split", language_batch_target_rows=2, max_steps=12),
        train_dataset=language_data(),
        language_ids=LANGS,
    )
    seen = []
    original = trainer._batch_split_step

    def spy(model, inputs, micro):
        seen.append(inputs["lang_id"].tolist())
        return original(model, inputs, micro)

    trainer._batch_split_step = spy
    trainer.train()
    assert len(seen) == 12 and all(ids.count(0) == 2 and len(set(ids) - {0}) == 1 for ids in seen)
    assert {e["lang"] for e in trainer.surgery_history} == {"xx", "yy"}


def test_resume_continues_the_sampler(tmp_path):
    def make(out):
        return GradientMixTrainer(
            model=tiny_token_model(dropout=0.1),
            # 30 source rows / 2 per batch = 15 batches an epoch: 20 steps cross into epoch 2.
            args=args(out, surgery_source="batch_split", per_device_train_batch_size=4, max_steps=20, save_strategy="steps", save_steps=17),
            train_dataset=language_data(),
            language_ids=LANGS,
        )

    straight = make(tmp_path / "a")
    straight.train()
    resumed = make(tmp_path / "b")
    resumed.train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-17"))
    assert resumed.surgery_history == straight.surgery_history
    assert_same_params(params(resumed.model), params(straight.model))


def test_batch_split_configuration_errors(tmp_path):
    with pytest.raises(ValueError, match="surgery_every='micro_batch'"):
        args(tmp_path, surgery_source="batch_split", surgery_every="optimizer_step")
    with pytest.raises(ValueError, match="surgery_sync='local' only"):
        args(tmp_path, surgery_source="batch_split", surgery_sync="global")
    with pytest.raises(ValueError, match="language_ids"):
        GradientMixTrainer(model=tiny_token_model(), args=args(tmp_path, surgery_source="batch_split"), train_dataset=language_data())
    trainer, model = split_trainer(tmp_path)
    only_source = {k: v[:8] for k, v in padded_batch().items()}
    with pytest.raises(ValueError, match="only source"):
        trainer.training_step(model, only_source)


def test_naive_mix_with_language_batches_runs(tmp_path):
    a = args(tmp_path, gradient_surgery=False, language_batches=True, max_steps=3)
    trainer = GradientMixTrainer(model=tiny_token_model(), args=a, train_dataset=language_data(), language_ids=LANGS)
    trainer.train()
    assert trainer.surgery_history == []


def test_a_naive_mix_copy_of_batch_split_arguments_has_plain_batches(tmp_path):
    # run_method turns the surgery off for naive-mix with dataclasses.replace: batch-split's language batches must
    # go with it (they were once switched on in __post_init__ and stayed on in the copy).
    import dataclasses

    split = args(tmp_path, surgery_source="batch_split")
    assert split.uses_language_batches and not split.language_batches
    naive = dataclasses.replace(split, gradient_surgery=False)
    assert not naive.uses_language_batches
    trainer = GradientMixTrainer(model=tiny_token_model(), args=naive, train_dataset=language_data(), language_ids=LANGS)
    loader = trainer.get_train_dataloader()
    assert not isinstance(loader.batch_sampler, LanguageBatchSampler)
    assert dataclasses.replace(naive, language_batches=True).uses_language_batches  # asked for: kept


def test_batch_split_under_bf16_autocast_gives_the_mixed_batch_gradient(tmp_path):
    trainer, model = split_trainer(tmp_path, bf16=True)
    batch = padded_batch(shift_target=0)
    fp32 = grad_of(model, batch)
    model = trainer.accelerator.prepare_model(model)  # as train() does: forward runs in autocast
    expected = grad_of(model, batch)
    unweighted = grad_of(model, batch, batch["lang_id"] == 0) + grad_of(model, batch, batch["lang_id"] == 1)
    dtypes = []
    linear = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    hook = linear.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
    trainer.training_step(model, dict(batch))
    hook.remove()
    assert dtypes == [torch.bfloat16, torch.bfloat16]  # both parts' passes ran under autocast
    got = current_grad(model)
    assert float((expected - fp32).norm()) > 0  # autocast changes the gradient here
    # bf16 rounds each pass differently: compare whole vectors. Dropping the parts' weights is off by far more.
    assert float((got - expected).norm() / expected.norm()) < 0.01
    assert float((unweighted - expected).norm() / expected.norm()) > 0.2
    assert trainer.surgery_history[0]["cosine"] > 0


def test_a_part_without_labelled_positions_gives_the_plain_step(tmp_path):
    # Target rows whose labels are all -100 have no loss (0/0): the step must be the whole batch's finite gradient.
    trainer, model = split_trainer(tmp_path)
    batch = padded_batch()
    batch["labels"][batch["lang_id"] == 1] = -100
    expected = grad_of(model, batch)
    loss = trainer.training_step(model, dict(batch))
    assert torch.isfinite(loss) and trainer.surgery_history == []
    torch.testing.assert_close(current_grad(model), expected, rtol=1e-4, atol=1e-6)


def test_oracle_passes_fork_the_random_stream_of_any_accelerator():
    from hf_mixtrain.sources import rng_fork_devices

    assert rng_fork_devices(torch.device("cpu")) == {"devices": []}
    for kind in ("cuda", "xpu", "mps"):
        device = torch.device(kind, 0)
        assert rng_fork_devices(device) == {"devices": [device], "device_type": kind}
