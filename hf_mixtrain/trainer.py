"""`GradientMixTrainer`: the Hugging Face Trainer with stochastic gradient surgery across languages."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
from collections import Counter
from functools import partial
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as dist
from transformers import Trainer
from transformers.trainer_utils import get_last_checkpoint, seed_worker

from .arguments import MixTrainingArguments
from .modelcard import CARD_NAME, TASKS, ModelCardInfo, build_model_card, labels_from_config
from .samplers import LanguageBatchSampler
from .surgery import gram_matrix, pcgrad_coefficients, project_conflicting

logger = logging.getLogger(__name__)

SURGERY_HISTORY_NAME = "surgery_history.jsonl"
LANG_ID_COLUMN = "lang_id"


class GradientMixTrainer(Trainer):
    """A [`~transformers.Trainer`] for one-step mixed training with stochastic gradient surgery.

    With `args.method == "gradient-mix"`, after the ordinary backward pass of a (mixed-language) batch, the
    trainer picks one language uniformly from `oracle_datasets` (the source language included when
    `args.oracle_include_source`), computes that language's gradient `o` on an oracle batch drawn from its pool
    (a separate forward and backward, into one extra gradient-sized buffer), and projects the running gradient
    `g` in `.grad` with `g <- g - min(0, g.o / ||o||^2) o` (see `hf_mixtrain.surgery`). Clipping and the
    optimizer then see the projected gradient. With any other method the step is the stock `Trainer` step.

    The language, the surgery coin and the oracle rows are drawn from `(args.seed, global step, micro-batch)`,
    so every process draws the same ones and `resume_from_checkpoint` continues the same sequence. Every
    surgery is recorded in `self.surgery_history` (saved with checkpoints as `surgery_history.jsonl`) and
    summarised in the training logs (`surgery/conflict_rate`, `surgery/mean_cosine`, `surgery/count_<lang>`).

    Supported setups: one device, DataParallel, and DDP through `accelerate launch` or `torchrun` (see
    `MixTrainingArguments.surgery_sync`), with fp16/bf16 and gradient accumulation. DeepSpeed and FSDP keep
    gradients outside `.grad` or sharded across processes, so gradient-mix refuses them.

    Args:
        oracle_datasets: one tokenised dataset per language code (`{"en": ..., "de": ...}`): the pools oracle
            batches are drawn from. Rows must be collatable by `data_collator`, like the training rows. Needed by
            `surgery_source="oracle_pool"`.
        language_ids: `{language code: lang_id}` for the `lang_id` column of the rows; needed by language batches
            and `surgery_source="batch_split"`.
        All other arguments are those of [`~transformers.Trainer`]; `args` must be a `MixTrainingArguments`.
    """

    def __init__(
        self,
        model=None,
        args: Optional[MixTrainingArguments] = None,
        *,
        oracle_datasets=None,
        language_ids: Optional[dict[str, int]] = None,
        **kwargs,
    ):
        if args is None:
            args = MixTrainingArguments(output_dir="trainer_output")
        if not isinstance(args, MixTrainingArguments):
            raise TypeError(
                f"GradientMixTrainer needs MixTrainingArguments, got {type(args).__name__}. Build the arguments with "
                "hf_mixtrain.MixTrainingArguments(...) (a TrainingArguments subclass)."
            )
        super().__init__(model=model, args=args, **kwargs)
        # Models whose forward takes **kwargs (BERT/XLM-R heads) make the Trainer believe they normalise the loss
        # by num_items_in_batch; they average per batch instead, so gradients come out GA x world_size too large
        # (transformers#47688). Declaring no loss kwargs restores the division by the accumulation count.
        self.model_accepts_loss_kwargs = False
        self.oracle_datasets = dict(oracle_datasets or {})
        self.language_ids = dict(language_ids or {})
        self._language_names = {i: lang for lang, i in self.language_ids.items()}
        self._language_sampler: Optional[LanguageBatchSampler] = None
        self.surgery_history: list[dict[str, Any]] = []
        self._logged_events = 0
        self._micro_step = 0
        self._prepared_pools: Optional[dict[str, Any]] = None
        self._params: Optional[list[torch.nn.Parameter]] = None
        self._loss_weight = 1.0  # a part's share of its micro-batch's loss, set around each part's pass
        if args.method == "gradient-mix":
            self._check_surgery_setup()
        if args.language_batches and args.source_language not in self.language_ids:
            raise ValueError(
                f"language_batches (and surgery_source='batch_split') need language_ids={{code: lang_id}} naming the "
                f"source language {args.source_language!r}, matching the lang_id column of the training rows."
            )

    # ---- setup -------------------------------------------------------------------------------------------

    def _check_surgery_setup(self) -> None:
        args = self.args
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:
            backend = "DeepSpeed" if self.is_deepspeed_enabled else "FSDP"
            raise ValueError(
                f"method='gradient-mix' does not support {backend}: it partitions or owns the gradients, so `.grad` "
                "does not hold the full gradient that the surgery projects. Supported: a single device, DataParallel, "
                "or DDP via `accelerate launch` / `torchrun` (multi-GPU or multi-CPU), with fp16/bf16 and gradient "
                "accumulation. Remove the DeepSpeed/FSDP config, or use method='naive-mix'."
            )
        if args.surgery_source in ("batch_split", "pairwise"):
            return  # the batch is its own source of gradients: no oracle pools
        if not self.oracle_datasets:
            raise ValueError(
                "method='gradient-mix' needs oracle_datasets={language: tokenised dataset}: the per-language pools "
                "that oracle batches are drawn from (the targets' K-shot sets and the source train set)."
            )
        empty = [lang for lang, ds in self.oracle_datasets.items() if len(ds) == 0]
        if empty:
            raise ValueError(f"Oracle pools must not be empty; empty for: {', '.join(empty)}.")
        if args.oracle_include_source and args.source_language not in self.oracle_datasets:
            raise ValueError(
                f"oracle_include_source=True but oracle_datasets has no pool for the source language "
                f"{args.source_language!r} (it has {sorted(self.oracle_datasets)}). Add the source train set as its "
                "pool, or set oracle_include_source=False."
            )
        if not self.oracle_languages:
            raise ValueError("oracle_include_source=False leaves no oracle language: add target-language pools.")

    @property
    def oracle_languages(self) -> list[str]:
        """The languages drawn from, in a fixed (sorted) order so every process indexes the same list."""
        langs = sorted(self.oracle_datasets)
        if not self.args.oracle_include_source:
            langs = [lang for lang in langs if lang != self.args.source_language]
        return langs

    def _set_signature_columns_if_needed(self) -> None:
        # Keep each row's language id through `remove_unused_columns`; compute_loss removes it before forward.
        super()._set_signature_columns_if_needed()
        if LANG_ID_COLUMN not in self._signature_columns:
            self._signature_columns.append(LANG_ID_COLUMN)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # Models with **kwargs would swallow lang_id silently; no model takes it, so it never reaches forward.
        inputs.pop(LANG_ID_COLUMN, None)
        out = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        if self._loss_weight == 1.0:
            return out
        # Weighting the loss, not the gradient afterwards, saves a pass over every gradient tensor.
        return (out[0] * self._loss_weight, *out[1:]) if return_outputs else out * self._loss_weight

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs.pop(LANG_ID_COLUMN, None)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    @property
    def _surgery_params(self) -> list[torch.nn.Parameter]:
        # Only trainable parameters take part (frozen embeddings, PEFT/LoRA base weights stay out).
        if self._params is None:
            self._params = [p for p in self.model.parameters() if p.requires_grad]
        return self._params

    @property
    def _pools(self) -> dict[str, Any]:
        if self._prepared_pools is None:
            import datasets

            self._prepared_pools = {
                lang: self._remove_unused_columns(ds, description=f"oracle {lang}")
                if isinstance(ds, datasets.Dataset)
                else ds
                for lang, ds in self.oracle_datasets.items()
            }
        return self._prepared_pools

    def _oracle_size(self, lang: str) -> int:
        args, pool_size = self.args, len(self._pools[lang])
        if lang == args.source_language:
            size = args.oracle_source_batch_size
            if size is None:
                target_sizes = [len(ds) for code, ds in self._pools.items() if code != args.source_language]
                size = min(max(target_sizes, default=args.per_device_train_batch_size), args.per_device_train_batch_size)
        else:
            size = args.oracle_batch_size or pool_size
        return min(size, pool_size)

    @property
    def _distributed(self) -> bool:
        return self.accelerator.num_processes > 1 and dist.is_available() and dist.is_initialized()

    # ---- the step ------------------------------------------------------------------------------------------

    def training_step(self, model, inputs, num_items_in_batch=None):
        if self.args.method != "gradient-mix":
            return super().training_step(model, inputs, num_items_in_batch)
        # The Trainer sets sync_gradients before each micro-batch: True only on the window's last one.
        last_micro = self.accelerator.gradient_state.sync_gradients
        micro = self._micro_step
        self._micro_step = 0 if last_micro else micro + 1
        # Under DDP every backward runs without DDP's reduction; gradients are averaged by hand (once per
        # optimizer step, or before each projection with surgery_sync="global"), so that the surgery acts on a
        # well-defined gradient and every process ends the step with the same one.
        with self.accelerator.no_sync(model):
            synced = not self._distributed
            if self.args.surgery_source == "batch_split":
                loss = self._batch_split_step(model, inputs, micro)
            elif self.args.surgery_source == "pairwise":
                loss = self._pairwise_step(model, inputs, micro)
            else:
                loss = super().training_step(model, inputs, num_items_in_batch)
                if self.args.surgery_every == "micro_batch" or last_micro:
                    synced = self._surgery(model, micro) or synced
            if last_micro and not synced:
                self._all_reduce_grads()
        return loss

    def _surgery(self, model, micro: int) -> bool:
        """Maybe project `.grad` against one oracle language; returns whether `.grad` is synced across processes."""
        args = self.args
        rng = np.random.default_rng([args.seed, self.state.global_step, micro])
        if rng.random() >= args.surgery_prob:
            return False
        langs = self.oracle_languages
        lang = langs[int(rng.integers(len(langs)))]
        pool, size = self._pools[lang], self._oracle_size(lang)
        rows = np.arange(len(pool)) if size == len(pool) else np.sort(rng.choice(len(pool), size, replace=False))
        oracle_inputs = self.data_collator([pool[int(i)] for i in rows])

        global_sync = self._distributed and args.surgery_sync == "global"
        if global_sync:
            self._all_reduce_grads()
        params = self._surgery_params
        grads = [p.grad for p in params]
        for p in params:
            p.grad = None
        # A separate forward+backward (no retain_graph): the oracle gradient lands in fresh `.grad` tensors, the
        # one extra gradient-sized buffer, and is dropped after the projection. Its dropout draws come from a
        # forked random stream, so that a run whose surgeries never project trains exactly like naive-mix.
        device = self.args.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            super().training_step(model, oracle_inputs)
        oracle = [p.grad for p in params]
        for p, g in zip(params, grads):
            p.grad = g
        if global_sync:
            _all_reduce_mean([o for o in oracle if o is not None], dist.get_world_size())
        record = project_conflicting(
            grads, oracle, scope=args.surgery_scope, return_tensor_cosines=args.surgery_log_tensors
        )
        event = self._event(micro, lang, size, record.dot, record.cosine, record.num_projected)
        if args.surgery_log_tensors:
            names = self._param_names()
            taking_part = [names[id(p)] for p, g, o in zip(params, grads, oracle) if g is not None and o is not None]
            event["tensor_cosines"] = dict(zip(taking_part, record.tensor_cosines))
        del oracle
        self.surgery_history.append(event)
        return global_sync

    def _batch_split_step(self, model, inputs, micro: int) -> torch.Tensor:
        """One micro-batch as two passes, source rows and target rows, with the target gradient as the oracle."""
        args = self.args
        ids, _ = self._row_languages(inputs, micro)
        if ids is None:
            return super().training_step(model, inputs)
        is_source = ids == self.language_ids[args.source_language]
        if bool(is_source.all()) or not bool(is_source.any()):
            raise ValueError(
                "surgery_source='batch_split' needs source rows and target rows in every batch, got a batch of "
                f"{'only source' if bool(is_source.all()) else 'only target'} rows; keep language_batches=True."
            )
        target_ids = ids[~is_source].unique().tolist()
        running, (g_t, g_s), losses = self._part_gradients(
            model, [_select_rows(inputs, ~is_source), _select_rows(inputs, is_source)]
        )
        # Both parts come weighted by their share of the batch's loss terms, w_s g_s and w_t g_t. The projection
        # is invariant to those positive scales, and unprojected their sum is the mixed batch's gradient.
        record = project_conflicting(g_s, g_t, scope=args.surgery_scope)
        for p, r, s, t in zip(self._surgery_params, running, g_s, g_t):
            p.grad = _weighted_sum([(s, 1.0), (t, 1.0), (r, 1.0)])
        names = [self._language_names.get(i, str(i)) for i in target_ids]
        self.surgery_history.append(
            self._event(micro, "+".join(names), (~is_source).sum(), record.dot, record.cosine, record.num_projected)
        )
        return sum(losses)

    def _pairwise_step(self, model, inputs, micro: int) -> torch.Tensor:
        """Full PCGrad over the languages in the micro-batch: a forward+backward per language, pairs projected."""
        ids, rng = self._row_languages(inputs, micro)
        langs = [] if ids is None else ids.unique().tolist()
        if len(langs) < 2:
            return super().training_step(model, inputs)
        parts = [_select_rows(inputs, ids == lang) for lang in langs]
        # PCGrad acts on the weighted gradients w_l g_l: unprojected, their sum is the mixed batch's gradient.
        running, grads, losses = self._part_gradients(model, parts)
        gram = gram_matrix(grads)
        coefficients, made = pcgrad_coefficients(gram, [rng.permutation(len(langs)).tolist() for _ in langs])
        for i, p in enumerate(self._surgery_params):
            p.grad = _weighted_sum([(g[i], c) for g, c in zip(grads, coefficients)] + [(running[i], 1.0)])
        pairs = [(i, j) for i in range(len(langs)) for j in range(i + 1, len(langs))]
        cosines = [gram[i][j] / math.sqrt(gram[i][i] * gram[j][j]) if gram[i][i] > 0 and gram[j][j] > 0 else 0.0
                   for i, j in pairs]
        names = "+".join(self._language_names.get(i, str(i)) for i in langs)
        self.surgery_history.append(
            self._event(micro, names, ids.numel(), min(gram[i][j] for i, j in pairs), min(cosines), made)
        )
        return sum(losses)

    def _row_languages(self, inputs, micro: int) -> tuple[Optional[torch.Tensor], np.random.Generator]:
        """Each row's language id and this micro-batch's generator; the ids are None when it draws no surgery."""
        lang_ids = inputs.get(LANG_ID_COLUMN)
        if lang_ids is None:
            raise ValueError(f"surgery_source={self.args.surgery_source!r} needs a lang_id column in the training rows.")
        rng = np.random.default_rng([self.args.seed, self.state.global_step, micro])
        if rng.random() >= self.args.surgery_prob:
            return None, rng
        return torch.as_tensor(lang_ids), rng

    def _event(self, micro: int, lang: str, rows, dot: float, cosine: float, num_projected: int) -> dict:
        """One line of surgery_history.jsonl."""
        return {
            "step": self.state.global_step,
            "micro_step": micro,
            "lang": lang,
            "rows": int(rows),
            "dot": dot,
            "cosine": cosine,
            "projected": num_projected > 0,
            "num_projected": num_projected,
        }

    def _part_gradients(self, model, parts: list) -> tuple:
        """Forward+backward of each part of a micro-batch on its own, each into fresh `.grad` tensors.

        Each part's loss (the mean over its own rows) is weighted by the part's share of the batch's loss terms,
        so the weighted losses and gradients add up to the whole batch's. Returns the `.grad` tensors held before
        (the running sum of earlier micro-batches, for the caller to add back), and each part's weighted
        gradient and weighted loss.
        """
        params = self._surgery_params
        running = [p.grad for p in params]
        counts = [_loss_items(part) for part in parts]
        grads, losses = [], []
        try:
            for part, count in zip(parts, counts):
                for p in params:
                    p.grad = None
                self._loss_weight = count / sum(counts)
                losses.append(super().training_step(model, part))
                grads.append([p.grad for p in params])
        finally:
            self._loss_weight = 1.0
        return running, grads, losses

    def get_train_dataloader(self):
        if not self.args.language_batches:
            return super().get_train_dataloader()
        if self.train_dataset is None:
            raise ValueError("Trainer: training requires a train_dataset.")
        args = self.args
        dataset = self._remove_unused_columns(self.train_dataset, description="training")
        if LANG_ID_COLUMN not in dataset.column_names:
            raise ValueError("language_batches needs a lang_id column in train_dataset (each row's language id).")
        lang_ids = np.asarray(dataset[LANG_ID_COLUMN])
        source_id = self.language_ids[args.source_language]
        target_rows = args.language_batch_target_rows
        if target_rows is None:
            share = float(np.mean(lang_ids != source_id))
            target_rows = int(min(max(round(share * self._train_batch_size), 1), self._train_batch_size - 1))
        self._language_sampler = LanguageBatchSampler(
            lang_ids,
            source_id,
            batch_size=self._train_batch_size,
            target_rows=target_rows,
            seed=args.data_seed if args.data_seed is not None else args.seed,
            temperature=args.language_temperature,
            drop_last=args.dataloader_drop_last,
        )
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_sampler=self._language_sampler,
            collate_fn=self.data_collator,
            num_workers=args.dataloader_num_workers,
            pin_memory=args.dataloader_pin_memory,
            persistent_workers=args.dataloader_persistent_workers and args.dataloader_num_workers > 0,
            worker_init_fn=partial(seed_worker, num_workers=args.dataloader_num_workers, rank=args.process_index),
        )
        return self.accelerator.prepare(loader)

    def _param_names(self) -> dict[int, str]:
        return {id(p): name for name, p in self.model.named_parameters()}

    def _all_reduce_grads(self) -> None:
        grads = []
        for p in self._surgery_params:
            if p.grad is None:
                # Every process must reduce the same list of tensors, used or not.
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        _all_reduce_mean(grads, dist.get_world_size())

    # ---- logging, checkpoints, resume ----------------------------------------------------------------------

    def log(self, logs: dict[str, float], start_time: Optional[float] = None) -> None:
        if "loss" in logs and self.args.method == "gradient-mix":
            logs.update(summarize_surgery(self.surgery_history[self._logged_events :]))
            self._logged_events = len(self.surgery_history)
        super().log(logs, start_time)

    def save_surgery_history(self, output_dir: Optional[str] = None) -> Optional[str]:
        """Write `surgery_history.jsonl` (one JSON object per surgery) atomically; main process only."""
        if not self.args.should_save:
            return None
        output_dir = output_dir or self.args.output_dir
        os.makedirs(output_dir, exist_ok=True)
        path = os.path.join(output_dir, SURGERY_HISTORY_NAME)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            for event in self.surgery_history:
                f.write(json.dumps(event) + "\n")
        os.replace(tmp, path)
        return path

    def train(self, resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None, **kwargs):
        if resume_from_checkpoint is True:
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise ValueError(f"No valid checkpoint found in output directory ({self.args.output_dir})")
        self.surgery_history = []
        if isinstance(resume_from_checkpoint, str):
            path = os.path.join(resume_from_checkpoint, SURGERY_HISTORY_NAME)
            if os.path.isfile(path):
                with open(path) as f:
                    self.surgery_history = [json.loads(line) for line in f if line.strip()]
        self._logged_events = len(self.surgery_history)
        self._micro_step = 0
        self._params = None
        return super().train(
            resume_from_checkpoint=resume_from_checkpoint, trial=trial, ignore_keys_for_eval=ignore_keys_for_eval, **kwargs
        )

    # ---- model card and Hub -------------------------------------------------------------------------------

    # What the model card says about this run (task, languages, K, seeds, test results, command); the task
    # scripts set it. While it is None, the stock transformers card is written.
    card_info: Optional[ModelCardInfo] = None

    def build_model_card(self, **changes):
        """This run's `huggingface_hub.ModelCard`: `card_info` with `changes` (ModelCardInfo fields) applied.

        Fills what the trainer knows and `card_info` leaves unset: the label names from the model config's
        `id2label`, the Hub repository (`hub_model_id`) for the usage snippet and the model name, and the
        training arguments for the training-setup table.
        """
        if self.card_info is None:
            raise ValueError("card_info is not set: assign trainer.card_info = hf_mixtrain.ModelCardInfo(...) first.")
        info = dataclasses.replace(self.card_info, **changes)
        filled = {}
        repo_id = self.hub_model_id or self.args.hub_model_id
        if info.model_id is None and repo_id:
            filled["model_id"] = repo_id
        if info.model_name is None and repo_id:
            filled["model_name"] = repo_id.split("/")[-1]
        if info.labels is None and TASKS[info.task].labelled:
            labels = labels_from_config(getattr(self.accelerator.unwrap_model(self.model), "config", None))
            if labels and all(re.fullmatch(r"LABEL_\d+", label) for label in labels):
                logger.warning(
                    "The model config's id2label holds only the default names (%s, ...): pipelines will output them. "
                    "Build the model with id2label/label2id from the dataset's label names.",
                    labels[0],
                )
            filled["labels"] = labels
        if filled:
            info = dataclasses.replace(info, **filled)
        return build_model_card(info, training_args=self.args)

    def save_model_card(self, output_dir: Optional[str] = None, **changes) -> str:
        """Write this run's card as `README.md` in `output_dir` (default `args.output_dir`), atomically."""
        output_dir = output_dir or self.args.output_dir
        card = self.build_model_card(**changes)
        os.makedirs(output_dir, exist_ok=True)
        path = os.path.join(output_dir, CARD_NAME)
        tmp = path + ".tmp"
        card.save(tmp)
        os.replace(tmp, path)
        return path

    def create_model_card(
        self,
        language=None,
        license=None,
        tags=None,
        model_name=None,
        finetuned_from=None,
        tasks=None,
        dataset_tags=None,
        dataset=None,
        dataset_args=None,
        **kwargs,
    ):
        """Write the model card to `output_dir/README.md` (called by `push_to_hub`).

        With `card_info` set, hf-mixtrain's multilingual card: `license` and `finetuned_from` replace
        `card_info.license` / `card_info.base_model`, `tags` and `dataset` are added to its tags and datasets, and
        `model_name` (the repository name from `push_to_hub`) is used when `card_info.model_name` is unset.
        `language`, `tasks`, `dataset_tags` and `dataset_args` are ignored with a warning: `card_info.languages`
        and `card_info.task` define them. Without `card_info`, the stock transformers card.
        """
        if self.card_info is None:
            return super().create_model_card(
                language=language,
                license=license,
                tags=tags,
                model_name=model_name,
                finetuned_from=finetuned_from,
                tasks=tasks,
                dataset_tags=dataset_tags,
                dataset=dataset,
                dataset_args=dataset_args,
                **kwargs,
            )
        if not self.is_world_process_zero():
            return None
        ignored = dict(language=language, tasks=tasks, dataset_tags=dataset_tags, dataset_args=dataset_args, **kwargs)
        ignored = sorted(name for name, value in ignored.items() if value is not None)
        if ignored:
            logger.warning(
                "create_model_card ignores %s: card_info defines the card's languages, task and datasets.", ", ".join(ignored)
            )
        info, changes = self.card_info, {}
        if license is not None:
            changes["license"] = license
        if finetuned_from is not None:
            changes["base_model"] = finetuned_from
        if model_name is not None and info.model_name is None:
            changes["model_name"] = model_name
        if tags:
            changes["tags"] = self._merged(info.tags, tags)
        if dataset:
            changes["datasets"] = self._merged(info.datasets, dataset)
        return self.save_model_card(self.args.output_dir, **changes)

    def save_model(self, output_dir: Optional[str] = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call=_internal_call)
        # Every saved model carries its surgery history and card, checkpoints included: `_save_checkpoint` saves
        # through here before `_push_from_checkpoint` uploads the folder, and resume reads the history back.
        output_dir = output_dir or self.args.output_dir
        if self.args.method == "gradient-mix":
            self.save_surgery_history(output_dir)
        if self.card_info is not None and self.args.should_save:
            self.save_model_card(output_dir)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        # The stock push during training uploads `output_dir` (the checkpoint's weights copied there) without
        # writing a card to it: write ours first, so the repository shows a card from the first push.
        if self.card_info is not None and self.is_world_process_zero():
            self.save_model_card(self.args.output_dir)
        super()._push_from_checkpoint(checkpoint_folder)

    @staticmethod
    def _merged(existing, extra) -> list[str]:
        extra = [extra] if isinstance(extra, str) else list(extra)
        return list(existing) + [item for item in extra if item not in existing]


