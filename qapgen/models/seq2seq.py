"""Plain T5 sequence-to-sequence steps shared by the single-decoder models of the zoo.

Each task gets its own decoder start token (``<extra_id_0>`` for answers,
``<extra_id_1>`` for questions), so one T5 can learn several tasks without prompts on
the decoder side, and single-task baselines start their decoder the same way IGJA-QAP does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import T5ForConditionalGeneration

from qapgen.models.attention_masks import padding_attention_mask
from qapgen.models.constraints import ContextSpanConstraint
from qapgen.models.sequences import label_lengths, shift_right, strip_start_token


def seq2seq_loss(
    backbone: T5ForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    start_token_id: int,
) -> torch.Tensor:
    """Mean token cross-entropy of ``labels`` (-100 ignored) given the input, teacher forced.

    The padding mask goes in 4-D, so that transformers does not stop to ask the device
    whether anything is padded (`qapgen.models.attention_masks`).
    """
    decoder_input_ids = shift_right(labels, start_token_id, backbone.config.pad_token_id)
    output = backbone(
        input_ids=input_ids,
        attention_mask=padding_attention_mask(attention_mask, backbone.config),
        decoder_input_ids=decoder_input_ids,
        labels=labels,
    )
    return output.loss


@torch.no_grad()
def seq2seq_generate(
    backbone: T5ForConditionalGeneration,
    input_ids: torch.Tensor | None,
    attention_mask: torch.Tensor,
    *,
    start_token_id: int,
    max_length: int,
    num_beams: int = 4,
) -> torch.Tensor:
    """Beam search with transformers' ``generate``; returns ids (B, T) without the start
    token, padded after ``</s>``."""
    return seq2seq_candidates(
        backbone, input_ids, attention_mask,
        start_token_id=start_token_id, max_length=max_length, num_beams=num_beams, score=False,
    ).ids  # fmt: skip


@dataclass
class Seq2SeqCandidates:
    """K outputs per input, rows input-major: row i*K + k is input i's k-th (best first
    under beam search)."""

    ids: torch.Tensor  # (B*K, T) without the start token, pad after the first </s>
    rows: torch.Tensor  # (B*K,) the input row each output belongs to
    # (B*K, T) log p of each token given the ones before it, 0 after </s>; None unscored
    token_log_probs: torch.Tensor | None

    @property
    def log_probs(self) -> torch.Tensor:
        """Sequence log-probabilities (B*K,): the sum over tokens up to and including ``</s>``."""
        if self.token_log_probs is None:
            raise ValueError("these candidates were generated with score=False")
        return self.token_log_probs.sum(dim=1)

    def scores(self) -> list[float] | None:
        """``log_probs`` as floats, or None when generated with ``score=False``."""
        return None if self.token_log_probs is None else self.log_probs.tolist()


@torch.no_grad()
def seq2seq_candidates(
    backbone: T5ForConditionalGeneration,
    input_ids: torch.Tensor | None,
    attention_mask: torch.Tensor,
    *,
    start_token_id: int,
    max_length: int,
    num_beams: int = 4,
    num_return_sequences: int = 1,
    do_sample: bool = False,
    top_p: float = 1.0,
    constraint: ContextSpanConstraint | None = None,
    inputs_embeds: torch.Tensor | None = None,
    score: bool = True,
) -> Seq2SeqCandidates:
    """K outputs per input (beam n-best or nucleus samples), scored by a teacher-forced pass.

    The encoder reads ``input_ids`` or, when given, ``inputs_embeds`` (B, N, d).
    ``constraint`` (one row per input) limits outputs to token sequences of each input's
    context. ``score=False`` skips the scoring pass (plain beam search for evaluation).
    """
    config = backbone.config
    k = num_return_sequences
    batch_size = attention_mask.size(0)
    rows = torch.arange(batch_size, device=attention_mask.device).repeat_interleave(k)
    encoder_inputs = {"input_ids": input_ids, "inputs_embeds": inputs_embeds}
    if do_sample:
        # K rows of one sample each, so that a row index is also the constraint's
        encoder_inputs, attention_mask = _expand(encoder_inputs, attention_mask, rows)
        if constraint is not None:
            constraint = constraint.for_rows(rows.tolist())
        search = {"do_sample": True, "top_p": top_p, "top_k": 0, "num_beams": 1}
    else:
        search = {"do_sample": False, "num_beams": max(num_beams, k), "num_return_sequences": k}
    sequences = backbone.generate(
        **encoder_inputs,
        attention_mask=attention_mask,
        decoder_start_token_id=start_token_id,
        bos_token_id=start_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_new_tokens=max_length,
        prefix_allowed_tokens_fn=constraint,
        **search,
    )  # (B*K, 1 + T)
    outputs = strip_start_token(sequences, config.eos_token_id, config.pad_token_id)
    if not score:
        return Seq2SeqCandidates(outputs, rows, None)
    if not do_sample:
        encoder_inputs, attention_mask = _expand(encoder_inputs, attention_mask, rows)
    logits = backbone(
        **encoder_inputs, attention_mask=attention_mask, decoder_input_ids=sequences[:, :-1]
    ).logits  # (B*K, T, V)
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, outputs.unsqueeze(-1)).squeeze(-1)  # (B*K, T)
    positions = torch.arange(outputs.size(1), device=outputs.device)
    keep = positions[None, :] < label_lengths(outputs, config.eos_token_id)[:, None]
    return Seq2SeqCandidates(outputs, rows, picked * keep)


def _expand(
    encoder_inputs: dict[str, torch.Tensor | None], attention_mask: torch.Tensor, rows: torch.Tensor
) -> tuple[dict[str, torch.Tensor | None], torch.Tensor]:
    """The encoder inputs and mask with one row per entry of ``rows`` (B -> B*K)."""
    expanded = {name: None if v is None else v[rows] for name, v in encoder_inputs.items()}
    return expanded, attention_mask[rows]
