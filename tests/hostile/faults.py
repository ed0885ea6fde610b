"""Environments a case can run in: a disk that fills at a given write.

Each function returns a ``fault`` for a ``Case``: called with the test's ``MonkeyPatch``
just before the command runs (after the case's files are built), it makes the chosen write
fail as a full disk does, with ENOSPC, after part of the data is on disk.
"""

from __future__ import annotations

import errno
import io
import os

import torch

NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


def disk_full_at_checkpoint_save(save_number: int = 1):
    """The ``save_number``-th ``torch.save`` writes half of its bytes, then the disk is full.
    Applied, it returns the count of saves so far (a one-item list)."""

    def apply(patch) -> list[int]:
        real_save = torch.save
        calls = [0]

        def save(obj, handle, *args, **kwargs):
            calls[0] += 1
            if calls[0] != save_number:
                return real_save(obj, handle, *args, **kwargs)
            buffer = io.BytesIO()
            real_save(obj, buffer)
            handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            raise NO_SPACE

        patch.setattr(torch, "save", save)
        return calls

    return apply


def disk_full_at_flush():
    """Every file's final flush to disk fails: nothing written atomically can complete."""

    def apply(patch) -> None:
        def fsync(descriptor):
            raise NO_SPACE

        patch.setattr(os, "fsync", fsync)

    return apply


def disk_full_at_parquet_write():
    """Writing a parquet file (the prepared-data cache) fails half-way."""

    def apply(patch) -> None:
        import pyarrow.parquet as pq

        def write_table(table, where, *args, **kwargs):
            with open(where, "wb") as handle:
                handle.write(b"PAR1")
            raise NO_SPACE

        patch.setattr(pq, "write_table", write_table)

    return apply


def disk_full_at(target: str):
    """The function at ``target`` (``module.name``, a writer taking (obj, path)) writes part
    of its file, then the disk is full."""

    def apply(patch) -> None:
        def write(obj, path, *args, **kwargs):
            with open(path, "wb") as handle:
                handle.write(b"\x00" * 64)
            raise NO_SPACE

        patch.setattr(target, write)

    return apply