def summarize_surgery(events: list[dict[str, Any]]) -> dict[str, float]:
    """Conflict rate, mean cosine and per-language counts over surgery events (keys prefixed `surgery/`)."""
    if not events:
        return {}
    out = {
        "surgery/events": float(len(events)),
        "surgery/conflict_rate": sum(e["projected"] for e in events) / len(events),
        "surgery/mean_cosine": float(np.nanmean([e["cosine"] for e in events])),
    }
    for lang, count in sorted(Counter(e["lang"] for e in events).items()):
        out[f"surgery/count_{lang}"] = float(count)
    return out


def _select_rows(inputs: dict[str, Any], mask: torch.Tensor) -> dict[str, Any]:
    """The rows of a collated batch where `mask` is True, with right padding that only those rows had trimmed."""
    size = mask.shape[0]
    part = {k: v[mask.to(v.device)] if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == size else v for k, v in inputs.items()}
    attention = part.get("attention_mask")
    if attention is not None and attention.dim() == 2:
        length = int(attention.sum(dim=1).max())
        if length < attention.shape[1] and not bool(attention[:, length:].any()):
            width = attention.shape[1]
            part = {
                k: v[:, :length].contiguous() if torch.is_tensor(v) and v.dim() >= 2 and v.shape[1] == width else v
                for k, v in part.items()
            }
    return part


