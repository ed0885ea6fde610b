"""Token-sequence helpers every decoder of the zoo shares: teacher-forcing inputs from
labels, and the lengths and padding of generated sequences."""

from __future__ import annotations

import torch

from qapgen.data.features import IGNORE_INDEX


def shift_right(labels: torch.Tensor, start_token_id: int, pad_token_id: int) -> torch.Tensor:
    """Teacher-forcing decoder inputs: [start, y_1 .. y_{T-1}], with -100 padding replaced by pad."""
    inputs = labels.new_full(labels.shape, pad_token_id)
    inputs[:, 0] = start_token_id
    inputs[:, 1:] = labels[:, :-1]
    return inputs.masked_fill(inputs == IGNORE_INDEX, pad_token_id)


def label_lengths(token_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Per row, the number of tokens up to and including the first `</s>` (all tokens if none). (B,)"""
    is_eos = token_ids == eos_token_id
    first_eos = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), token_ids.size(1) - 1)
    return first_eos + 1


def strip_start_token(
    sequences: torch.Tensor, eos_token_id: int, pad_token_id: int
) -> torch.Tensor:
    """Drop the decoder start token and set everything after the first `</s>` to pad."""
    tokens = sequences[:, 1:]
    positions = torch.arange(tokens.size(1), device=tokens.device)
    keep = positions[None, :] < label_lengths(tokens, eos_token_id)[:, None]
    return tokens.masked_fill(~keep, pad_token_id)
