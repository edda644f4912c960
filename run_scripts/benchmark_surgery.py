#!/usr/bin/env python3
"""What stochastic gradient surgery costs: GradientMixTrainer against its ingredients, the authors' code and TorchJD.

One process, one model, the same batches. A first round runs every variant once and measures its peak memory
(it is also the warm-up); then timed rounds run every variant once each, interleaved, and the table gives
medians over rounds. Ratios are medians of same-round ratios, so drifting machine load largely cancels.

    python3 run_scripts/benchmark_surgery.py                       # default sizes; < 5 min on 2 CPU cores
    python3 run_scripts/benchmark_surgery.py --vocab_size 250037   # multilingual-e5-small's full vocabulary
    python3 run_scripts/benchmark_surgery.py --device cuda --dtype bf16
    python3 run_scripts/benchmark_surgery.py --quick               # tiny sizes, seconds (tests/test_benchmark.py)

The default vocabulary (30,000 rows) stands for a vocabulary pruned to the benchmark's languages; the full
250,037-row vocabulary puts 96M of the 118M parameters in the embedding, which makes the gradient, and so the
surgery's arithmetic, about 3.5x larger while the forward and backward cost barely changes.
"""

import argparse
import copy
import ctypes
import gc
import importlib.metadata
import os
import re
import shlex
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(ROOT, "hf_mixtrain")):
    sys.path.insert(0, ROOT)  # run from a checkout without installing the package

import datasets  # noqa: E402
import transformers  # noqa: E402
from transformers import BertConfig, BertForTokenClassification, Trainer, TrainingArguments, default_data_collator  # noqa: E402
from transformers.trainer_callback import PrinterCallback  # noqa: E402

import hf_mixtrain.trainer as trainer_module  # noqa: E402
from hf_mixtrain import GradientMixTrainer, MixTrainingArguments, project_conflicting  # noqa: E402

try:
    import torchjd
    from torchjd.aggregation import PCGrad
    from torchjd.autojac import backward as jd_backward, jac_to_grad
except ImportError:
    torchjd = None

NUM_LABELS = 7  # WikiANN's IOB2 tags
# The authors' 48 NER languages, English first (it is lang_id 0 and the source pool).
LANGS = ("en ar he vi id jv ms tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw yo my zh "
         "kk tr et fi hu qu pl uk az lt pa gu ro").split()
MiB = 2**20


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=384, help="Hidden size; heads = hidden / 32, FF = 4 x hidden.")
    p.add_argument("--vocab_size", type=int, default=30000, help="250037 for multilingual-e5-small's full vocabulary.")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--seq_len", type=int, default=128)
    p.add_argument("--oracle_batch_size", type=int, default=10, help="K: rows in every language's pool and oracle batch.")
    p.add_argument("--pools", default="2,8,48", help="Numbers of oracle languages (English included); the largest is the headline.")
    p.add_argument("--pairwise_langs", default="2,4,8", help="Languages present in the batch for the pairwise PCGrad rows.")
    p.add_argument("--repeats", type=int, default=2, help="Timed rounds after the warm-up round.")
    p.add_argument("--train_steps", type=int, default=2, help="Optimizer steps per Trainer.train() in the throughput test.")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast, as the Trainer's --bf16.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="Tiny sizes: checks that everything runs, measures nothing useful.")
    args = p.parse_args(argv)
    if args.quick:
        args.layers, args.hidden, args.vocab_size, args.batch_size, args.seq_len = 2, 32, 128, 8, 16
        args.oracle_batch_size, args.repeats, args.train_steps = 4, 1, 1
    args.pools = sorted(int(x) for x in args.pools.split(","))
    args.pairwise_langs = sorted(int(x) for x in args.pairwise_langs.split(","))
    if not 1 <= args.pools[0] <= args.pools[-1] <= len(LANGS):
        p.error(f"--pools must lie in 1..{len(LANGS)}, got {args.pools}.")
    if args.pairwise_langs[-1] > args.batch_size:
        p.error(f"--pairwise_langs {args.pairwise_langs[-1]} exceeds --batch_size {args.batch_size}: every language needs a row.")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False.")
    return args


# ---- model and data ------------------------------------------------------------------------------------------


