"""Length-grouped sampling that stays correct under DDP.

Batches of similar length waste little on padding (sentence-level inputs vary from 5 to
100+ tokens). The sampler subclasses DistributedSampler so Lightning keeps it as it is
under DDP instead of wrapping it, and calls ``set_epoch`` on it every epoch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


class LengthGroupedSampler(DistributedSampler):
    """Yields this rank's indices so that consecutive ``batch_size`` share similar lengths.

    Order: a seeded permutation of all indices (``seed + epoch``) is cut into mega-batches
    of ``batch_size * num_replicas * group_factor``; each mega-batch is sorted by length,
    cut into global batches of ``batch_size * num_replicas``, and global batches are
    shuffled. Rank r takes every ``num_replicas``-th index starting at r, so each rank's
    batch comes from one global batch. Without shuffle the order is by length, longest
    first (for generation), deterministic. As in DistributedSampler, the index list is
    padded by repetition to a multiple of ``num_replicas``; evaluation de-duplicates by id.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        group_factor: int = 50,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if num_replicas is None:
            num_replicas = (
                dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
            )
        if rank is None:
            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        self.lengths = list(lengths)
        super().__init__(
            dataset=self.lengths,  # only len() is used
            num_replicas=num_replicas,
            rank=rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=False,
        )
        self.batch_size = batch_size
        self.group_factor = group_factor
        self._skip_once = 0

    def resume_after(self, num_indices: int) -> None:
        """Make the next iteration (only) leave out this rank's first ``num_indices`` indices.

        Mid-epoch resume: the order is a function of ``seed + epoch``, so leaving out the
        indices of the batches already trained on continues the epoch exactly, without
        collating those batches again. Every rank skips the same count, which drops the
        same leading global batches everywhere. ``len()`` stays the full epoch's, since
        Lightning counts the restarted epoch's batches from its restored progress.
        """
        self._skip_once = num_indices

    def _global_order(self) -> list[int]:
        n = len(self.lengths)
        if not self.shuffle:
            return sorted(range(n), key=lambda i: (-self.lengths[i], i))
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        permutation = torch.randperm(n, generator=generator).tolist()
        global_batch = self.batch_size * self.num_replicas
        mega = global_batch * self.group_factor
        batches: list[list[int]] = []
        for start in range(0, n, mega):
            chunk = sorted(permutation[start : start + mega], key=lambda i: -self.lengths[i])
            batches += [chunk[i : i + global_batch] for i in range(0, len(chunk), global_batch)]
        # Only the very last batch can be short; it stays last so that every other batch
        # stays aligned to batch_size boundaries (and so to one rank's batch).
        tail = batches.pop() if batches and len(batches[-1]) < global_batch else []
        order = torch.randperm(len(batches), generator=generator).tolist()
        return [index for b in order for index in batches[b]] + tail

    def __iter__(self) -> Iterator[int]:
        order = self._global_order()
        total = math.ceil(len(order) / self.num_replicas) * self.num_replicas
        if len(order) < total:
            order += (order * math.ceil(total / max(len(order), 1)))[: total - len(order)]
        skip, self._skip_once = self._skip_once, 0
        return iter(order[self.rank : total : self.num_replicas][skip:])

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.num_replicas)
