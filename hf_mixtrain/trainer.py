"""`GradientMixTrainer`: the Hugging Face Trainer with stochastic gradient surgery across languages."""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.distributed as dist
from transformers import Trainer
from transformers.trainer_utils import get_last_checkpoint

from .arguments import MixTrainingArguments
from .batches import LANG_ID, all_reduce_mean
from .card_hooks import ModelCardMixin
from .history import read_history, summarize_surgery, write_history
from .samplers import LanguageBatchSampler, language_batch_loader
from .sources import SurgerySourcesMixin


class GradientMixTrainer(SurgerySourcesMixin, ModelCardMixin, Trainer):
    """A [`~transformers.Trainer`] for one-step mixed training with stochastic gradient surgery.

    With `args.gradient_surgery` (the default), after the ordinary backward pass of a (mixed-language) batch, the
    trainer picks one language uniformly from `oracle_datasets` (the source language included when
    `args.oracle_include_source`), computes that language's gradient `o` on an oracle batch drawn from its pool
    (a separate forward and backward, into one extra gradient-sized buffer), and projects the running gradient
    `g` in `.grad` with `g <- g - min(0, g.o / ||o||^2) o` (see `hf_mixtrain.surgery`). Clipping and the
    optimizer then see the projected gradient. Without it the step is the stock `Trainer` step (naive-mix).

    `training_step` picks one of the surgery sources, each with one home in `hf_mixtrain.sources`:
    `_oracle_pool_surgery` (the authors'), `_batch_split_step` and `_pairwise_step`.

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
        if args.gradient_surgery:
            self._check_surgery_setup()
        if args.uses_language_batches and args.source_language not in self.language_ids:
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
                f"gradient_surgery=True (gradient-mix) does not support {backend}: it partitions or owns the gradients, so `.grad` "
                "does not hold the full gradient that the surgery projects. Supported: a single device, DataParallel, "
                "or DDP via `accelerate launch` / `torchrun` (multi-GPU or multi-CPU), with fp16/bf16 and gradient "
                "accumulation. Remove the DeepSpeed/FSDP config, or set gradient_surgery=False (naive-mix)."
            )
        if args.surgery_source in ("batch_split", "pairwise"):
            return  # the batch is its own source of gradients: no oracle pools
        if not self.oracle_datasets:
            raise ValueError(
                "gradient_surgery=True with surgery_source='oracle_pool' needs oracle_datasets={language: tokenised dataset}: the per-language pools "
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
        if LANG_ID not in self._signature_columns:
            self._signature_columns.append(LANG_ID)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # Models with **kwargs would swallow lang_id silently; no model takes it, so it never reaches forward.
        inputs.pop(LANG_ID, None)
        out = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        if self._loss_weight == 1.0:
            return out
        # Weighting the loss, not the gradient afterwards, saves a pass over every gradient tensor.
        return (out[0] * self._loss_weight, *out[1:]) if return_outputs else out * self._loss_weight

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs.pop(LANG_ID, None)
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)

    @property
    def _surgery_params(self) -> list[torch.nn.Parameter]:
        # Only trainable parameters take part (frozen embeddings, PEFT/LoRA base weights stay out).
        if self._params is None:
            self._params = [p for p in self.model.parameters() if p.requires_grad]
        return self._params

    @property
    def _distributed(self) -> bool:
        return self.accelerator.num_processes > 1 and dist.is_available() and dist.is_initialized()

    # ---- the step ------------------------------------------------------------------------------------------

    def training_step(self, model, inputs, num_items_in_batch=None):
        if not self.args.gradient_surgery:
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
                    synced = self._oracle_pool_surgery(model, micro) or synced
            if last_micro and not synced:
                self._all_reduce_grads()
        return loss

    def get_train_dataloader(self):
        if not self.args.uses_language_batches:
            return super().get_train_dataloader()
        if self.train_dataset is None:
            raise ValueError("Trainer: training requires a train_dataset.")
        dataset = self._remove_unused_columns(self.train_dataset, description="training")
        loader, self._language_sampler = language_batch_loader(
            dataset, self.args, self.data_collator, self._train_batch_size, self.language_ids[self.args.source_language]
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
        all_reduce_mean(grads, dist.get_world_size())

    # ---- logging, checkpoints, resume ----------------------------------------------------------------------

    def log(self, logs: dict[str, float], start_time: Optional[float] = None) -> None:
        if "loss" in logs and self.args.gradient_surgery:
            logs.update(summarize_surgery(self.surgery_history[self._logged_events :]))
            self._logged_events = len(self.surgery_history)
        super().log(logs, start_time)

    def save_surgery_history(self, output_dir: Optional[str] = None) -> Optional[str]:
        """Write `surgery_history.jsonl` (one JSON object per surgery) atomically; main process only."""
        if not self.args.should_save:
            return None
        return write_history(output_dir or self.args.output_dir, self.surgery_history)

    def train(self, resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None, **kwargs):
        if resume_from_checkpoint is True:
            resume_from_checkpoint = get_last_checkpoint(self.args.output_dir)
            if resume_from_checkpoint is None:
                raise ValueError(f"No valid checkpoint found in output directory ({self.args.output_dir})")
        self.surgery_history = read_history(resume_from_checkpoint if isinstance(resume_from_checkpoint, str) else None)
        self._logged_events = len(self.surgery_history)
        self._micro_step = 0
        self._params = None
        return super().train(
            resume_from_checkpoint=resume_from_checkpoint, trial=trial, ignore_keys_for_eval=ignore_keys_for_eval, **kwargs
        )

    def save_model(self, output_dir: Optional[str] = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call=_internal_call)
        # Every saved model carries its surgery history (checkpoints included), which resume reads back.
        if self.args.gradient_surgery:
            self.save_surgery_history(output_dir or self.args.output_dir)
