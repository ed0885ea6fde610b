"""Extractive answers for the span baselines (OneStop, Info-QAP): the T5 states they read,
span heads, span loss, and decoding to text.

Positions are token indices into the tokenized context (the DataModule's ``AnswerSpan``), end
inclusive. Position 0 is the context's first token and a valid start; ``-100`` (the loss's
ignore index) marks an example whose answer is not a span (a free-form CoQA answer, or one cut
off by truncation): such examples are left out of the span loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import T5ForConditionalGeneration

from qapgen.data.features import IGNORE_INDEX
from qapgen.models.backbone import vocabulary_logits
from qapgen.models.sequences import shift_right


@dataclass
class TeacherForcedPass:
    encoder_states: torch.Tensor  # (B, N, d)
    decoder_states: torch.Tensor  # (B, T, d): the final decoder outputs the LM head reads
    loss: torch.Tensor  # mean token cross-entropy of the labels


def teacher_forced_pass(
    backbone: T5ForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    start_token_id: int,
    *,
    inputs_embeds: torch.Tensor | None = None,
) -> TeacherForcedPass:
    """T5 over a target (labels, -100 padded) given the input, keeping both stacks' final states
    (``output_hidden_states`` would give the last block's output before the final layer norm).
    The encoder reads ``input_ids`` or, when given, ``inputs_embeds`` (B, N, d)."""
    decoder_input_ids = shift_right(labels, start_token_id, backbone.config.pad_token_id)
    encoder_inputs = (
        {"inputs_embeds": inputs_embeds} if inputs_embeds is not None else {"input_ids": input_ids}
    )
    encoder_states = backbone.get_encoder()(
        **encoder_inputs, attention_mask=attention_mask
    ).last_hidden_state
    decoder_states = backbone.get_decoder()(
        input_ids=decoder_input_ids,
        encoder_hidden_states=encoder_states,
        encoder_attention_mask=attention_mask,
    ).last_hidden_state
    logits = vocabulary_logits(backbone, decoder_states)  # (B, T, V)
    loss = F.cross_entropy(
        logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX
    )
    return TeacherForcedPass(encoder_states, decoder_states, loss)


def context_token_mask(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, special_token_ids: Sequence[int]
) -> torch.Tensor:
    """True at tokens a span may cover: real (unpadded) tokens that are not special (`</s>`). (B, N)"""
    special = torch.tensor(list(special_token_ids), device=input_ids.device)
    return attention_mask.bool() & ~torch.isin(input_ids, special)


class SpanHeads(nn.Module):
    """Start and end logits over the context tokens from per-token states (a linear layer each)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.start = nn.Linear(d_model, 1)
        self.end = nn.Linear(d_model, 1)

    def forward(
        self, states: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """states (B, N, d), valid (B, N) -> start and end logits (B, N), -inf where not valid."""
        start = self.start(states).squeeze(-1).masked_fill(~valid, float("-inf"))
        end = self.end(states).squeeze(-1).masked_fill(~valid, float("-inf"))
        return start, end


@dataclass
class SpanLoss:
    loss: torch.Tensor  # mean over span examples of (CE_start + CE_end) / 2; 0 if there are none
    span_fraction: torch.Tensor  # share of the batch whose answer is a span


def span_loss(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    start_positions: torch.Tensor,
    end_positions: torch.Tensor,
) -> SpanLoss:
    """Cross-entropy of the gold start and end, over the examples whose answer is a span."""
    is_span = start_positions != IGNORE_INDEX
    if not is_span.any():
        # Nothing to learn from; a zero that keeps the graph connected for the optimiser.
        zero = start_logits.masked_fill(start_logits.isinf(), 0.0).sum() * 0.0
        return SpanLoss(zero, is_span.float().mean())
    start = F.cross_entropy(start_logits[is_span], start_positions[is_span])
    end = F.cross_entropy(end_logits[is_span], end_positions[is_span])
    return SpanLoss((start + end) / 2, is_span.float().mean())


def best_spans(
    start_logits: torch.Tensor, end_logits: torch.Tensor, max_span_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Highest start + end score with start ≤ end < start + max_span_length. -> starts, ends (B,)"""
    length = start_logits.size(1)
    scores = start_logits[:, :, None] + end_logits[:, None, :]  # (B, N start, N end)
    allowed = _allowed_spans(length, scores.device, max_span_length)
    flat = scores.masked_fill(~allowed, float("-inf")).flatten(1).argmax(dim=1)
    return flat // length, flat % length


def _allowed_spans(length: int, device: torch.device, max_span_length: int) -> torch.Tensor:
    """(N start, N end) True where start ≤ end < start + max_span_length."""
    offset = torch.arange(length, device=device)
    width = offset[None, :] - offset[:, None]  # end - start
    return (width >= 0) & (width < max_span_length)


def span_log_probs(
    start_logits: torch.Tensor, end_logits: torch.Tensor, max_span_length: int
) -> torch.Tensor:
    """log p(start) + log p(end) of every span (B, N start, N end), the heads' independent
    softmaxes; -inf for spans that end before they start or are too long."""
    start = torch.log_softmax(start_logits.float(), dim=-1).nan_to_num(nan=float("-inf"))
    end = torch.log_softmax(end_logits.float(), dim=-1).nan_to_num(nan=float("-inf"))
    scores = start[:, :, None] + end[:, None, :]
    allowed = _allowed_spans(scores.size(1), scores.device, max_span_length)
    return scores.masked_fill(~allowed, float("-inf"))


@dataclass
class SpanCandidates:
    starts: torch.Tensor  # (B, K) token positions, -100 where a row has fewer than K spans
    ends: torch.Tensor  # (B, K) inclusive
    log_probs: torch.Tensor  # (B, K) log p(start) + log p(end); -inf where there is no span


def top_spans(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    max_span_length: int,
    k: int,
    *,
    do_sample: bool = False,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> SpanCandidates:
    """K spans per row: the K most probable (best first, the first being ``best_spans``'), or
    K draws from the nucleus (the most probable spans holding ``top_p`` of the mass, which
    ``torch.multinomial`` samples with replacement from the global or given generator)."""
    scores = span_log_probs(start_logits, end_logits, max_span_length).flatten(1)  # (B, N*N)
    length = start_logits.size(1)
    if do_sample:
        probs = scores.exp()
        sorted_probs, order = probs.sort(dim=1, descending=True)
        # keep a span while the mass before it is below top_p (so the first always stays)
        before = sorted_probs.cumsum(dim=1) - sorted_probs
        nucleus = torch.zeros_like(probs).scatter(1, order, (before < top_p).to(probs.dtype))
        weights = probs * nucleus
        empty = weights.sum(dim=1) == 0  # a row with no valid span at all
        weights[empty] = 1.0
        flat = torch.multinomial(weights, k, replacement=True, generator=generator)
        flat_scores = scores.gather(1, flat)
        flat_scores[empty] = float("-inf")
    else:
        flat_scores, flat = scores.topk(min(k, scores.size(1)), dim=1)
        if flat.size(1) < k:  # fewer candidate spans than asked for: pad with "no span"
            pad = k - flat.size(1)
            flat = torch.cat([flat, flat.new_zeros(flat.size(0), pad)], dim=1)
            flat_scores = torch.cat(
                [flat_scores, flat_scores.new_full((flat.size(0), pad), float("-inf"))], dim=1
            )
    missing = flat_scores.isinf()
    starts = (flat // length).masked_fill(missing, IGNORE_INDEX)
    ends = (flat % length).masked_fill(missing, IGNORE_INDEX)
    return SpanCandidates(starts, ends, flat_scores)


def span_texts(
    tokenizer,
    contexts: Sequence[str],
    input_ids: torch.Tensor,
    starts: torch.Tensor,
    ends: torch.Tensor,
) -> list[str]:
    """The context characters covered by each token span (not a decode of the tokens, so the
    answer keeps the context's exact spelling); ``""`` where the start is -100 (no span).

    ``input_ids`` must be the contexts tokenized plainly (template ``{context}``), as the span
    baselines' DataModule input is; the re-tokenization that recovers character offsets is
    checked against them.
    """
    encoded = tokenizer(
        list(contexts),
        truncation=True,
        max_length=input_ids.size(1),
        return_offsets_mapping=True,
    )
    texts = []
    for row, context in enumerate(contexts):
        ids = encoded["input_ids"][row]
        if ids != input_ids[row, : len(ids)].tolist():
            raise ValueError(
                f"row {row}: the input ids are not the plain tokenization of the context, so "
                "token spans cannot be mapped to its characters"
            )
        start, end = int(starts[row]), int(ends[row])
        if start == IGNORE_INDEX:
            texts.append("")
            continue
        offsets = encoded["offset_mapping"][row]
        texts.append(context[offsets[start][0] : offsets[end][1]].strip())
    return texts