def build_model(args):
    torch.manual_seed(args.seed)
    config = BertConfig(
        vocab_size=args.vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 32 if args.hidden % 32 == 0 else 1, intermediate_size=4 * args.hidden,
        max_position_embeddings=max(512, args.seq_len), num_labels=NUM_LABELS,
    )
    return BertForTokenClassification(config)


def make_rows(ids, lang_ids):
    # Each language maps tokens to tags differently, so languages' gradients disagree as in real mixed training.
    return [
        {"input_ids": row.tolist(), "attention_mask": [1] * len(row), "labels": ((row + lang) % NUM_LABELS).tolist(), "lang_id": int(lang)}
        for row, lang in zip(ids, lang_ids)
    ]


def make_data(args):
    rng = np.random.default_rng(args.seed)
    tokens = lambda n: rng.integers(5, args.vocab_size, size=(n, args.seq_len))  # noqa: E731
    k, n = args.oracle_batch_size, args.batch_size
    pools = {"en": datasets.Dataset.from_list(make_rows(tokens(max(4 * n, k)), [0] * max(4 * n, k)))}
    for i, lang in enumerate(LANGS[1 : args.pools[-1]], start=1):
        pools[lang] = datasets.Dataset.from_list(make_rows(tokens(k), [i] * k))
    ids = tokens(n)
    # The same 16 rows spread over L languages (row i in language i mod L), one batch per L.
    batches = {L: default_data_collator(make_rows(ids, [i % L for i in range(n)])) for L in args.pairwise_langs}
    # Every oracle batch holds K rows of seq_len tokens whichever language is drawn, so one target pool stands for all.
    oracle = default_data_collator([pools[LANGS[1]][i] for i in range(k)])
    train = datasets.Dataset.from_list(make_rows(tokens(n * args.train_steps), [0] * (n * args.train_steps)))
    return pools, batches, oracle, train


def trainer_args(args, out_dir, cls=MixTrainingArguments, **kw):
    return cls(
        output_dir=out_dir, use_cpu=args.device == "cpu", bf16=args.dtype == "bf16", per_device_train_batch_size=args.batch_size,
        report_to=[], disable_tqdm=True, save_strategy="no", logging_strategy="no", seed=args.seed, **kw,
    )


def step_trainer(model, args, out_dir, method, pools=None):
    """A trainer whose training_step the benchmark calls directly, as the training loop would."""
    extra = dict(oracle_batch_size=args.oracle_batch_size, oracle_source_batch_size=args.oracle_batch_size)
    trainer = GradientMixTrainer(model=model, args=trainer_args(args, out_dir, method=method, **extra), oracle_datasets=pools)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop before every window
    return trainer


# ---- the steps compared ------------------------------------------------------------------------------------------


def on(device, batch):
    return {k: v.to(device) for k, v in batch.items() if k != "lang_id"}


def authors_step(model, params, batch, oracle):
    """The authors' SGS_backward (sgs_card.py), restated: flatten and clone every gradient, project, copy back."""
    device = params[0].device
    model(**on(device, batch)).loss.backward()
    flat = lambda: torch.cat([p.grad.detach().clone().flatten() if p.grad is not None else torch.zeros(p.numel(), device=device) for p in params])  # noqa: E731
    grad = flat()
    model.zero_grad(set_to_none=False)  # torch 1.x's default, which their copy-back needs: .grad stays, zeroed
    model(**on(device, oracle)).loss.backward()
    oracle_grad = flat()
    model.zero_grad(set_to_none=False)
    inner_product = torch.sum(grad * oracle_grad)
    project_direction = inner_product / torch.sum(oracle_grad * oracle_grad)
    grad = grad - torch.min(project_direction, torch.zeros_like(project_direction)) * oracle_grad
    start = 0
    for p in params:
        p.grad[...] = grad[start : start + p.numel()].view(p.shape)
        start += p.numel()


def torchjd_step(model, params, batch, oracle):
    """TorchJD 0.18's documented Jacobian descent: backward on both losses, then aggregate .jac into .grad."""
    device = params[0].device
    losses = [model(**on(device, batch)).loss, model(**on(device, oracle)).loss]
    jd_backward(losses, inputs=params)
    jac_to_grad(params, PCGrad())


