"""Train the tiny synthetic model; launched by tests under torchrun / accelerate launch (several processes) or alone.

Every process writes its final parameters and surgery history to --out, so tests can compare ranks and runs.
"""

import argparse
import faulthandler
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402
from datasets import concatenate_datasets  # noqa: E402
from helpers import synthetic_token_data, tiny_token_model  # noqa: E402

from hf_mixtrain import GradientMixTrainer, MixTrainingArguments  # noqa: E402
from hf_mixtrain.cli import end_distributed  # noqa: E402


# A rank still alive after this long is stuck (a run takes seconds): it prints every thread's stack to stderr and
# exits, so that the launch fails with where it stuck instead of running into the test's timeout without a word.
HANG_S = 240


def main():
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--method", default="gradient-mix")
    p.add_argument("--bs", type=int, default=4)
    p.add_argument("--ga", type=int, default=1)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--surgery_sync", default="local")
    p.add_argument("--surgery_every", default="micro_batch")
    p.add_argument("--surgery_source", default="oracle_pool")
    p.add_argument("--dropout", type=float, default=0.0)
    a = p.parse_args()

    en = synthetic_token_data(48, lang_id=0, seed=1)
    xx = synthetic_token_data(6, lang_id=1, seed=2, label_shift=1)
    train = concatenate_datasets([en, xx])
    args = MixTrainingArguments(
        output_dir=a.out,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
        save_strategy="no",
        learning_rate=1e-3,
        lr_scheduler_type="constant",
        max_steps=a.steps,
        per_device_train_batch_size=a.bs,
        gradient_accumulation_steps=a.ga,
        gradient_surgery=a.method == "gradient-mix",
        surgery_sync=a.surgery_sync,
        surgery_every=a.surgery_every,
        surgery_source=a.surgery_source,
        # Pinned: the default min(K, per-device batch size) differs between 1 and 2 processes.
        oracle_source_batch_size=4,
        logging_steps=1,
        seed=7,
    )
    model = tiny_token_model(dropout=a.dropout)
    trainer = GradientMixTrainer(model=model, args=args, train_dataset=train, oracle_datasets={"en": en, "xx": xx}, language_ids={"en": 0, "xx": 1})
    trainer.train()
    rank = args.process_index
    os.makedirs(a.out, exist_ok=True)
    torch.save({n: p.detach() for n, p in model.named_parameters()}, os.path.join(a.out, f"params_rank{rank}.pt"))
    with open(os.path.join(a.out, f"history_rank{rank}.json"), "w") as f:
        json.dump({"world_size": args.world_size, "history": trainer.surgery_history}, f)
    # A gloo group left to interpreter exit can abort a rank ("terminate called without an active exception").
    end_distributed()


if __name__ == "__main__":
    main()
