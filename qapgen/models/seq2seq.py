"""Plain T5 sequence-to-sequence steps shared by the single-decoder models of the zoo.

Each task gets its own decoder start token (``<extra_id_0>`` for answers,
``<extra_id_1>`` for questions), so one T5 can learn several tasks without prompts on
the decoder side, and single-task baselines start their decoder the same way IGJA-QAP does.
"""

from __future__ import annotations

import torch
from transformers import T5ForConditionalGeneration

from qapgen.data.features import IGNORE_INDEX


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
    config = backbone.config
    sequences = backbone.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        decoder_start_token_id=start_token_id,
        bos_token_id=start_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        num_beams=num_beams,
        max_new_tokens=max_length,
        do_sample=False,
        **generate_kwargs,
    )
    return sequences[:, 1:]
