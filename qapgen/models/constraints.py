"""Prefix-constrained decoding: answers that are token sequences of their own context."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class ContextSpanConstraint:
    """``prefix_allowed_tokens_fn`` for transformers' ``generate``: an answer may only
    continue as some occurrence of its prefix continues in the row's context tokens, and
    may end (``</s>``) once it holds at least one token.

    Args:
        context_ids: per generate row, the context token ids (padding and special tokens
            excluded; they are never allowed as answer tokens).
        eos_token_id / pad_token_id: ``</s>`` and padding.
        decoder_start_length: tokens ``generate`` puts before the answer (the start token).
    """

    def __init__(
        self,
        context_ids: Sequence[Sequence[int]],
        *,
        eos_token_id: int,
        pad_token_id: int,
        decoder_start_length: int = 1,
    ) -> None:
        self.contexts = [list(ids) for ids in context_ids]
        self.eos_token_id = eos_token_id
        self.pad_token_id = pad_token_id
        self.start_length = decoder_start_length

    @classmethod
    def from_input_ids(
        cls,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        special_ids: Sequence[int],
        *,
        eos_token_id: int,
        pad_token_id: int,
    ) -> ContextSpanConstraint:
        """From encoder inputs (B, N): each row's attended, non-special tokens."""
        special = set(special_ids)
        rows = [
            [t for t, m in zip(ids, mask, strict=True) if m and t not in special]
            for ids, mask in zip(input_ids.tolist(), attention_mask.tolist(), strict=True)
        ]
        return cls(rows, eos_token_id=eos_token_id, pad_token_id=pad_token_id)

    def allowed_tokens(self, row: int, prefix: Sequence[int]) -> list[int]:
        """Tokens that may follow ``prefix`` (the answer so far, no start token)."""
        if self.eos_token_id in prefix:
            # finished hypothesis: generate pads it; any token keeps the processor happy
            return [self.pad_token_id, self.eos_token_id]
        context = self.contexts[row]
        width = len(prefix)
        starts = [
            start
            for start in range(len(context) - width + 1)
            if context[start : start + width] == list(prefix)
        ]
        following = {context[start + width] for start in starts if start + width < len(context)}
        if width and starts:
            following.add(self.eos_token_id)
        # An empty context can only end.
        return sorted(following) or [self.eos_token_id]

    def __call__(self, batch_id: int, input_ids: torch.Tensor) -> list[int]:
        return self.allowed_tokens(batch_id, input_ids[self.start_length :].tolist())
