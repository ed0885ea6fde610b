"""The length-grouped sampler: complete, deterministic, grouped, DDP-aware."""

from __future__ import annotations

import random

from qapgen.data.sampler import LengthGroupedSampler

_RNG = random.Random(0)
LENGTHS = [_RNG.randint(5, 120) for _ in range(203)]


def test_each_index_once_per_epoch_on_one_process():
    sampler = LengthGroupedSampler(LENGTHS, batch_size=8, seed=0)
    assert sorted(sampler) == list(range(len(LENGTHS)))


def test_ranks_cover_every_index_and_pad_by_repetition():
    world = 4
    samplers = [
        LengthGroupedSampler(LENGTHS, 8, seed=3, num_replicas=world, rank=r) for r in range(world)
    ]
    seen = [i for s in samplers for i in s]
    assert len(seen) == 4 * 51  # 203 padded to 204
    assert set(seen) == set(range(len(LENGTHS)))
    assert all(len(list(s)) == len(s) == 51 for s in samplers)


def test_epoch_and_seed_change_the_order_deterministically():
    sampler = LengthGroupedSampler(LENGTHS, 8, seed=0)
    first = list(sampler)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert list(LengthGroupedSampler(LENGTHS, 8, seed=1)) != first


def test_batches_are_grouped_by_length():
    sampler = LengthGroupedSampler(LENGTHS, 8, seed=0, group_factor=50)
    order = list(sampler)
    batches = [order[i : i + 8] for i in range(0, len(order), 8)]
    spread = sum(max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in batches)
    shuffled = list(range(len(LENGTHS)))
    random.Random(1).shuffle(shuffled)
    random_batches = [shuffled[i : i + 8] for i in range(0, len(shuffled), 8)]
    random_spread = sum(
        max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in random_batches
    )
    assert spread < random_spread / 5


def test_without_shuffle_longest_first():
    order = list(LengthGroupedSampler(LENGTHS, 8, shuffle=False))
    assert [LENGTHS[i] for i in order] == sorted(LENGTHS, reverse=True)
