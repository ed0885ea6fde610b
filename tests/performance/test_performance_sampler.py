"""LengthGroupedSampler under data parallelism: every example once per epoch, and the ranks'
batches at step k together form the single-process batch k (so DDP at batch B per rank
trains on the same global batches as one process at batch B x ranks)."""

from __future__ import annotations

import random

import pytest

from qapgen.data.sampler import LengthGroupedSampler

_RNG = random.Random(7)
LENGTHS = [_RNG.randint(4, 128) for _ in range(250)]


def rank_batches(world, per_rank, *, shuffle=True, epoch=0, seed=5):
    """Each rank's batches, as the DataLoader cuts its indices."""
    batches = []
    for rank in range(world):
        sampler = LengthGroupedSampler(LENGTHS, per_rank, shuffle=shuffle, seed=seed,
                                       num_replicas=world, rank=rank)  # fmt: skip
        sampler.set_epoch(epoch)
        order = list(sampler)
        batches.append([order[i : i + per_rank] for i in range(0, len(order), per_rank)])
    return batches


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("epoch", [0, 3])
def test_global_batches_equal_single_process_batches(shuffle, epoch):
    (single,) = rank_batches(1, 16, shuffle=shuffle, epoch=epoch)
    ranks = rank_batches(4, 4, shuffle=shuffle, epoch=epoch)
    assert all(len(r) == len(single) for r in ranks)
    # 250 = 15 full global batches of 16 + 10; the last one is padded by repetition.
    for step, batch in enumerate(single[:-1]):
        assert sorted(i for r in ranks for i in r[step]) == sorted(batch), step
    # Ranks' last batches: its 10 examples plus 2 repeats of the epoch's first ones.
    last = [i for r in ranks for i in r[-1]]
    assert len(last) == 12 and set(single[-1]) <= set(last)
    assert set(last) - set(single[-1]) <= set(single[0])


@pytest.mark.parametrize("world", [1, 2, 3])
def test_every_example_once_per_epoch_besides_rank_padding(world):
    for epoch in range(2):
        seen = [i for r in rank_batches(world, 8, epoch=epoch) for b in r for i in b]
        padding = -len(LENGTHS) % world
        assert len(seen) == len(LENGTHS) + padding
        assert set(seen) == set(range(len(LENGTHS)))
        assert len(seen) - len(set(seen)) == padding