def persistent_oracle_step(trainer, model, params, batch, pool, buffers):
    """The trainer's surgery, except that the oracle gradient is accumulated into a buffer kept between steps."""
    trainer.training_step(model, dict(batch))
    oracle = trainer.data_collator([pool[i] for i in range(len(pool))])  # the trainer collates each oracle batch too
    grads = [p.grad for p in params]
    torch._foreach_zero_(buffers)
    for p, b in zip(params, buffers):
        p.grad = b
    trainer.training_step(model, oracle)
    for p, g in zip(params, grads):
        p.grad = g
    project_conflicting(grads, buffers)


def pcgrad_weights(gram, rng):
    """PCGrad (Yu et al. 2020, Alg. 1) on a Gram matrix: weights w with sum_k w_k g_k = the PCGrad update."""
    L = len(gram)
    total = np.zeros(L)
    for i in range(L):
        w = np.zeros(L)
        w[i] = 1.0
        for j in rng.permutation(L):
            d = w @ gram[:, j]  # (projected g_i) . g_j, since projected g_i = sum_k w_k g_k
            if j != i and d < 0 and gram[j, j] > 0:
                w[j] -= d / gram[j, j]
        total += w
    return total


def pairwise_pcgrad_step(model, params, batch, rng):
    """Full PCGrad over the languages present in a batch: one forward+backward per language, all pairs projected."""
    device, n = params[0].device, len(batch["lang_id"])
    grads = []
    for lang in batch["lang_id"].unique().tolist():
        rows = (batch["lang_id"] == lang).nonzero().squeeze(1)
        # Weighted by the language's share of the batch: unprojected, the sum is the mixed-batch gradient.
        (model(**on(device, {k: v[rows] for k, v in batch.items()})).loss * (len(rows) / n)).backward()
        grads.append([p.grad for p in params])
        for p in params:
            p.grad = None
    L = len(grads)
    dots = [torch.stack([torch.dot(a.flatten(), b.flatten()) for a, b in zip(grads[i], grads[j])]).sum() for i in range(L) for j in range(i, L)]
    gram, upper = np.zeros((L, L)), iter(torch.stack(dots).double().cpu().tolist())
    for i in range(L):
        for j in range(i, L):
            gram[i, j] = gram[j, i] = next(upper)
    w = pcgrad_weights(gram, rng)
    out = grads[0]  # the update is built in place in the first language's gradient
    torch._foreach_mul_(out, float(w[0]))
    for k in range(1, L):
        torch._foreach_add_(out, grads[k], alpha=float(w[k]))
    for p, g in zip(params, out):
        p.grad = g


# ---- measuring -----------------------------------------------------------------------------------------------


def _status_bytes(key):
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def malloc_returns_blocks_from(nbytes):
    # glibc keeps freed blocks below its mmap threshold in the heap, resident: reused, they do not raise RSS, so
    # a step would not be charged for memory that an earlier step left there. A 64 KiB threshold makes every
    # tensor's memory come from and go back to the OS, so RSS tracks live tensors. For timing we set 32 MiB, the
    # ceiling glibc's own adaptive threshold climbs to in a training loop.
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, nbytes)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 2 * nbytes)  # M_TRIM_THRESHOLD
    return libc


def cpu_peak_meter():
    """Returns peak(fn) -> bytes, the growth of peak RSS during fn, or None where Linux's peak reset is unavailable."""
    try:
        libc = malloc_returns_blocks_from(64 * 1024)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except (OSError, AttributeError):
        return None

    def peak(fn):
        libc.malloc_trim(0)  # free heap pages left by earlier work (e.g. the warm-up) leave RSS: reusing them counts
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
        base = _status_bytes("VmRSS")
        fn()
        return _status_bytes("VmHWM") - base

    return peak


def cuda_peak(fn):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def note(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message} (load {load()})", file=sys.stderr, flush=True)


def load():
    return "%.2f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else "n/a"


def fmt(x, spec):
    return "—" if x is None else format(x, spec)


def table(names, times, ratio, peaks, naive_peak, grad_bytes):
    lines = ["| step | median s | min–max s | × (naive-mix + oracle) | peak MiB | over naive-mix, × one gradient |", "|---|---|---|---|---|---|"]
    for name in names:
        t, peak = times[name], peaks.get(name)
        over = None if peak is None or naive_peak is None else (peak - naive_peak) / grad_bytes
        lines.append(f"| {name} | {statistics.median(t):.3f} | {min(t):.3f}–{max(t):.3f} | {ratio[name]:.3f} | {fmt(peak and peak / MiB, '.0f')} | {fmt(over, '+.2f')} |")
    return "\n".join(lines)