def _loss_items(part: dict[str, Any]) -> int:
    """How many terms a mean-reduced loss averages over: labelled positions, else rows (QA, start/end per row)."""
    labels = part.get("labels")
    if labels is not None:
        return int((labels != -100).sum())
    return int(next(v.shape[0] for v in part.values() if torch.is_tensor(v) and v.dim() > 0))


def _weighted_sum(terms: list[tuple[Optional[torch.Tensor], float]]) -> Optional[torch.Tensor]:
    """sum(w * t) over the tensors present, written into the first one present (no new gradient buffer)."""
    present = [(t, w) for t, w in terms if t is not None]
    if not present:
        return None
    out, w0 = present[0]
    if w0 != 1.0:
        out.mul_(w0)
    for t, w in present[1:]:
        out.add_(t, alpha=w)
    return out


def _all_reduce_mean(tensors: list[torch.Tensor], world_size: int, bucket_bytes: int = 25 * 2**20) -> None:
    """Average tensors across processes in place, in flat buckets of about `bucket_bytes` (gloo has no AVG op)."""
    bucket: list[torch.Tensor] = []

    def flush():
        if not bucket:
            return
        in_place = len(bucket) == 1 and bucket[0].is_contiguous()
        flat = bucket[0].view(-1) if in_place else torch.cat([t.reshape(-1) for t in bucket])
        dist.all_reduce(flat)
        flat.div_(world_size)
        if not in_place:
            offset = 0
            for t in bucket:
                t.copy_(flat[offset : offset + t.numel()].view_as(t))
                offset += t.numel()
        bucket.clear()

    size = 0
    for t in tensors:
        if bucket and (t.dtype != bucket[0].dtype or t.device != bucket[0].device or size + t.numel() * t.element_size() > bucket_bytes):
            flush()
            size = 0
        bucket.append(t)
        size += t.numel() * t.element_size()
    flush()
