"""Padding to length buckets: the width a batch feature is padded to when the DataModule
pads to buckets (``pad_to_buckets``), so that a compiled training step sees a bounded set
of shapes."""

from __future__ import annotations

from collections.abc import Sequence


def bucket_width(length: int, buckets: Sequence[int] | None, limit: int | None = None) -> int:
    """The width a batch feature whose longest row has ``length`` tokens is padded to.

    The smallest bucket that holds ``length``, never more than ``limit`` (the feature's
    truncation limit, itself the last bucket: nothing is longer, and IGJA-QAP's gate is
    sized by it). Without buckets, or when ``length`` exceeds every bucket, ``length``.
    """
    if not buckets:
        return length
    fitting = [b for b in sorted(buckets) if b >= length]
    width = fitting[0] if fitting else length
    return max(length, min(width, limit)) if limit is not None else width
