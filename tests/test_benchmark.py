"""run_scripts/benchmark_surgery.py: it runs end to end at tiny sizes, and the implementations it races compute
what they claim (checked against plain autograd on flattened gradients). No timing is asserted."""

import importlib.util
import os
import re

import pytest
import torch
from helpers import synthetic_token_data, tiny_token_model

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "run_scripts", "benchmark_surgery.py")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_surgery", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROWS = [
    "naive-mix step",
    "oracle pass",
    "gradient-mix step (GradientMixTrainer, 48 pools)",
    "authors' implementation (sgs_card.py)",
    "naive-mix step on the batch-split batch",
    "batch-split gradient-mix step (no oracle pass)",
    "gradient-mix, oracle in a persistent buffer",
    "gradient-mix, 2 pools",
    "gradient-mix, 8 pools",
    "pairwise PCGrad, 2 languages in the batch",
    "pairwise PCGrad, 4 languages in the batch",
    "pairwise PCGrad, 8 languages in the batch",
    "stock Trainer",
    "GradientMixTrainer (naive-mix)",
]
TARGETS = [
    r"gradient-mix step time [\d.]+ x \(naive-mix step \+ oracle pass\) <= 1.05",
    r"extra peak memory of the gradient-mix step over the naive-mix step [-+\d.]+ x one gradient <= 1.1",
    r"gradient-mix step faster than the authors' implementation",
    r"batch-split gradient-mix step time [\d.]+ x naive-mix step <= 1.05 \(same batch, 4 of 8 rows in the target language\)",
    r"gradient-mix step flat in languages \(2, 8, 48 pools\): largest time ratio between pool counts [\d.]+ <= 1.05",
    r"throughput GradientMixTrainer \(naive-mix\) / stock Trainer [\d.]+ >= 0.98",
]


def table_rows(out):
    return {line.split("|")[1].strip() for line in out.splitlines() if line.startswith("| ")}


def test_quick_run_prints_every_row_and_every_target(bench, capsys):
    bench.main(["--quick"])
    out = capsys.readouterr().out
    rows = table_rows(out)
    for row in ROWS:
        assert row in rows, row
    for target in TARGETS:
        assert re.search(rf"^(PASS|FAIL) {target}", out, re.M), target
    if bench.torchjd is not None:  # torchjd comes with the bench extra, not with the test extra
        assert "TorchJD PCGrad (2 losses)" in rows
        assert re.search(r"^(PASS|FAIL) gradient-mix step faster than TorchJD PCGrad", out, re.M)
    # The memory measure is named and checked on a known allocation (a 64 MiB tensor).
    assert re.search(r"^memory: peak RSS growth .*VmHWM.*clear_refs.*reads as 6[34]\.\d MiB", out, re.M)
    assert "command: `python3 run_scripts/benchmark_surgery.py --quick`" in out
    # The schedules section: surgeries per optimizer step of 2 micro-batches are the schedules' own definition.
    per_step = {line.split("|")[1].strip(): line.split("|")[4].strip() for line in out.split("### Surgery schedules")[1]
                .splitlines() if line.startswith("| ") and not line.startswith("| schedule")}
    assert per_step == {"naive-mix": "0", "gradient-mix, surgery at every micro-batch (the authors)": "2",
                        "gradient-mix, surgery once per optimizer step": "1", "gradient-mix, batch split": "2"}


def test_only_the_schedules(bench, capsys):
    bench.main(["--quick", "--only_schedules"])
    out = capsys.readouterr().out
    assert out.startswith("## Surgery schedules") and "gradient-mix, surgery once per optimizer step" in out
    assert "### Targets" not in out


def test_without_torchjd_its_row_is_skipped_with_a_reason(bench, capsys, monkeypatch):
    monkeypatch.setattr(bench, "torchjd", None)  # what the script's guarded import leaves when torchjd is missing
    bench.main(["--quick", "--pools", "2,48", "--pairwise_langs", "2"])
    out = capsys.readouterr().out
    assert "TorchJD PCGrad (2 losses)" not in table_rows(out)
    assert "TorchJD PCGrad (2 losses): skipped: torchjd is not installed" in out
    assert re.search(r"^SKIP gradient-mix step faster than TorchJD PCGrad: torchjd is not installed", out, re.M)
    for target in TARGETS[:4] + [r"gradient-mix step flat in languages \(2, 48 pools\)", TARGETS[5]]:
        assert re.search(rf"^(PASS|FAIL) {target}", out, re.M), target


def test_bad_sizes_are_refused_with_the_fix(bench, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--batch_size", "4", "--pairwise_langs", "2,8"])
    assert "--pairwise_langs 8 exceeds --batch_size 4" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--pools", "2,49"])
    assert "--pools must lie in 2..48" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.parse_args(["--batch_size", "16", "--schedule_accumulation", "3"])
    assert "--schedule_accumulation 3 must divide --batch_size 16" in capsys.readouterr().err


# ---- the raced implementations against plain autograd ------------------------------------------------------------


def tensors(ds):
    return {k: torch.tensor(ds[k]) for k in ("input_ids", "attention_mask", "labels", "lang_id")}


def flat_grad(model, batch, scale=1.0):
    model.zero_grad(set_to_none=True)
    (model(**{k: v for k, v in batch.items() if k != "lang_id"}).loss * scale).backward()
    g = torch.cat([p.grad.double().flatten() for p in model.parameters()])
    model.zero_grad(set_to_none=True)
    return g


def current_grad(model):
    return torch.cat([p.grad.double().flatten() for p in model.parameters()])


def project(g, o):
    return g - min(0.0, float(g @ o) / float(o @ o)) * o


def test_authors_step_is_the_projection(bench):
    model = tiny_token_model()
    params = list(model.parameters())
    en = tensors(synthetic_token_data(8, lang_id=0, seed=1))
    xx = tensors(synthetic_token_data(4, lang_id=1, seed=2, label_shift=1))
    g, o = flat_grad(model, en), flat_grad(model, xx)
    assert float(g @ o) < 0  # the case where the projection changes g
    bench.authors_step(model, params, en, xx)
    torch.testing.assert_close(current_grad(model), project(g, o), rtol=1e-4, atol=1e-6)


def test_persistent_buffer_step_is_the_projection(bench, tmp_path):
    from hf_mixtrain import GradientMixTrainer, MixTrainingArguments

    model = tiny_token_model()
    params = list(model.parameters())
    en, pool = synthetic_token_data(8, lang_id=0, seed=1), synthetic_token_data(4, lang_id=1, seed=2, label_shift=1)
    g, o = flat_grad(model, tensors(en)), flat_grad(model, tensors(pool))
    args = MixTrainingArguments(output_dir=str(tmp_path), gradient_surgery=False, use_cpu=True, report_to=[])
    trainer = GradientMixTrainer(model=model, args=args)
    trainer.current_gradient_accumulation_steps = 1
    buffers = [torch.full_like(p, 7.0) for p in params]  # stale content must not leak into the oracle gradient
    bench.persistent_oracle_step(trainer, model, params, tensors(en), pool, buffers)
    torch.testing.assert_close(current_grad(model), project(g, o), rtol=1e-4, atol=1e-6)
