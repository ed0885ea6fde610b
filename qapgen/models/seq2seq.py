"""Plain T5 sequence-to-sequence steps shared by the single-decoder models of the zoo.

Each task gets its own decoder start token (``<extra_id_0>`` for answers,
``<extra_id_1>`` for questions), so one T5 can learn several tasks without prompts on
the decoder side, and single-task baselines start their decoder the same way IGJA-QAP does.
"""

from __future__ import annotations

import torch
from transformers import T5ForConditionalGeneration

from qapgen.data.features import IGNORE_INDEX
from qapgen.generate.constraints import ContextSpanConstraint


def shift_right(labels: torch.Tensor, start_token_id: int, pad_token_id: int) -> torch.Tensor:
    """Teacher-forcing decoder inputs: [start, y_1 .. y_{T-1}], -100 padding -> pad."""
    inputs = labels.new_full(labels.shape, pad_token_id)
    inputs[:, 0] = start_token_id
    inputs[:, 1:] = labels[:, :-1]
    return inputs.masked_fill(inputs == IGNORE_INDEX, pad_token_id)


def seq2seq_loss(
    backbone: T5ForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    start_token_id: int,
) -> torch.Tensor:
    """Mean token cross-entropy of ``labels`` (-100 ignored) given the input, teacher forced."""
    decoder_input_ids = shift_right(labels, start_token_id, backbone.config.pad_token_id)
    output = backbone(
        input_ids=input_ids,
        attention_mask=attention_mask,
        decoder_input_ids=decoder_input_ids,
        labels=labels,
    )
    return output.loss


@torch.no_grad()
def seq2seq_generate(
    backbone: T5ForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    start_token_id: int,
    max_length: int,
    num_beams: int = 4,
    **generate_kwargs,
) -> torch.Tensor:
    """Beam search with transformers' ``generate``; returns ids without the start token."""
    sequences = _generate(
        backbone, input_ids, attention_mask, start_token_id, max_length,
        num_beams=num_beams, do_sample=False, **generate_kwargs,
    )  # fmt: skip
    return sequences[:, 1:]


def _generate(
    backbone: T5ForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    start_token_id: int,
    max_length: int,
    **search,
) -> torch.Tensor:
    """``generate`` from the task's start token, with the backbone's eos and pad ids."""
    config = backbone.config
    return backbone.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        decoder_start_token_id=start_token_id,
        bos_token_id=start_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_new_tokens=max_length,
        **search,
    )


@torch.no_grad()
def seq2seq_candidates(
    backbone: T5ForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    start_token_id: int,
    max_length: int,
    num_beams: int = 4,
    num_return_sequences: int = 1,
    do_sample: bool = False,
    top_p: float = 1.0,
    allowed_context_ids: list[list[int]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """K outputs per input (beam n-best or nucleus samples) with their log-probabilities.

    Returns ids (B*K, T) without the start token, rows input-major, padded after ``</s>``,
    and each row's sequence log-probability (B*K,): the sum over its tokens up to and
    including ``</s>``, from a teacher-forced pass. ``allowed_context_ids`` (per input, the
    context's token ids) limits outputs to token sequences of that context (then ``</s>``).
    """
    config = backbone.config
    k = num_return_sequences
    if do_sample:
        # K rows of one sample each, so that a row index is also the constraint's
        rows = torch.arange(input_ids.size(0), device=input_ids.device).repeat_interleave(k)
        input_ids, attention_mask = input_ids[rows], attention_mask[rows]
        if allowed_context_ids is not None:
            allowed_context_ids = [allowed_context_ids[i] for i in rows.tolist()]
    constraint = (
        None
        if allowed_context_ids is None
        else ContextSpanConstraint(
            allowed_context_ids, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
        )
    )
    search = (
        {"do_sample": True, "top_p": top_p, "top_k": 0, "num_beams": 1}
        if do_sample
        else {"do_sample": False, "num_beams": max(num_beams, k), "num_return_sequences": k}
    )
    sequences = _generate(
        backbone, input_ids, attention_mask, start_token_id, max_length,
        prefix_allowed_tokens_fn=constraint, **search,
    )  # fmt: skip
    outputs = sequences[:, 1:]
    if not do_sample:
        rows = torch.arange(input_ids.size(0), device=input_ids.device).repeat_interleave(k)
        input_ids, attention_mask = input_ids[rows], attention_mask[rows]
    logits = backbone(
        input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=sequences[:, :-1]
    ).logits  # (B*K, T, V)
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, outputs.unsqueeze(-1)).squeeze(-1)  # (B*K, T)
    is_eos = outputs == config.eos_token_id
    ends = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), outputs.size(1) - 1)
    keep = torch.arange(outputs.size(1), device=outputs.device)[None, :] <= ends[:, None]
    outputs = outputs.masked_fill(~keep, config.pad_token_id)
    return outputs, (picked * keep).sum(dim=1)
