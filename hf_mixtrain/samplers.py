"""Language-aware batches: every batch holds source-language rows plus rows of ONE target language."""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
from transformers.trainer_utils import seed_worker

from .batches import LANG_ID

logger = logging.getLogger(__name__)


class LanguageBatchSampler(torch.utils.data.Sampler):
    """Yield batches of `batch_size - target_rows` source rows plus `target_rows` rows of one target language.

    An epoch walks once through a seeded permutation of the source rows. For each batch one target language is
    drawn (uniformly by default; with `temperature=T`, with probability proportional to pool size ** (1/T), so
    T=1 follows the pool sizes and a large T approaches uniform) and its rows are taken from a seeded cycle over
    that language's pool, reshuffled each time it is used up, so few-shot pools are reused as often as the epoch
    requires. A batch never repeats a row: a pool smaller than `target_rows` contributes all its rows.

    The batches depend only on `(seed, epoch)`, so every process builds the same list (accelerate hands them out
    round-robin under DDP) and a resumed run that skips the first batches of an epoch continues the same order.

    Args:
        lang_ids: the language id of every row of the dataset, in row order.
        source_id: the source language's id; every other id is a target language.
        batch_size: rows per batch.
        target_rows: target-language rows per batch (1 <= target_rows < batch_size).
        seed: the base seed.
        temperature: None for uniform choice over target languages, else the sampling temperature over pool sizes.
        drop_last: drop a last batch with fewer source rows than the others.
    """

    def __init__(
        self,
        lang_ids: Sequence[int],
        source_id: int,
        batch_size: int,
        target_rows: int,
        seed: int = 0,
        temperature: Optional[float] = None,
        drop_last: bool = False,
    ):
        lang_ids = np.asarray(lang_ids, dtype=np.int64)
        if not 1 <= target_rows < batch_size:
            raise ValueError(
                f"target_rows={target_rows} must be at least 1 and below batch_size={batch_size}, so every batch "
                "holds source rows and target rows."
            )
        if temperature is not None and temperature <= 0:
            raise ValueError(f"temperature={temperature} must be positive (or None for uniform choice).")
        self.source_rows = np.flatnonzero(lang_ids == source_id)
        if len(self.source_rows) == 0:
            raise ValueError(f"No row has the source language id {source_id}; language batches need source rows.")
        self.target_ids = sorted(int(i) for i in np.unique(lang_ids) if i != source_id)
        if not self.target_ids:
            raise ValueError("Only source-language rows in the dataset; language batches need target-language rows.")
        self.target_pools = {i: np.flatnonzero(lang_ids == i) for i in self.target_ids}
        sizes = np.array([len(self.target_pools[i]) for i in self.target_ids], dtype=np.float64)
        weights = np.ones_like(sizes) if temperature is None else sizes ** (1.0 / temperature)
        self.probs = weights / weights.sum()
        self.batch_size, self.target_rows, self.seed, self.drop_last = batch_size, target_rows, seed, drop_last
        self.source_per_batch = batch_size - target_rows
        self.epoch = 0
        small = [i for i in self.target_ids if len(self.target_pools[i]) < target_rows]
        if small:
            logger.info(
                "%d target language(s) have fewer than %d rows; their batches carry all their rows (ids %s).",
                len(small),
                target_rows,
                small,
            )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.source_rows) / self.source_per_batch
        return math.floor(n) if self.drop_last else math.ceil(n)

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        source = rng.permutation(self.source_rows)
        cycles = {i: (np.empty(0, dtype=np.int64), 0) for i in self.target_ids}
        for b in range(len(self)):
            batch = source[b * self.source_per_batch : (b + 1) * self.source_per_batch].tolist()
            lang = self.target_ids[int(rng.choice(len(self.target_ids), p=self.probs))]
            pool = self.target_pools[lang]
            take = min(self.target_rows, len(pool))
            order, pos = cycles[lang]
            if pos + take > len(order):
                # The old cycle's unused rows come first; in the new cycle those rows go last, so every row is
                # used once per cycle and none twice within a batch.
                leftover = order[pos:]
                fresh = rng.permutation(pool)
                late = np.isin(fresh, leftover)
                order, pos = np.concatenate([leftover, fresh[~late], fresh[late]]), 0
            picked = order[pos : pos + take].tolist()
            cycles[lang] = (order, pos + take)
            yield batch + picked


def language_batch_loader(dataset, args, collate_fn, batch_size: int, source_id: int):
    """A DataLoader over `dataset` (with a `lang_id` column) in language batches, set up from `args`
    (MixTrainingArguments), and its sampler. The target rows per batch default to the target share of the rows."""
    if LANG_ID not in dataset.column_names:
        raise ValueError("language_batches needs a lang_id column in train_dataset (each row's language id).")
    lang_ids = np.asarray(dataset[LANG_ID])
    target_rows = args.language_batch_target_rows
    if target_rows is None:
        share = float(np.mean(lang_ids != source_id))
        target_rows = int(min(max(round(share * batch_size), 1), batch_size - 1))
    sampler = LanguageBatchSampler(
        lang_ids,
        source_id,
        batch_size=batch_size,
        target_rows=target_rows,
        seed=args.data_seed if args.data_seed is not None else args.seed,
        temperature=args.language_temperature,
        drop_last=args.dataloader_drop_last,
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate_fn,
        num_workers=args.dataloader_num_workers,
        pin_memory=args.dataloader_pin_memory,
        persistent_workers=args.dataloader_persistent_workers and args.dataloader_num_workers > 0,
        worker_init_fn=partial(seed_worker, num_workers=args.dataloader_num_workers, rank=args.process_index),
    )
    return loader, sampler