def verdict(ok, text):
    print(("PASS " if ok else "FAIL ") + text)


PERSISTENT = "gradient-mix, oracle in a persistent buffer"


def make_variants(args, model, params, trainers, pools, batches, oracle, buffers, rng):
    """name -> step function; every step starts from .grad = None, as after the Trainer's zero_grad."""
    naive, P = trainers["naive"], args.pools[-1]
    batch = batches[args.pairwise_langs[-1]]

    def surgery_step(trainer):
        trainer.state.global_step += 1  # as after an optimizer step: every call draws its own oracle language
        return trainer.training_step(model, dict(batch))

    steps = {
        "naive-mix step": lambda: naive.training_step(model, dict(batch)),
        "oracle pass": lambda: naive.training_step(model, dict(oracle)),
        headline(args): lambda: surgery_step(trainers[P]),
        "authors' implementation (sgs_card.py)": lambda: authors_step(model, params, batch, oracle),
    }
    if torchjd is not None:
        steps["TorchJD PCGrad (2 losses)"] = lambda: torchjd_step(model, params, batch, oracle)
    steps[PERSISTENT] = lambda: persistent_oracle_step(naive, model, params, batch, pools[LANGS[1]], buffers)
    for n in args.pools[:-1]:
        steps[f"gradient-mix, {n} pools"] = lambda n=n: surgery_step(trainers[n])
    for L in args.pairwise_langs:
        steps[f"pairwise PCGrad, {L} languages in the batch"] = lambda L=L: pairwise_pcgrad_step(model, params, batches[L], rng)
    return steps


def headline(args):
    return f"gradient-mix step (GradientMixTrainer, {args.pools[-1]} pools)"


