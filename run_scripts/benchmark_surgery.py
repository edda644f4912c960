#!/usr/bin/env python3
"""What stochastic gradient surgery costs: GradientMixTrainer against its ingredients, the authors' code and TorchJD.

One process, one model, the same batches. After a warm-up, every variant runs once under a peak-memory meter,
then in timed rounds (every variant once per round, interleaved); the tables give medians over rounds, and
ratios are medians of same-round ratios, so drifting machine load largely cancels.

    python3 run_scripts/benchmark_surgery.py                       # default sizes; < 5 min on 2 CPU cores
    python3 run_scripts/benchmark_surgery.py --vocab_size 250037   # multilingual-e5-small's full vocabulary
    python3 run_scripts/benchmark_surgery.py --device cuda --dtype bf16
    python3 run_scripts/benchmark_surgery.py --quick               # tiny sizes, seconds (tests/test_benchmark.py)
    python3 run_scripts/benchmark_surgery.py --only_schedules      # only the surgery schedules under accumulation

The default vocabulary (30,000 rows) stands for one pruned to the benchmark's languages; the full 250,037 rows
put 96M of the 118M parameters in the embedding, which makes the gradient, and so everything the surgery and
its rivals do per parameter, 3.6x larger while the forward and backward passes barely change.
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
from transformers import BertConfig, BertForTokenClassification, Trainer, TrainingArguments  # noqa: E402
from transformers import default_data_collator as collate  # noqa: E402
from transformers.trainer_callback import PrinterCallback  # noqa: E402

import hf_mixtrain.sources as sources_module  # noqa: E402
from hf_mixtrain import GradientMixTrainer, MixTrainingArguments, project_conflicting  # noqa: E402

try:
    import torchjd
    from torchjd.aggregation import PCGrad
    from torchjd.autojac import backward as jd_backward, jac_to_grad
except ImportError:
    torchjd = None

NUM_LABELS = 7  # WikiANN's IOB2 tags
# The authors' 48 NER languages, English first (lang_id 0, the source pool).
LANGS = ("en ar he vi id jv ms tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw yo my "
         "zh kk tr et fi hu qu pl uk az lt pa gu ro").split()
MiB = 2**20
NAIVE, ORACLE, PERSISTENT = "naive-mix step", "oracle pass", "gradient-mix, oracle in a persistent buffer"
AUTHORS, TORCHJD = "authors' implementation (sgs_card.py)", "TorchJD PCGrad (2 losses)"
SPLIT = "batch-split gradient-mix step (no oracle pass)"
NAIVE_SPLIT = "naive-mix step on the batch-split batch"
STOCK, OURS = "stock Trainer", "GradientMixTrainer (naive-mix)"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=384, help="Hidden size; heads = hidden / 32, FF = 4 x hidden.")
    p.add_argument("--vocab_size", type=int, default=30000, help="250037: multilingual-e5-small's full vocabulary.")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--seq_len", type=int, default=128)
    p.add_argument("--oracle_batch_size", type=int, default=10, help="K: rows in each target pool and oracle batch.")
    p.add_argument("--pools", default="2,8,48", help="Oracle language counts (English included); largest = headline.")
    p.add_argument("--pairwise_langs", default="2,4,8", help="Languages in the batch for the pairwise PCGrad rows.")
    p.add_argument("--split_target_rows", type=int, default=4,
                   help="Target-language rows in the batch-split step's batch (the rest are source rows).")
    p.add_argument("--repeats", type=int, default=5, help="Timed rounds (and throughput rounds).")
    p.add_argument("--train_steps", type=int, default=2, help="Optimizer steps per Trainer.train() for throughput.")
    p.add_argument("--schedule_accumulation", type=int, default=4,
                   help="Micro-batches per optimizer step in the schedules section (the batch is split into that "
                   "many micro-batches, so 16 rows = 4 x 4); 0 leaves the section out.")
    p.add_argument("--only_schedules", action="store_true", help="Measure the surgery schedules only.")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast, as the Trainer's --bf16.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="Tiny sizes: checks that everything runs; measures nothing.")
    args = p.parse_args(argv)
    if args.quick:
        args.layers, args.hidden, args.vocab_size, args.batch_size, args.seq_len = 2, 32, 128, 8, 16
        args.oracle_batch_size, args.repeats, args.train_steps = 4, 1, 1
        args.schedule_accumulation = min(args.schedule_accumulation, 2)
    args.pools = sorted(int(x) for x in args.pools.split(","))
    args.pairwise_langs = sorted(int(x) for x in args.pairwise_langs.split(","))
    if not 2 <= args.pools[0] <= args.pools[-1] <= len(LANGS):
        p.error(f"--pools must lie in 2..{len(LANGS)} (English and at least one target), got {args.pools}.")
    if args.pairwise_langs[-1] > args.batch_size:
        p.error(f"--pairwise_langs {args.pairwise_langs[-1]} exceeds --batch_size {args.batch_size}: "
                "every language needs a row; raise --batch_size or lower --pairwise_langs.")
    if not 1 <= args.split_target_rows < args.batch_size:
        p.error(f"--split_target_rows must lie in 1..{args.batch_size - 1} (--batch_size - 1): the batch-split step "
                "needs source rows and target rows.")
    A = args.schedule_accumulation
    if A < 0 or (A and (args.batch_size % A or args.batch_size // A < 2)):
        p.error(f"--schedule_accumulation {A} must divide --batch_size {args.batch_size} into micro-batches of at "
                "least 2 rows (a batch-split micro-batch holds source and target rows), or be 0.")
    if args.only_schedules and not A:
        p.error("--only_schedules with --schedule_accumulation 0 measures nothing.")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but torch.cuda.is_available() is False; use --device cpu.")
    return args


# ---- model and data ----------------------------------------------------------------------------------------------


def build_model(args):
    torch.manual_seed(args.seed)
    heads = args.hidden // 32 if args.hidden % 32 == 0 else 1
    return BertForTokenClassification(BertConfig(
        vocab_size=args.vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers, num_attention_heads=heads,
        intermediate_size=4 * args.hidden, max_position_embeddings=max(512, args.seq_len), num_labels=NUM_LABELS,
    ))


def make_rows(ids, langs):
    # Each language maps tokens to tags differently, so languages' gradients disagree as in real mixed training.
    return [{"input_ids": row.tolist(), "attention_mask": [1] * len(row),
             "labels": ((row + lang) % NUM_LABELS).tolist(), "lang_id": int(lang)} for row, lang in zip(ids, langs)]


def make_data(args):
    rng = np.random.default_rng(args.seed)
    tokens = lambda n: rng.integers(5, args.vocab_size, size=(n, args.seq_len))  # noqa: E731
    k, n = args.oracle_batch_size, args.batch_size
    pools = {"en": datasets.Dataset.from_list(make_rows(tokens(max(4 * n, k)), [0] * max(4 * n, k)))}
    for i, lang in enumerate(LANGS[1 : args.pools[-1]], start=1):
        pools[lang] = datasets.Dataset.from_list(make_rows(tokens(k), [i] * k))
    ids = tokens(n)
    # The same rows spread over L languages (row i in language i mod L), one batch per L.
    batches = {L: collate(make_rows(ids, [i % L for i in range(n)])) for L in args.pairwise_langs}
    # Every oracle batch holds K rows of seq_len tokens whichever language is drawn: one target pool stands for all.
    oracle = collate([pools[LANGS[1]][i] for i in range(k)])
    # A language batch as surgery_source="batch_split" trains on: source rows plus rows of one target language.
    t = args.split_target_rows
    batches["split"] = collate(make_rows(ids, [1] * t + [0] * (n - t)))
    train = datasets.Dataset.from_list(make_rows(tokens(n * args.train_steps), [0] * (n * args.train_steps)))
    return pools, batches, oracle, train


def trainer_args(args, out_dir, cls=MixTrainingArguments, **kw):
    settings = dict(output_dir=out_dir, use_cpu=args.device == "cpu", bf16=args.dtype == "bf16", report_to=[],
                    per_device_train_batch_size=args.batch_size, disable_tqdm=True, save_strategy="no",
                    logging_strategy="no", seed=args.seed)
    return cls(**{**settings, **kw})


def step_trainer(model, args, out_dir, method, pools=None, **kw):
    """A GradientMixTrainer whose training_step the benchmark calls directly, as the training loop would."""
    sizes = dict(oracle_batch_size=args.oracle_batch_size, oracle_source_batch_size=args.oracle_batch_size)
    language_ids = {lang: i for i, lang in enumerate(LANGS)}
    surgery = method == "gradient-mix"
    trainer = GradientMixTrainer(model=model, args=trainer_args(args, out_dir, gradient_surgery=surgery, **sizes, **kw),
                                 oracle_datasets=pools, language_ids=language_ids)
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop before every window
    return trainer


# ---- the rivals ------------------------------------------------------------------------------------------------------


def on(device, batch):
    return {k: v.to(device) for k, v in batch.items() if k != "lang_id"}


def authors_step(model, params, batch, oracle):
    """The authors' SGS_backward (sgs_card.py), restated: flatten and clone every gradient, project, copy back."""
    device = params[0].device

    def flat():
        return torch.cat([p.grad.detach().clone().flatten() if p.grad is not None
                          else torch.zeros(p.numel(), device=device) for p in params])

    model(**on(device, batch)).loss.backward()
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
    jd_backward([model(**on(device, batch)).loss, model(**on(device, oracle)).loss], inputs=params)
    jac_to_grad(params, PCGrad())


