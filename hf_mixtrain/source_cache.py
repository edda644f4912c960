"""The source-trained model of zero-shot and the two-stage methods, trained once per setting and cached.

A sweep runs zero-shot, ord-fs, ord-fs-dev and mix-ft on the same English model per seed: the first run trains
it, the others load it. The cache key holds everything that changes that model: the data, the model, and every
training argument except those that only say where to log, save or push (`_NOT_IN_KEY`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import shutil
import uuid

import torch.distributed as dist
from datasets import Dataset

from .arguments import DataArguments, MethodArguments, MixTrainingArguments, ModelArguments
from .experiment import Experiment
from .files import write_json
from .presets import default_selection
from .stages import load_model, release, stage_args, stage_selection, train_stage

logger = logging.getLogger(__name__)

MARKER = "source_training.json"

# Training arguments that cannot change the source model: where and how often to log, save, push; evaluation
# batching; data-loader workers; and the surgery settings (the source stage does no surgery). Every other field is in
# the key, so that a new or changed setting never reuses a stale model.
_NOT_IN_KEY = {
    "output_dir", "logging_dir", "logging_strategy", "logging_steps", "logging_first_step", "logging_nan_inf_filter",
    "log_on_each_node", "log_level", "log_level_replica", "disable_tqdm", "report_to", "run_name", "project",
    "trackio_space_id", "trackio_bucket_id", "trackio_static_space_id", "push_to_hub", "hub_token",
    "hub_private_repo", "hub_model_id", "hub_strategy", "hub_always_push", "hub_revision", "save_strategy",
    "save_steps", "save_total_limit", "save_only_model", "save_on_each_node", "enable_jit_checkpoint",
    "per_device_eval_batch_size", "eval_accumulation_steps", "eval_do_concat_batches", "eval_use_gather_object",
    "include_for_metrics", "batch_eval_metrics", "prediction_loss_only", "include_num_input_tokens_seen",
    "dataloader_num_workers", "dataloader_pin_memory", "dataloader_persistent_workers", "dataloader_prefetch_factor",
    "dataloader_multiprocessing_context", "skip_memory_metrics", "do_train", "do_eval", "do_predict",
    "resume_from_checkpoint", "local_rank", "debug", "ddp_timeout", "torch_empty_cache_steps",
    "gradient_surgery", "surgery_prob", "surgery_source", "surgery_scope", "surgery_every", "surgery_sync",
    "oracle_include_source", "oracle_batch_size", "oracle_source_batch_size", "language_batches",
    "language_batch_target_rows", "language_temperature", "surgery_log_tensors",
}


def cache_key(exp: Experiment, model_args: ModelArguments, data_args: DataArguments, args: MixTrainingArguments) -> dict:
    """The settings that determine the source model (the cache key is their hash)."""
    training = {f.name: getattr(args, f.name) for f in dataclasses.fields(args) if f.name not in _NOT_IN_KEY}
    settings = {
        "model": model_args.model_name_or_path,
        "freeze_embeddings": model_args.freeze_embeddings,
        "task": exp.task.name,
        "source": exp.mixed.source,
        "data": _digest(exp.mixed.source_train),
        "dev": _digest(exp.mixed.source_dev) if exp.mixed.source_dev is not None else None,
        "labels": exp.mixed.label_names,
        "max_seq_length": data_args.max_seq_length,
        "doc_stride": data_args.doc_stride,
        "label_all_tokens": data_args.label_all_tokens,
        "world_size": args.world_size,
        "training": training,
    }
    return json.loads(json.dumps(settings, default=str))


def source_model(exp: Experiment, model_args: ModelArguments, data_args: DataArguments, method_args: MethodArguments,
                 args: MixTrainingArguments) -> str:
    """Train the source-language model once per setting (see `cache_key`) and return its cached path.

    Every process trains in the same work folder (checkpoints hold one RNG file per rank, and each rank loads the
    best checkpoint from it); the main process then publishes the model under its key and removes the folder.
    """
    settings = cache_key(exp, model_args, data_args, args)
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    root = method_args.source_model_cache_dir or os.path.join(
        os.environ.get("HF_MIXTRAIN_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "hf_mixtrain")), "source_models"
    )
    path = os.path.join(root, f"{exp.task.name}-{exp.mixed.source}-seed{args.seed}-{key}")
    if os.path.isfile(os.path.join(path, MARKER)):
        logger.info("[source] reusing the cached source-trained model %s", path)
        return path
    selection, examples, features = stage_selection(exp, default_selection(exp.task.name, "zero-shot"), "[source]")
    work = f"{path}.tmp-{_shared_token()}"
    stage = stage_args(
        args, work, selection, exp.task.metric_key, gradient_surgery=False, language_batches=False,
        resume_from_checkpoint=None, save_strategy="no" if selection == "last" else "best",
        push_to_hub=False,  # a cached intermediate: never a repository of its own, nor the run's
    )
    trainer = train_stage(
        exp,
        load_model(exp, model_args),
        stage,
        exp.source_train,
        name="source",
        selection_examples=examples,
        selection_features=features,
    )
    trainer.accelerator.wait_for_everyone()  # every rank has loaded its best checkpoint from `work`
    if trainer.is_world_process_zero():
        final = work + "-final"
        trainer.save_model(final)
        write_json(os.path.join(final, MARKER), {"settings": settings, "train": trainer.train_metrics})
        shutil.rmtree(work, ignore_errors=True)
        if os.path.isdir(path):  # another run finished the same model first
            shutil.rmtree(final, ignore_errors=True)
        else:
            os.makedirs(root, exist_ok=True)
            os.replace(final, path)
        logger.info("[source] cached the source-trained model at %s", path)
    trainer.accelerator.wait_for_everyone()
    release(trainer)
    return path


def _shared_token() -> str:
    """A name for this run's work folder, the same on every process (rank 0's, broadcast)."""
    token = [f"{os.getpid()}-{uuid.uuid4().hex[:8]}"]
    if dist.is_available() and dist.is_initialized():
        dist.broadcast_object_list(token, src=0)
    return token[0]


def _digest(ds: Dataset) -> str:
    """A content hash of a dataset (its Arrow data), stable across processes and runs."""
    import pyarrow as pa

    sink = io.BytesIO()
    table = ds.with_format("arrow")[:]
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha1(sink.getvalue()).hexdigest()