def measure_steps(args, model, trainers, pools, batches, oracle, sync):
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    buffers = [torch.zeros_like(p) for p in params]
    rng = np.random.default_rng(args.seed)
    short = {L: {k: v[:, :8].contiguous() if v.dim() == 2 else v for k, v in b.items()} for L, b in batches.items()}
    # Warm-up: first calls allocate once-only state (kernels, oracle pools, lazy imports, math-library buffers
    # sized by the largest shapes) that would otherwise be charged to whichever variant runs first. Every variant
    # runs on 8-token batches, and the naive-mix step and oracle pass once at full size.
    note("warm-up")
    for fn in make_variants(args, model, params, trainers, pools, short, short[args.pairwise_langs[-1]], buffers, rng).values():
        model.zero_grad(set_to_none=True)
        fn()
    steps = make_variants(args, model, params, trainers, pools, batches, oracle, buffers, rng)
    for name in ("naive-mix step", "oracle pass"):
        model.zero_grad(set_to_none=True)
        steps[name]()

    # Peak memory, one variant at a time (the pool-count rows run the headline's code and are skipped).
    meter = cuda_peak if device.type == "cuda" else cpu_peak_meter()
    peaks, probe = {}, None
    if meter is not None:
        note("peak memory")
        gc.collect()
        for name, fn in steps.items():
            model.zero_grad(set_to_none=True)
            if not name.endswith(" pools"):
                peaks[name] = meter(fn)
        peaks[PERSISTENT] += sum(b.numel() * b.element_size() for b in buffers)  # held between steps, always
        probe = meter(lambda: torch.ones(64 * MiB // 4, device=device)) / MiB
        if device.type == "cpu":
            malloc_returns_blocks_from(32 * MiB)

    # Timed rounds: every variant once per round, always in the same order. Inside the headline step, the oracle
    # collation and the surgery arithmetic are clocked too (wrapped, not changed), to say where its time goes.
    splits, active = {"oracle collation": [], "project_conflicting": []}, [False]

    def clocked(fn, key):
        def wrapper(*a, **kw):
            sync()
            t0 = time.perf_counter()
            out = fn(*a, **kw)
            sync()
            if active[0]:
                splits[key].append(time.perf_counter() - t0)
            return out

        return wrapper

    surgeon = trainers[args.pools[-1]]
    surgeon.data_collator = clocked(surgeon.data_collator, "oracle collation")
    trainer_module.project_conflicting = clocked(project_conflicting, "project_conflicting")
    times = {name: [] for name in steps}
    try:
        for r in range(args.repeats):
            note(f"timed round {r + 1} of {args.repeats}")
            for name, fn in steps.items():
                model.zero_grad(set_to_none=True)
                active[0] = name == headline(args)
                sync()
                t0 = time.perf_counter()
                fn()
                sync()
                times[name].append(time.perf_counter() - t0)
    finally:
        trainer_module.project_conflicting, surgeon.data_collator, active[0] = project_conflicting, default_data_collator, False
    model.zero_grad(set_to_none=True)
    return times, splits, peaks, probe, meter is not None, sum(p.numel() for p in params), sum(p.numel() * p.element_size() for p in params)


def measure_throughput(args, model, train_set, out_dir, sync):
    """Trainer.train() for --train_steps steps, the stock Trainer and GradientMixTrainer(naive-mix) alternating."""
    common = dict(max_steps=args.train_steps)
    trainers = {
        "stock Trainer": Trainer(model=copy.deepcopy(model), args=trainer_args(args, out_dir, TrainingArguments, **common), train_dataset=train_set),
        "GradientMixTrainer (naive-mix)": GradientMixTrainer(model=model, args=trainer_args(args, out_dir, method="naive-mix", **common), train_dataset=train_set),
    }
    for trainer in trainers.values():
        trainer.remove_callback(PrinterCallback)  # it prints the final metrics dict
    times = {name: [] for name in trainers}
    for r in range(args.repeats):
        for name in list(trainers) if r % 2 == 0 else list(trainers)[::-1]:
            sync()
            t0 = time.perf_counter()
            trainers[name].train()
            sync()
            times[name].append(time.perf_counter() - t0)
    return times


def median_ratio(a, b):
    """Median over rounds of a/b within the same round, so slow drifts of machine load cancel."""
    return statistics.median(x / y for x, y in zip(a, b))


def main(argv=None):
    args = parse_args(argv)
    verbosity, threads = transformers.logging.get_verbosity(), torch.get_num_threads()
    transformers.logging.set_verbosity_error()
    if args.quick:
        torch.set_num_threads(1)  # on tiny tensors, thread hand-offs cost more than the arithmetic
    try:
        run(args, argv)
    finally:  # main() also runs inside the test process
        transformers.logging.set_verbosity(verbosity)
        torch.set_num_threads(threads)


def run(args, argv):
    command = " ".join(["python3 run_scripts/benchmark_surgery.py", shlex.join(sys.argv[1:] if argv is None else argv)]).strip()
    start, load_before = time.perf_counter(), load()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = build_model(args)
    pristine = copy.deepcopy(model)  # for the throughput test, before autocast wraps forward
    pools, batches, oracle, train_set = make_data(args)
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {"naive": step_trainer(model, args, tmp, "naive-mix")}
        for P in args.pools:
            trainers[P] = step_trainer(model, args, tmp, "gradient-mix", {lang: pools[lang] for lang in LANGS[:P]})
        trainers["naive"].accelerator.prepare_model(model)  # as Trainer.train() does: device placement, autocast around forward
        times, splits, peaks, probe, measured, n_params, grad_bytes = measure_steps(args, model, trainers, pools, batches, oracle, sync)
        note("throughput")
        train_times = measure_throughput(args, pristine, train_set, tmp, sync)

    gm, names = headline(args), list(times)
    base = [a + b for a, b in zip(times["naive-mix step"], times["oracle pass"])]
    ratio = {name: median_ratio(t, base) for name, t in times.items()}
    naive_peak = peaks.get("naive-mix step")
    print(f"## Stochastic gradient surgery: cost per training step\n\ncommand: `{command}`")
    print(f"device: {args.device} ({torch.get_num_threads()} threads, {os.cpu_count()} CPUs) | dtype {args.dtype} | torch {torch.__version__} | "
          f"transformers {transformers.__version__} | torchjd {importlib.metadata.version('torchjd') if torchjd else 'not installed'}")
    print(f"model: BERT encoder, {args.layers} layers, hidden {args.hidden}, vocab {args.vocab_size}, token classification: "
          f"{n_params / 1e6:.1f}M trainable parameters; one gradient = {grad_bytes / MiB:.1f} MiB")
    print(f"batch {args.batch_size} x {args.seq_len} tokens ({args.pairwise_langs[-1]} languages), oracle batch {args.oracle_batch_size}; "
          f"medians of {args.repeats} interleaved round(s) after warm-up; 1-min load average before/after: {load_before} / {load()}")
    if device.type == "cuda":
        print("memory: torch.cuda.max_memory_allocated() growth during the step (reset_peak_memory_stats before it)")
    elif not measured:
        print("memory: not measured (needs Linux /proc/self/clear_refs and glibc)")
    else:
        print(f"memory: peak RSS growth during the step (VmHWM after `echo 5 > /proc/self/clear_refs`; glibc set to return every "
              f"block >= 64 KiB to the OS); probe: a 64 MiB tensor reads as {probe:.1f} MiB")
    if torchjd is None:
        print("TorchJD PCGrad (2 losses): skipped: torchjd is not installed (pip install 'hf-mixtrain[bench]' or torchjd==0.18.0)")
    events = trainers[args.pools[-1]].surgery_history
    print(f"surgeries projected: {sum(e['projected'] for e in events)} of {len(events)} (oracle language {events[-1]['lang']})\n")
    print(table([n for n in names if not n.startswith(("gradient-mix, ", "pairwise"))] + [PERSISTENT], times, ratio, peaks, naive_peak, grad_bytes))
    inside = {k: statistics.median(v) for k, v in splits.items()}
    print(f"\ninside the gradient-mix step (medians): " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in inside.items())
          + f"; together {sum(inside.values()) / statistics.median(times[gm]):.1%} of the step")
    scaling = [n for n in names if n.endswith(" pools")] + [gm]
    print("\n### Scaling in languages\n")
    print(table(scaling + [n for n in names if n.startswith("pairwise")], times, ratio, peaks, naive_peak, grad_bytes))
    for L in args.pairwise_langs:
        print(f"pairwise PCGrad over {L} languages / gradient-mix step: {median_ratio(times[f'pairwise PCGrad, {L} languages in the batch'], times[gm]):.2f}x")
    print(f"\n### Throughput: Trainer.train() for {args.train_steps} step(s), {args.repeats} round(s)\n")
    print("| trainer | median s | samples/s |\n|---|---|---|")
    for name, t in train_times.items():
        print(f"| {name} | {statistics.median(t):.3f} | {args.batch_size * args.train_steps / statistics.median(t):.2f} |")
    throughput = median_ratio(*train_times.values())  # stock time / our time = our throughput / stock throughput
    mib = lambda name: fmt(None if peaks.get(name) is None else peaks[name] / MiB, ".0f")  # noqa: E731
    print(f"\n### Oracle gradient: fresh per step (the trainer) vs a persistent buffer\n\npersistent / fresh step time: "
          f"{median_ratio(times[PERSISTENT], times[gm]):.3f}x; peak MiB: fresh {mib(gm)}, persistent {mib(PERSISTENT)} "
          f"(counting the buffer's {grad_bytes / MiB:.0f} MiB, held between steps)\n")

    print("### Targets")
    verdict(ratio[gm] <= 1.05, f"gradient-mix step time {ratio[gm]:.3f} x (naive-mix step + oracle pass) <= 1.05")
    if peaks.get(gm) is not None and naive_peak is not None:
        extra = (peaks[gm] - naive_peak) / grad_bytes
        verdict(extra <= 1.1, f"extra peak memory of the gradient-mix step over the naive-mix step {extra:.2f} x one gradient <= 1.1")
    else:
        print("SKIP extra peak memory: not measurable here")
    authors = median_ratio(times[gm], times["authors' implementation (sgs_card.py)"])
    verdict(authors < 1, f"gradient-mix step faster than the authors' implementation: {authors:.3f} x its time")
    if torchjd is not None:
        jd = median_ratio(times[gm], times["TorchJD PCGrad (2 losses)"])
        verdict(jd < 1, f"gradient-mix step faster than TorchJD PCGrad: {jd:.3f} x its time")
    else:
        print("SKIP gradient-mix step faster than TorchJD PCGrad: torchjd is not installed")
    medians = [statistics.median(times[n]) for n in scaling]
    flat = max(medians) / min(medians)
    verdict(flat <= 1.05, f"gradient-mix step flat in languages ({', '.join(map(str, args.pools))} pools): max/min {flat:.3f} <= 1.05")
    verdict(throughput >= 0.98, f"throughput GradientMixTrainer (naive-mix) / stock Trainer {throughput:.3f} >= 0.98")
    print(f"\ntotal time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
