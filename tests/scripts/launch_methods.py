"""Run all six methods one after another in one launch (for the 1- vs 2-process test), recording every stage.

    accelerate launch ... tests/scripts/launch_methods.py DUMP_DIR [script arguments...]

XNLI from the fake Hub of tests/data_fixtures.py: rows padded to max_seq_length, so every process averages over
the same number of terms. Each method runs with its output in DUMP_DIR/<method>/ and one shared source-model cache,
DUMP_DIR/cache/. After every stage, each process saves its parameters (after checkpoint selection) to
DUMP_DIR/params/<method>/<stage>_rank<r>.pt. The selection metric is replaced by one that falls with every
evaluation, so that the best checkpoint is always the first one saved, never the last.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from data_fixtures import FakeHub, hub_table  # noqa: E402

import hf_mixtrain.cli as cli  # noqa: E402
import hf_mixtrain.data.hub as hub  # noqa: E402
import hf_mixtrain.recipes as recipes  # noqa: E402
import hf_mixtrain.source_cache as source_cache  # noqa: E402
from hf_mixtrain.data.assembly import METHODS  # noqa: E402
from hf_mixtrain.stages import TaskTrainer  # noqa: E402

original_stage = recipes.train_stage


def main():
    dump, argv = sys.argv[1], sys.argv[2:]
    rank = int(os.environ.get("RANK", 0))
    hub.load_hub_dataset = FakeHub(hub_table())

    def falling_metric(self, eval_dataset=None, ignore_keys=None, metric_key_prefix="eval"):
        metrics = {f"{metric_key_prefix}_{self.task.metric_key}": 100.0 - self.state.global_step}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    TaskTrainer.evaluate = falling_metric
    # One process group serves all six runs: it is torn down after the last one, not after each.
    end_distributed, cli.end_distributed = cli.end_distributed, lambda: None
    for method in METHODS:
        folder = os.path.join(dump, "params", method)
        os.makedirs(folder, exist_ok=True)

        def recorded_stage(*args, name, **kwargs):
            trainer = original_stage(*args, name=name, **kwargs)
            model = trainer.accelerator.unwrap_model(trainer.model)
            stage = name.replace(" ", "_").replace("/", "-").replace(":", "")
            torch.save({n: p.detach().cpu().clone() for n, p in model.named_parameters()},
                       os.path.join(folder, f"{stage}_rank{rank}.pt"))
            return trainer

        recipes.train_stage = source_cache.train_stage = recorded_stage
        cli.train("xnli", argv + ["--method", method, "--output_dir", os.path.join(dump, method),
                              "--source_model_cache_dir", os.path.join(dump, "cache")])
    end_distributed()


if __name__ == "__main__":
    main()
