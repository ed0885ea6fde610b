"""Two right-padded label batches packed row by row into one decoder sequence.

IGJA-QAP decodes each example's answer and question in one call of the shared decoder. Row
b of the packed batch holds its answer's tokens, then its question's, then padding, so the
decoder runs over max_b(answer_b + question_b) positions rather than the padded answer width
plus the padded question width: answers are short with a long tail, and most of their
padded width would otherwise be decoded for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qapgen.data.features import IGNORE_INDEX


def packed_width(first_labels: torch.Tensor, second_labels: torch.Tensor) -> int:
    """The longest row of the two segments together, read on the host: for the data
    loader's side of a step (reading a device tensor here would be a sync)."""
    lengths = (first_labels != IGNORE_INDEX).sum(1) + (second_labels != IGNORE_INDEX).sum(1)
    return int(lengths.max())


@dataclass
class PackedSegments:
    """Where each token of two right-padded segment batches sits in the packed rows."""

    first_lengths: torch.Tensor  # (B,) real tokens of each row's first segment
    segment: torch.Tensor  # (B, W): 0 first segment, 1 second, 2 padding
    first_width: int  # L, the first batch's padded width
    second_width: int  # M

    @classmethod
    def of(
        cls, first_labels: torch.Tensor, second_labels: torch.Tensor, width: int | None = None
    ) -> PackedSegments:
        """Labels (B, L) and (B, M), -100 on padding at the end of each row. ``width``
        must hold every row's two segments (see `packed_width`); None takes L + M."""
        first = (first_labels != IGNORE_INDEX).sum(1)
        second = (second_labels != IGNORE_INDEX).sum(1)
        width = first_labels.size(1) + second_labels.size(1) if width is None else width
        position = torch.arange(width, device=first_labels.device)[None, :]
        segment = (position >= first[:, None]).long() + (
            position >= (first + second)[:, None]
        ).long()
        return cls(first, segment, first_labels.size(1), second_labels.size(1))

    @property
    def width(self) -> int:
        return self.segment.size(1)

    def _second_positions(self) -> torch.Tensor:
        """(B, M): the packed position of each second-segment slot (padding slots clamped)."""
        slots = torch.arange(self.second_width, device=self.segment.device)[None, :]
        return (self.first_lengths[:, None] + slots).clamp(max=self.width - 1)

    def pack(self, first: torch.Tensor, second: torch.Tensor, pad: int) -> torch.Tensor:
        """(B, L) and (B, M) token ids -> (B, W)."""
        position = torch.arange(self.width, device=first.device)[None, :]
        from_first = first.gather(
            1, position.clamp(max=self.first_width - 1).expand_as(self.segment)
        )
        from_second = second.gather(
            1, (position - self.first_lengths[:, None]).clamp(0, self.second_width - 1)
        )
        packed = torch.where(self.segment == 0, from_first, from_second)
        return packed.masked_fill(self.segment == 2, pad)

    def first_of(self, packed: torch.Tensor) -> torch.Tensor:
        """(B, W, ...) -> the first segment's slots (B, L, ...); padding slots hold other
        positions' values, which the labels' -100 mask out."""
        index = torch.arange(self.first_width, device=packed.device).clamp(max=self.width - 1)
        return packed[:, index]

    def second_of(self, packed: torch.Tensor) -> torch.Tensor:
        """(B, W, ...) -> the second segment's slots (B, M, ...), as `first_of`."""
        index = self._second_positions()
        index = index.view(*index.shape, *([1] * (packed.dim() - 2)))
        return packed.gather(1, index.expand(-1, -1, *packed.shape[2:]))