def persistent_oracle_step(trainer, model, params, batch, pool, buffers):
    """The trainer's surgery, except that the oracle gradient is accumulated into a buffer kept between steps."""
    trainer.training_step(model, dict(batch))
    oracle = trainer.data_collator([pool[i] for i in range(len(pool))])  # the trainer collates each oracle batch
    grads = [p.grad for p in params]
    torch._foreach_zero_(buffers)
    for p, b in zip(params, buffers):
        p.grad = b
    trainer.training_step(model, oracle)
    for p, g in zip(params, grads):
        p.grad = g
    project_conflicting(grads, buffers)


# ---- measuring ------------------------------------------------------------------------------------------------------


def _status_bytes(key):
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def malloc_returns_blocks_from(nbytes):
    # glibc keeps freed blocks below its mmap threshold in its heap, resident: reused, they do not raise RSS, so a
    # step would not be charged for memory an earlier step left there. A 64 KiB threshold makes every tensor's
    # memory come from and go back to the OS, so RSS tracks live tensors. For timing we set 32 MiB, the ceiling
    # glibc's own adaptive threshold climbs to in a training loop.
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, nbytes)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 2 * nbytes)  # M_TRIM_THRESHOLD
    return libc


def cpu_peak_meter():
    """peak(fn) -> bytes: growth of the peak RSS during fn; None where Linux's peak reset is unavailable."""
    try:
        libc = malloc_returns_blocks_from(64 * 1024)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except (OSError, AttributeError):
        return None

    def peak(fn):
        libc.malloc_trim(0)  # free heap pages leave RSS, so reusing them counts
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


