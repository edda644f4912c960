"""Run a task script under `accelerate launch` for tests, recording what each process writes.

    accelerate launch ... tests/scripts/launch_task.py TASK DUMP_DIR [script arguments...]

Data come from the fake Hub of tests/data_fixtures.py. Every process logs each file it opens for writing
(an audit hook, plus the safetensors writer of save_pretrained, which bypasses Python's open) to
DUMP_DIR/writes_rank<r>.txt, and dumps its final parameters to DUMP_DIR/params_rank<r>.pt.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import importlib.util  # noqa: E402

import torch  # noqa: E402
from data_fixtures import FakeHub, hub_table  # noqa: E402

import hf_mixtrain.data.hub as hub  # noqa: E402
import hf_mixtrain.recipes as recipes  # noqa: E402
import hf_mixtrain.source_cache as source_cache  # noqa: E402


def main():
    task, dump = sys.argv[1], sys.argv[2]
    rank = int(os.environ.get("RANK", 0))
    os.makedirs(dump, exist_ok=True)
    writes = []

    def audit(event, args):
        if event != "open" or not isinstance(args[0], str):
            return
        # builtins.open passes a mode; os.open (temporary files) passes flags instead.
        mode, flags = args[1], args[2]
        if (mode and any(c in mode for c in "wax+")) or (mode is None and isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR)):
            writes.append(os.path.abspath(args[0]))

    sys.addaudithook(audit)
    import transformers.modeling_utils as modeling_utils

    original_save_file = modeling_utils.safe_save_file

    def recorded_save_file(tensors, filename, *args, **kwargs):
        writes.append(os.path.abspath(filename))
        return original_save_file(tensors, filename, *args, **kwargs)

    modeling_utils.safe_save_file = recorded_save_file
    hub.load_hub_dataset = FakeHub(hub_table())
    trainers = []
    original_stage = recipes.train_stage
    for module in (recipes, source_cache):  # every stage is trained through one of these
        module.train_stage = lambda *a, **kw: trainers.append(original_stage(*a, **kw)) or trainers[-1]

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = importlib.util.spec_from_file_location("run_task", os.path.join(root, "run_scripts", f"run_{task}.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(sys.argv[3:])

    model = trainers[-1].accelerator.unwrap_model(trainers[-1].model)
    torch.save({n: p.detach().cpu() for n, p in model.named_parameters()}, os.path.join(dump, f"params_rank{rank}.pt"))
    with open(os.path.join(dump, f"writes_rank{rank}.txt"), "w") as f:
        f.write("\n".join(writes))


if __name__ == "__main__":
    main()
