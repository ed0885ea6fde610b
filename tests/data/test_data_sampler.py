"""The length-grouped sampler: complete, deterministic, grouped, DDP-aware, and resumable
mid-epoch through ResumableDataLoader."""

from __future__ import annotations

import random

import pytest

from qapgen.data.resumable import ResumableDataLoader
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


# -- mid-epoch resume: ResumableDataLoader over the sampler --------------------------------


def resumable_loader(world=1, rank=0, *, epoch=0, collate_fn=list, **kwargs):
    sampler = LengthGroupedSampler(LENGTHS, 8, seed=0, num_replicas=world, rank=rank)
    sampler.set_epoch(epoch)
    return ResumableDataLoader(
        list(range(len(LENGTHS))), batch_size=8, sampler=sampler, collate_fn=collate_fn, **kwargs
    )


def take(loader, n):
    """The state after the training loop has taken ``n`` batches of an epoch."""
    iterator = iter(loader)
    for _ in range(n):
        next(iterator)
    return loader.state_dict()


@pytest.mark.parametrize("world", [1, 2])
@pytest.mark.parametrize("taken", [0, 1, 7, 12])
def test_loaded_state_yields_exactly_the_rest_of_the_epoch(world, taken):
    # 203 examples, batch 8: 26 batches on one rank; 13 a rank on two (102 indices each, so
    # the last is short), and taken=12 leaves just that short one.
    states = []
    for rank in range(world):
        uninterrupted = list(resumable_loader(world, rank, epoch=2))
        state = take(resumable_loader(world, rank, epoch=2), taken)
        states.append(state)
        resumed = resumable_loader(world, rank)  # a fresh process: epoch not set yet
        resumed.load_state_dict(state)
        assert list(resumed) == uninterrupted[taken:], rank
        assert len(resumed) == len(uninterrupted)  # Lightning counts from the full length
        # Later epochs are whole again.
        resumed.sampler.set_epoch(3)
        assert list(resumed) == list(resumable_loader(world, rank, epoch=3))
    assert all(state == {"epoch": 2, "batches": taken} for state in states)


def test_a_finished_epoch_resumes_at_the_next_epochs_start():
    loader = resumable_loader(epoch=4)
    list(loader)
    state = loader.state_dict()
    assert state == {"epoch": 5, "batches": 0}
    resumed = resumable_loader()
    resumed.load_state_dict(state)
    assert list(resumed) == list(resumable_loader(epoch=5))


def test_state_of_another_epoch_does_not_skip():
    # Lightning sets the sampler's epoch after load_state_dict; skipping applies only when
    # it is the saved epoch.
    resumed = resumable_loader()
    resumed.load_state_dict({"epoch": 1, "batches": 5})
    resumed.sampler.set_epoch(2)
    assert list(resumed) == list(resumable_loader(epoch=2))


def test_skipped_batches_are_not_collated():
    collated = []

    def collate(examples):
        collated.append(examples)
        return examples

    resumed = resumable_loader(collate_fn=collate)
    resumed.load_state_dict({"epoch": 0, "batches": 20})
    assert len(list(resumed)) == len(collated) == 26 - 20


def test_without_a_resumable_sampler_skipped_batches_are_dropped():
    def loader():
        return ResumableDataLoader(list(range(30)), batch_size=4, collate_fn=list)

    resumed = loader()
    resumed.load_state_dict(take(loader(), 3))
    assert list(resumed) == list(loader())[3:]


def test_worker_prefetching_does_not_count_as_taken():
    # Workers run ahead of the loop; the state counts only batches handed to it.
    loader = resumable_loader(num_workers=1, prefetch_factor=4)
    assert take(loader, 2) == {"epoch": 0, "batches": 2}
    resumed = resumable_loader(num_workers=1)
    resumed.load_state_dict({"epoch": 0, "batches": 2})
    assert list(resumed) == list(resumable_loader())[2:]


def test_a_second_resume_in_the_same_epoch_counts_from_the_epochs_start():
    # Preempted twice in one epoch: the second state must count the batches of both runs.
    first = resumable_loader()
    second = resumable_loader()
    second.load_state_dict(take(first, 5))
    assert second.state_dict() == {"epoch": 0, "batches": 5}  # loaded, not iterated yet
    third = resumable_loader()
    third.load_state_dict(take(second, 4))
    assert third.state_dict() == {"epoch": 0, "batches": 9}
    assert list(third) == list(resumable_loader())[9:]


def test_resume_after_skips_only_the_next_iteration():
    sampler = LengthGroupedSampler(LENGTHS, 8, seed=0)
    full = list(sampler)
    sampler.resume_after(10)
    assert list(sampler) == full[10:]
    assert list(sampler) == full


def test_the_order_is_read_at_the_first_batch_not_at_iter():
    # Lightning may call iter() before set_epoch / load_state_dict (always on resume); a
    # worker-backed iterator would otherwise have read the sampler's order already.
    loader = resumable_loader(num_workers=1)
    iterator = iter(loader)
    loader.load_state_dict({"epoch": 3, "batches": 2})
    assert list(iterator) == list(resumable_loader(epoch=3))[2:]
