"""A training DataLoader that Lightning can resume mid-epoch.

Lightning saves ``state_dict()`` of every training loader that has ``state_dict`` /
``load_state_dict`` in the checkpoint (``loops.fit_loop.state_dict.combined_loader``) and,
on resume, calls ``load_state_dict`` before the restarted epoch's first batch. It counts the
restarted epoch's batches from its restored progress, so the loader must keep ``len()`` the
full epoch's and yield only the batches not trained on yet. A plain DataLoader restarts the
epoch from its first batch instead. (Lightning skips that load when the model reads
``trainer.estimated_stepping_batches``; ``qapgen.callbacks.TrainLoaderStateRestore`` does it.)

This is our own small implementation rather than torchdata's StatefulDataLoader: that one
mirrors private torch DataLoader internals (a risk with every torch release) and has had no
release since Feb 2025, while the sampler's order here is already a pure function of
``seed + epoch``, so a batch count is all the state there is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch.utils.data import DataLoader


class ResumableDataLoader(DataLoader):
    """A DataLoader whose state is the epoch and the number of batches it has yielded in it.

    The count is kept in the main process as batches are handed to the training loop, so
    batches that workers have prefetched but the loop has not taken are not counted. After
    ``load_state_dict`` the next iteration continues that epoch after the counted batches,
    and later iterations are full epochs. The sampler's order must be reproducible from its
    epoch (``LengthGroupedSampler``'s is): the skipped batches are left out through its
    ``resume_after`` without being collated; with another sampler they are collated and
    dropped. Resuming is exact when batch size and world size are those of the saved run
    (each rank counts its own batches; ranks step in lockstep, so the counts agree).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._epoch = self._sampler_epoch()
        self._batches = 0
        self._resume: tuple[int, int] | None = None

    def _sampler_epoch(self) -> int:
        return getattr(self.sampler, "epoch", 0)

    def state_dict(self) -> dict[str, int]:
        """The epoch and how many of its batches were yielded; a finished epoch is saved as
        the start of the next one."""
        if self._resume is not None:  # loaded, not iterated yet: still that position
            epoch, batches = self._resume
            return {"epoch": epoch, "batches": batches}
        if self._batches >= len(self):
            return {"epoch": self._epoch + 1, "batches": 0}
        return {"epoch": self._epoch, "batches": self._batches}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Make the next iteration continue ``state_dict``'s epoch after its counted batches."""
        epoch, batches = int(state_dict["epoch"]), int(state_dict["batches"])
        # Lightning sets the same epoch before iterating; this keeps the loader usable alone.
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)
        self._resume = (epoch, batches)

    def __iter__(self) -> Iterator[Any]:
        # A generator, so nothing below runs before the first batch is asked for: on resume
        # Lightning calls iter() before it calls set_epoch on the sampler, and workers would
        # otherwise read the sampler's order at iter() time, for the wrong epoch.
        epoch = self._sampler_epoch()
        resume, self._resume = self._resume, None
        skip = resume[1] if resume is not None and resume[0] == epoch else 0
        self._epoch, self._batches = epoch, skip
        drop = skip
        if skip and self.batch_size is not None and hasattr(self.sampler, "resume_after"):
            self.sampler.resume_after(skip * self.batch_size)
            drop = 0
        for batch in super().__iter__():
            if drop:
                drop -= 1
                continue
            self._batches += 1
            yield batch
