"""`ModelCardMixin`: the Trainer hooks that write hf-mixtrain's card next to every saved model and before a push.

Kept apart from the training step, as trl keeps its card code in a base class: `GradientMixTrainer` inherits it,
and any other `Trainer` subclass can too.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from typing import Optional

from .files import write_text
from .modelcard import CARD_NAME, CARD_TASKS, ModelCardInfo, build_model_card, labels_from_config

logger = logging.getLogger(__name__)


class ModelCardMixin:
    """Mix into a `transformers.Trainer` subclass (before `Trainer`) to write `card_info`'s multilingual card."""

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
        if info.labels is None and CARD_TASKS[info.task].labelled:
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
        card = self.build_model_card(**changes)
        return write_text(os.path.join(output_dir or self.args.output_dir, CARD_NAME), str(card))

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
            changes["tags"] = _merged(info.tags, tags)
        if dataset:
            changes["datasets"] = _merged(info.datasets, dataset)
        return self.save_model_card(self.args.output_dir, **changes)

    def save_model(self, output_dir: Optional[str] = None, _internal_call: bool = False) -> None:
        super().save_model(output_dir, _internal_call=_internal_call)
        # Every saved model carries its card, checkpoints included: `_save_checkpoint` saves through here before
        # `_push_from_checkpoint` uploads the folder.
        if self.card_info is not None and self.args.should_save:
            self.save_model_card(output_dir or self.args.output_dir)

    def _push_from_checkpoint(self, checkpoint_folder: str) -> None:
        # The stock push during training uploads `output_dir` (the checkpoint's weights copied there) without
        # writing a card to it: write ours first, so the repository shows a card from the first push.
        if self.card_info is not None and self.is_world_process_zero():
            self.save_model_card(self.args.output_dir)
        super()._push_from_checkpoint(checkpoint_folder)


def _merged(existing, extra) -> list[str]:
    extra = [extra] if isinstance(extra, str) else list(extra)
    return list(existing) + [item for item in extra if item not in existing]
