"""The three surgery sources of `GradientMixTrainer`, one section each, and the helpers only they use.

- oracle_pool (the authors'): after the mixed batch's backward pass, one language drawn at random, an extra
  forward+backward on its oracle batch, and `.grad` projected against that gradient.
- batch_split: a language batch (source rows + rows of one target) passed as two parts; the source part's
  gradient is projected against the target part's, then both are summed. No extra pass.
- pairwise: full PCGrad over the languages of a batch, a pass per language; the cost the paper avoids.

The projection itself is `hf_mixtrain.surgery` (the math, stated once); this module decides what is projected
against what. Each source writes one record per surgery into `surgery_history`.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch
import torch.distributed as dist

from .batches import LANG_ID, all_reduce_mean, loss_items, select_rows, weighted_sum
from .history import surgery_event
from .surgery import gram_matrix, pcgrad_coefficients, project_conflicting


class SurgerySourcesMixin:
    """Mixed into `GradientMixTrainer` before `Trainer`: `super().training_step` here is the stock step."""

    # ---- surgery source 1, oracle_pool (the authors): an extra pass on one drawn language's oracle batch -----------

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

    def _oracle_pool_surgery(self, model, micro: int) -> bool:
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
        with torch.random.fork_rng(**rng_fork_devices(self.args.device)):
            super().training_step(model, oracle_inputs)
        oracle = [p.grad for p in params]
        for p, g in zip(params, grads):
            p.grad = g
        if global_sync:
            all_reduce_mean([o for o in oracle if o is not None], dist.get_world_size())
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

    # ---- surgery source 2, batch_split: the batch's target rows are the oracle, no extra pass --------------------

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
                f"{'only source' if bool(is_source.all()) else 'only target'} rows. Every language batch holds both: "
                "check the lang_id column (the source's id is language_ids[source_language]) and "
                "language_batch_target_rows (below the batch size)."
            )
        target_ids = ids[~is_source].unique().tolist()
        parts = [select_rows(inputs, ~is_source), select_rows(inputs, is_source)]
        if min(loss_items(part) for part in parts) == 0:
            # A part without a labelled position has no loss (its mean is 0/0) and adds nothing to the batch's
            # gradient: the plain step is then exactly the other part's gradient, with nothing to project.
            return super().training_step(model, inputs)
        running, (g_t, g_s), losses = self._part_gradients(model, parts)
        # Both parts come weighted by their share of the batch's loss terms, w_s g_s and w_t g_t. The projection
        # is invariant to those positive scales, and unprojected their sum is the mixed batch's gradient.
        record = project_conflicting(g_s, g_t, scope=args.surgery_scope)
        for p, r, s, t in zip(self._surgery_params, running, g_s, g_t):
            p.grad = weighted_sum([(s, 1.0), (t, 1.0), (r, 1.0)])
        names = [self._language_names.get(i, str(i)) for i in target_ids]
        self.surgery_history.append(
            self._event(micro, "+".join(names), (~is_source).sum(), record.dot, record.cosine, record.num_projected)
        )
        return sum(losses)

    # ---- surgery source 3, pairwise: full PCGrad over the batch's languages, for comparison ---------------------

    def _pairwise_step(self, model, inputs, micro: int) -> torch.Tensor:
        """Full PCGrad over the languages in the micro-batch: a forward+backward per language, pairs projected."""
        ids, rng = self._row_languages(inputs, micro)
        present = [] if ids is None else [(lang, select_rows(inputs, ids == lang)) for lang in ids.unique().tolist()]
        # A language without a labelled position in this batch has no loss (0/0) and no gradient to de-conflict.
        present = [(lang, part) for lang, part in present if loss_items(part) > 0]
        langs, parts = [lang for lang, _ in present], [part for _, part in present]
        if len(langs) < 2:
            return super().training_step(model, inputs)
        # PCGrad acts on the weighted gradients w_l g_l: unprojected, their sum is the mixed batch's gradient.
        running, grads, losses = self._part_gradients(model, parts)
        gram = gram_matrix(grads)
        coefficients, made = pcgrad_coefficients(gram, [rng.permutation(len(langs)).tolist() for _ in langs])
        for i, p in enumerate(self._surgery_params):
            p.grad = weighted_sum([(g[i], c) for g, c in zip(grads, coefficients)] + [(running[i], 1.0)])
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
        lang_ids = inputs.get(LANG_ID)
        if lang_ids is None:
            raise ValueError(f"surgery_source={self.args.surgery_source!r} needs a lang_id column in the training rows.")
        rng = np.random.default_rng([self.args.seed, self.state.global_step, micro])
        if rng.random() >= self.args.surgery_prob:
            return None, rng
        return torch.as_tensor(lang_ids), rng

    def _event(self, micro: int, lang: str, rows, dot: float, cosine: float, num_projected: int) -> dict:
        return surgery_event(self.state.global_step, micro, lang, rows, dot, cosine, num_projected)

    def _part_gradients(self, model, parts: list) -> tuple:
        """Forward+backward of each part of a micro-batch on its own, each into fresh `.grad` tensors.

        Each part's loss (the mean over its own rows) is weighted by the part's share of the batch's loss terms,
        so the weighted losses and gradients add up to the whole batch's. Returns the `.grad` tensors held before
        (the running sum of earlier micro-batches, for the caller to add back), and each part's weighted
        gradient and weighted loss.
        """
        params = self._surgery_params
        running = [p.grad for p in params]
        counts = [loss_items(part) for part in parts]
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


def rng_fork_devices(device: torch.device) -> dict:
    """`torch.random.fork_rng` arguments that fork the CPU stream and `device`'s own (CUDA, XPU, MPS, ...)."""
    if device.type == "cpu":
        return {"devices": []}
    return {"devices": [device], "device_type": device.type}
