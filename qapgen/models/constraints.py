"""Prefix-constrained decoding: answers that are token sequences of their own context."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class ContextSpanConstraint:
    """``prefix_allowed_tokens_fn`` for transformers' ``generate``: an answer may only
    continue as some occurrence of its prefix continues in the row's context tokens, and
    may end once it holds at least one token.

    Args:
        context_ids: per generate row, the context token ids (padding and special tokens
            excluded; they are never allowed as answer tokens).
        eos_token_id / pad_token_id: ``</s>`` and padding.
        decoder_start_length: tokens ``generate`` puts before the answer (the start token).
        answer_end_token_id: the token that ends the answer; ``</s>`` unless the sequence
            goes on after the answer (T5-E2E's separator, then its question).
        vocab_size: with an ``answer_end_token_id`` other than ``</s>``, the width of the
            logits: after the answer has ended every token is allowed again.
    """

    def __init__(
        self,
        context_ids: Sequence[Sequence[int]],
        *,
        eos_token_id: int,
        pad_token_id: int,
        decoder_start_length: int = 1,
        answer_end_token_id: int | None = None,
        vocab_size: int | None = None,
    ) -> None:
        end = eos_token_id if answer_end_token_id is None else answer_end_token_id
        if end != eos_token_id and vocab_size is None:
            raise ValueError("a constraint whose answer ends before </s> needs the vocab_size")
        self.contexts = [list(ids) for ids in context_ids]
        self.eos_token_id = eos_token_id
        self.pad_token_id = pad_token_id
        self.start_length = decoder_start_length
        self.answer_end_token_id = end
        self.vocab_size = vocab_size

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

    def for_rows(self, rows: Sequence[int]) -> ContextSpanConstraint:
        """The same constraint for generate rows that repeat or reorder these (row i of the
        result is row ``rows[i]`` here), as when each input is expanded to K samples."""
        return ContextSpanConstraint(
            [self.contexts[row] for row in rows],
            eos_token_id=self.eos_token_id,
            pad_token_id=self.pad_token_id,
            decoder_start_length=self.start_length,
            answer_end_token_id=self.answer_end_token_id,
            vocab_size=self.vocab_size,
        )

    def allowed_tokens(self, row: int, prefix: Sequence[int]) -> list[int]:
        """Tokens that may follow ``prefix`` (the sequence so far, no start token)."""
        if self.eos_token_id in prefix:
            # finished hypothesis: generate pads it; any token keeps the processor happy
            return [self.pad_token_id, self.eos_token_id]
        if self.answer_end_token_id in prefix:
            # the answer is complete; what follows it (a question) is not constrained
            return list(range(self.vocab_size))
        context = self.contexts[row]
        width = len(prefix)
        starts = [
            start
            for start in range(len(context) - width + 1)
            if context[start : start + width] == list(prefix)
        ]
        following = {context[start + width] for start in starts if start + width < len(context)}
        if width and starts:
            following.add(self.answer_end_token_id)
        # An empty context can only end.
        return sorted(following) or [self.answer_end_token_id]

    def __call__(self, batch_id: int, input_ids: torch.Tensor) -> list[int]:
        return self.allowed_tokens(batch_id, input_ids[self.start_length :].tolist())