def load():
    return "%.2f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else "n/a"


def note(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message} (load {load()})", file=sys.stderr, flush=True)


def headline(args):
    return f"gradient-mix step (GradientMixTrainer, {args.pools[-1]} pools)"


def make_variants(args, model, params, trainers, pools, batches, oracle, buffers):
    """name -> step function; every step starts from .grad = None, as after the Trainer's zero_grad."""
    naive, batch = trainers["naive"], batches[args.pairwise_langs[-1]]

    def surgery_step(trainer, inputs=batch):
        trainer.state.global_step += 1  # as after an optimizer step: each call draws its own oracle language
        return trainer.training_step(model, dict(inputs))

    steps = {
        NAIVE: lambda: naive.training_step(model, dict(batch)),
        ORACLE: lambda: naive.training_step(model, dict(oracle)),
        headline(args): lambda: surgery_step(trainers[args.pools[-1]]),
        AUTHORS: lambda: authors_step(model, params, batch, oracle),
        # Right before the batch-split step, on the same rows: the pair's ratio is taken within each round.
        NAIVE_SPLIT: lambda: naive.training_step(model, dict(batches["split"])),
        SPLIT: lambda: surgery_step(trainers["split"], batches["split"]),
    }
    if torchjd is not None:
        steps[TORCHJD] = lambda: torchjd_step(model, params, batch, oracle)
    steps[PERSISTENT] = lambda: persistent_oracle_step(naive, model, params, batch, pools[LANGS[1]], buffers)
    for n in args.pools[:-1]:
        steps[f"gradient-mix, {n} pools"] = lambda n=n: surgery_step(trainers[n])
    for L in args.pairwise_langs:
        steps[f"pairwise PCGrad, {L} languages in the batch"] = lambda L=L: surgery_step(
            trainers["pairwise"], batches[L])
    return steps


def measure_steps(args, model, trainers, pools, batches, oracle, sync, meter):
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    buffers = [torch.zeros_like(p) for p in params]
    out = {"times": {}, "peaks": {}, "skipped": {}, "probe": None}
    steps = make_variants(args, model, params, trainers, pools, batches, oracle, buffers)
    # Warm-up: first calls allocate once-only state (kernels, oracle pools, lazy imports, math-library buffers
    # sized by the largest shapes) that would be charged to whichever variant ran first. Every variant runs on
    # 8-token batches (but the pool-count rows and the buffer variant, whose oracle passes are full-size and
    # which warm nothing new), then the naive-mix step and the oracle pass once at full size.
    note("warm-up")
    short = {L: {k: v[:, :8].contiguous() if v.dim() == 2 else v for k, v in b.items()} for L, b in batches.items()}
    warm = make_variants(args, model, params, trainers, pools, short, short[args.pairwise_langs[-1]], buffers)
    for name, fn in warm.items():
        if name.endswith(" pools") or name == PERSISTENT:
            continue
        model.zero_grad(set_to_none=True)
        try:
            fn()
        except RuntimeError as e:  # a peer library may not support this model or device (e.g. vmap over a kernel)
            if name != TORCHJD:
                raise
            del steps[name]
            out["skipped"][name] = f"failed here: {str(e).splitlines()[0][:200]}"
    for name in (NAIVE, ORACLE):
        model.zero_grad(set_to_none=True)
        steps[name]()

    if meter is not None:  # the pool-count rows run the headline's code: no memory of their own
        note("peak memory")
        gc.collect()
        for name, fn in steps.items():
            model.zero_grad(set_to_none=True)
            if not name.endswith(" pools"):
                out["peaks"][name] = meter(fn)
        out["peaks"][PERSISTENT] += sum(b.numel() * b.element_size() for b in buffers)  # held between steps too
        out["probe"] = meter(lambda: torch.ones(64 * MiB // 4, device=device)) / MiB
        if device.type == "cpu":
            malloc_returns_blocks_from(32 * MiB)

    # Timed rounds. Inside the headline step the oracle collation and the surgery arithmetic are clocked too
    # (wrapped, not changed), to say where its time goes.
    splits, active = {"oracle collation": [], "project_conflicting": []}, [False]

    def clocked(fn, key):
        def wrapper(*a, **kw):
            sync()
            t0 = time.perf_counter()
            result = fn(*a, **kw)
            sync()
            if active[0]:
                splits[key].append(time.perf_counter() - t0)
            return result

        return wrapper

    surgeon = trainers[args.pools[-1]]
    collator = surgeon.data_collator
    surgeon.data_collator = clocked(collator, "oracle collation")
    sources_module.project_conflicting = clocked(project_conflicting, "project_conflicting")
    times = out["times"] = {name: [] for name in steps}
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
        sources_module.project_conflicting, surgeon.data_collator = project_conflicting, collator
    model.zero_grad(set_to_none=True)
    out["splits"] = {k: statistics.median(v) for k, v in splits.items()}
    out["events"] = surgeon.surgery_history
    out["params"] = sum(p.numel() for p in params)
    out["grad_bytes"] = sum(p.numel() * p.element_size() for p in params)
    return out


def measure_throughput(args, model, train_set, out_dir, sync):
    """Trainer.train() for --train_steps steps, per round stock, ours, ours, stock: whichever trainer runs first
    in a pair was seen to run 1-2% slower. Returns each trainer's mean time per round."""
    common = dict(max_steps=args.train_steps)
    # Two copies made alike, at the same moment: where the allocator puts the weights can shift a step by percents.
    trainers = {
        STOCK: Trainer(model=copy.deepcopy(model), args=trainer_args(args, out_dir, TrainingArguments, **common),
                       train_dataset=train_set),
        OURS: GradientMixTrainer(model=copy.deepcopy(model), train_dataset=train_set,
                                 args=trainer_args(args, out_dir, gradient_surgery=False, **common)),
    }
    for trainer in trainers.values():
        trainer.remove_callback(PrinterCallback)  # it prints the final metrics dict
    times = {name: [] for name in trainers}
    for _ in range(args.repeats):
        spent = dict.fromkeys(trainers, 0.0)
        for name in [STOCK, OURS, OURS, STOCK]:
            sync()
            t0 = time.perf_counter()
            trainers[name].train()
            sync()
            spent[name] += time.perf_counter() - t0
        for name in trainers:
            times[name].append(spent[name] / 2)
    return times


SCHEDULES = {  # name -> the trainer's settings; each is a `hf-mixtrain train` option
    "naive-mix": dict(gradient_surgery=False),
    "gradient-mix, surgery at every micro-batch (the authors)": dict(surgery_every="micro_batch"),
    "gradient-mix, surgery once per optimizer step": dict(surgery_every="optimizer_step"),
    "gradient-mix, batch split": dict(surgery_source="batch_split"),
}


def measure_schedules(args, model, pools, out_dir, sync):
    """Trainer.train() for --train_steps optimizer steps of --schedule_accumulation micro-batches, per schedule;
    every round runs each schedule once, in an order reversed every other round. Returns (times, surgeries)."""
    A, n = args.schedule_accumulation, args.batch_size
    rng = np.random.default_rng(args.seed + 1)
    rows = n * args.train_steps
    # A quarter of the rows in target languages, as in mixed training with a few shots per language.
    langs = [0] * (rows - rows // 4) + [1 + i % (args.pools[-1] - 1) for i in range(rows // 4)]
    train = datasets.Dataset.from_list(make_rows(rng.integers(5, args.vocab_size, size=(rows, args.seq_len)), langs))
    sizes = dict(oracle_batch_size=args.oracle_batch_size, oracle_source_batch_size=args.oracle_batch_size)
    trainers = {}
    for name, settings in SCHEDULES.items():
        trainers[name] = GradientMixTrainer(
            model=copy.deepcopy(model), train_dataset=train, oracle_datasets=pools,
            language_ids={lang: i for i, lang in enumerate(LANGS)},
            args=trainer_args(args, out_dir, per_device_train_batch_size=n // A, gradient_accumulation_steps=A,
                              max_steps=args.train_steps, **sizes, **settings),
        )
        trainers[name].remove_callback(PrinterCallback)
        trainers[name].train()  # warm-up
    times = {name: [] for name in trainers}
    for round_ in range(args.repeats):
        for name in (list(trainers) if round_ % 2 == 0 else list(reversed(trainers))):
            sync()
            t0 = time.perf_counter()
            trainers[name].train()
            sync()
            times[name].append(time.perf_counter() - t0)
    # surgeries per optimizer step, from the last train() (the history starts afresh with every train())
    surgeries = {name: len(t.surgery_history) / args.train_steps for name, t in trainers.items()}
    return times, surgeries


def schedules_report(args, times, surgeries):
    A, naive = args.schedule_accumulation, times["naive-mix"]
    print(f"\n### Surgery schedules: Trainer.train() for {args.train_steps} optimizer steps of {A} micro-batches "
          f"x {args.batch_size // A} rows, oracle batch {args.oracle_batch_size}, {args.repeats} rounds\n")
    print("| schedule | median s per optimizer step | x naive-mix (median of same-round ratios) | surgeries per "
          "optimizer step |\n|---|---|---|---|")
    for name, t in times.items():
        print(f"| {name} | {statistics.median(t) / args.train_steps:.3f} | {median_ratio(t, naive):.3f} "
              f"{spread(t, naive)} | {surgeries[name]:g} |")


# ---- report -------------------------------------------------------------------------------------------------------


def median_ratio(a, b):
    """Median over rounds of a/b within the same round, so slow drifts of machine load cancel."""
    return statistics.median(x / y for x, y in zip(a, b))


def spread(a, b):
    ratios = [x / y for x, y in zip(a, b)]
    return f"(per round {min(ratios):.3f}–{max(ratios):.3f})"


def table(names, m, ratio):
    naive_peak = m["peaks"].get(NAIVE)
    lines = ["| step | median s | min–max s | × (naive-mix + oracle) | peak MiB | over naive-mix, × one gradient |",
             "|---|---|---|---|---|---|"]
    for name in names:
        t, peak = m["times"][name], m["peaks"].get(name)
        mib = "—" if peak is None else f"{peak / MiB:.0f}"
        over = "—" if peak is None or naive_peak is None else f"{(peak - naive_peak) / m['grad_bytes']:+.2f}"
        lines.append(f"| {name} | {statistics.median(t):.3f} | {min(t):.3f}–{max(t):.3f} | {ratio[name]:.3f} "
                     f"| {mib} | {over} |")
    return "\n".join(lines)


def verdict(ok, text):
    print(("PASS " if ok else "FAIL ") + text)


def report(args, command, m, train_times, load_before, meter, started):
    times, peaks, gm, grad = m["times"], m["peaks"], headline(args), m["grad_bytes"]
    base = [a + b for a, b in zip(times[NAIVE], times[ORACLE])]
    ratio = {name: median_ratio(t, base) for name, t in times.items()}
    jd_version = importlib.metadata.version("torchjd") if torchjd else "not installed"
    print(f"## Stochastic gradient surgery: cost per training step\n\ncommand: `{command}`")
    print(f"device: {args.device} ({torch.get_num_threads()} threads, {os.cpu_count()} CPUs) | dtype {args.dtype} | "
          f"torch {torch.__version__} | transformers {transformers.__version__} | torchjd {jd_version}")
    print(f"model: BERT encoder, {args.layers} layers, hidden {args.hidden}, vocab {args.vocab_size}, token "
          f"classification: {m['params'] / 1e6:.1f}M trainable parameters; one gradient = {grad / MiB:.1f} MiB")
    print(f"batch {args.batch_size} x {args.seq_len} tokens ({args.pairwise_langs[-1]} languages), oracle batch "
          f"{args.oracle_batch_size}; medians of {args.repeats} interleaved rounds after warm-up; "
          f"1-min load average before/after: {load_before} / {load()}")
    if args.device == "cuda":
        print("memory: torch.cuda.max_memory_allocated() growth during the step (reset_peak_memory_stats before it)")
    elif meter is None:
        print("memory: not measured (needs Linux /proc/self/clear_refs and glibc)")
    else:
        print(f"memory: peak RSS growth during the step (VmHWM after `echo 5 > /proc/self/clear_refs`; glibc set to "
              f"return every block >= 64 KiB to the OS); probe: a 64 MiB tensor reads as {m['probe']:.1f} MiB")
    skipped = dict(m["skipped"])
    if torchjd is None:
        skipped[TORCHJD] = "torchjd is not installed (pip install 'hf-mixtrain[bench]' or torchjd==0.18.0)"
    for name, why in skipped.items():
        print(f"{name}: skipped: {why}")
    events = m["events"]
    print(f"surgeries in the headline trainer: {sum(e['projected'] for e in events)} of {len(events)} projected; "
          f"oracle languages drawn: {' '.join(sorted({e['lang'] for e in events}))}\n")

    names = list(times)
    print(table([n for n in names if not n.startswith(("gradient-mix, ", "pairwise"))] + [PERSISTENT], m, ratio))
    inside = m["splits"]
    print("\ninside the gradient-mix step (medians): " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in inside.items())
          + f"; together {sum(inside.values()) / statistics.median(times[gm]):.1%} of the step")
    if all(n in peaks for n in (NAIVE, ORACLE, gm)):
        bound = max(peaks[NAIVE], peaks[ORACLE] + grad)
        print(f"gradient-mix peak {peaks[gm] / MiB:.0f} MiB; expected max(naive-mix step, oracle pass + the held "
              f"gradient) = {bound / MiB:.0f} MiB: the extra gradient shows where the oracle pass's own peak comes "
              "within one gradient of the mixed batch's")
    scaling = [n for n in names if n.endswith(" pools")] + [gm]
    print("\n### Scaling in languages\n")
    print(table(scaling + [n for n in names if n.startswith("pairwise")], m, ratio))
    for L in args.pairwise_langs:
        r = median_ratio(times[f"pairwise PCGrad, {L} languages in the batch"], times[gm])
        print(f"pairwise PCGrad over {L} languages / gradient-mix step: {r:.2f}x")
    print(f"\n### Throughput: Trainer.train() for {args.train_steps} steps, {args.repeats} rounds of "
          "stock, ours, ours, stock\n\n| trainer | median s | samples/s |\n|---|---|---|")
    for name, t in train_times.items():
        t = statistics.median(t)
        print(f"| {name} | {t:.3f} | {args.batch_size * args.train_steps / t:.2f} |")
    peak_of = lambda name: "—" if name not in peaks else f"{peaks[name] / MiB:.0f}"  # noqa: E731
    print(f"\n### Oracle gradient: fresh per step (the trainer) vs a persistent buffer\n\npersistent / fresh step "
          f"time: {median_ratio(times[PERSISTENT], times[gm]):.3f}x; peak MiB: fresh {peak_of(gm)}, persistent "
          f"{peak_of(PERSISTENT)} (counting the buffer's {grad / MiB:.0f} MiB, held between steps)\n")

    print("### Targets")
    verdict(ratio[gm] <= 1.05, f"gradient-mix step time {ratio[gm]:.3f} x (naive-mix step + oracle pass) <= 1.05 "
            + spread(times[gm], base))
    if gm in peaks and NAIVE in peaks:
        extra = (peaks[gm] - peaks[NAIVE]) / grad
        verdict(extra <= 1.1, f"extra peak memory of the gradient-mix step over the naive-mix step {extra:.2f} x "
                "one gradient <= 1.1")
    else:
        print("SKIP extra peak memory of the gradient-mix step: not measurable here")
    r = median_ratio(times[SPLIT], times[NAIVE_SPLIT])
    rows = f"(same batch, {args.split_target_rows} of {args.batch_size} rows in the target language) "
    verdict(r <= 1.05, f"batch-split gradient-mix step time {r:.3f} x naive-mix step <= 1.05 {rows}"
            + spread(times[SPLIT], times[NAIVE_SPLIT]))
    r = median_ratio(times[gm], times[AUTHORS])
    verdict(r < 1, f"gradient-mix step faster than the authors' implementation: {r:.3f} x its time")
    if TORCHJD in times:
        r = median_ratio(times[gm], times[TORCHJD])
        verdict(r < 1, f"gradient-mix step faster than TorchJD PCGrad: {r:.3f} x its time")
    else:
        print(f"SKIP gradient-mix step faster than TorchJD PCGrad: {skipped[TORCHJD]}")
    against = [median_ratio(times[n], times[gm]) for n in scaling]  # each pool count against the headline
    flat = max(max(against), 1 / min(against))
    verdict(flat <= 1.05, f"gradient-mix step flat in languages ({', '.join(map(str, args.pools))} pools): "
            f"largest time ratio between pool counts {flat:.3f} <= 1.05")
    r = median_ratio(train_times[STOCK], train_times[OURS])  # stock time / ours = our throughput / stock's
    verdict(r >= 0.98, f"throughput GradientMixTrainer (naive-mix) / stock Trainer {r:.3f} >= 0.98 "
            + spread(train_times[STOCK], train_times[OURS]))
    print(f"\ntotal time: {time.perf_counter() - started:.0f} s")


def run(args, command):
    started, load_before = time.perf_counter(), load()
    device = torch.device(args.device)
    # Before anything is allocated: memory the default allocator parks in its heap while the model is built and
    # warmed up would later be reused, fragmented, and inflate every step's peak RSS by hundreds of MiB.
    meter = cuda_peak if device.type == "cuda" else cpu_peak_meter()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = build_model(args)
    pristine = copy.deepcopy(model)  # for the throughput and schedules tests, before autocast wraps forward
    pools, batches, oracle, train_set = make_data(args)
    if args.only_schedules:
        with tempfile.TemporaryDirectory() as tmp:
            note("schedules")
            schedule_times = measure_schedules(args, pristine, pools, tmp, sync)
        print(f"## Surgery schedules\n\ncommand: `{command}`\ndevice: {args.device} ({torch.get_num_threads()} "
              f"threads) | dtype {args.dtype} | torch {torch.__version__} | 1-min load average before/after: "
              f"{load_before} / {load()}")
        schedules_report(args, *schedule_times)
        return
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {"naive": step_trainer(model, args, tmp, "naive-mix")}
        for P in args.pools:
            trainers[P] = step_trainer(model, args, tmp, "gradient-mix", {lang: pools[lang] for lang in LANGS[:P]})
        trainers["split"] = step_trainer(model, args, tmp, "gradient-mix", surgery_source="batch_split")
        trainers["pairwise"] = step_trainer(model, args, tmp, "gradient-mix", surgery_source="pairwise")
        trainers["naive"].accelerator.prepare_model(model)  # as Trainer.train(): device, autocast around forward
        measured = measure_steps(args, model, trainers, pools, batches, oracle, sync, meter)
        note("throughput")
        train_times = measure_throughput(args, pristine, train_set, tmp, sync)
        if args.schedule_accumulation:
            note("schedules")
            schedule_times = measure_schedules(args, pristine, pools, tmp, sync)
    report(args, command, measured, train_times, load_before, meter, started)
    if args.schedule_accumulation:
        schedules_report(args, *schedule_times)


def main(argv=None):
    args = parse_args(argv)
    command = " ".join(["python3 run_scripts/benchmark_surgery.py", shlex.join(sys.argv[1:] if argv is None else argv)])
    verbosity, threads = transformers.logging.get_verbosity(), torch.get_num_threads()
    transformers.logging.set_verbosity_error()
    if args.quick:
        torch.set_num_threads(1)  # on tiny tensors, thread hand-offs cost more than the arithmetic
    try:
        run(args, command.strip())
    finally:  # main() also runs inside the test process
        transformers.logging.set_verbosity(verbosity)
        torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
