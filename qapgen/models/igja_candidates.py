"""IGJA-QAP n-best, sampled and context-constrained pairs: K answers, a question for each.

The plain path (``qapgen.models.generation.generate_pairs``) keeps one beam per input. Here
the answer phase returns K answers per input (beam n-best, or K nucleus samples), each
becomes its own row, and the question phase decodes one question per answer through the
answer-guided gate, exactly as in training. Scores are sequence log-probabilities (sum
over tokens up to and including ``</s>``) from teacher-forced passes over the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import GenerationConfig
from transformers.modeling_outputs import BaseModelOutput

from qapgen.models.base import GenerationOptions
from qapgen.models.constraints import ContextSpanConstraint
from qapgen.models.generation import (
    AnswerStepModel,
    QuestionStepModel,
    answer_memory_kwargs,
    label_lengths,
    strip_start_token,
)
from qapgen.models.igja_qap import IGJAQAP, label_log_probs


@dataclass
class CandidateIds:
    """K candidates per input, rows ordered input-major: row i*K + k is input i's k-th."""

    answer_ids: torch.Tensor  # (B*K, La), pad after </s>
    question_ids: torch.Tensor  # (B*K, Lq)
    answer_log_probs: torch.Tensor  # (B*K,)
    question_log_probs: torch.Tensor  # (B*K,)


def _config(
    core: IGJAQAP,
    start_token_id: int,
    *,
    max_new_tokens: int,
    num_beams: int,
    num_return_sequences: int,
    options: GenerationOptions,
) -> GenerationConfig:
    sampling = options.do_sample
    return GenerationConfig(
        do_sample=sampling,
        top_p=options.top_p if sampling else None,
        top_k=0 if sampling else None,  # pure nucleus sampling, no top-k cut
        num_beams=1 if sampling else num_beams,
        num_return_sequences=num_return_sequences,
        max_new_tokens=max_new_tokens,
        # as in the plain path: True would drop a still-running best beam
        early_stopping=False if not sampling and num_beams > 1 else None,
        decoder_start_token_id=start_token_id,
        bos_token_id=None,
        eos_token_id=core.eos_token_id,
        pad_token_id=core.pad_token_id,
        return_dict_in_generate=True,
    )


def _sequence_log_probs(log_probs: torch.Tensor, token_ids: torch.Tensor, eos: int) -> torch.Tensor:
    """Sum of log p(token) up to and including the first ``</s>``: (B, T, V), (B, T) -> (B,)."""
    picked = label_log_probs(log_probs, token_ids)  # (B, T)
    positions = torch.arange(token_ids.size(1), device=token_ids.device)
    keep = positions[None, :] < label_lengths(token_ids, eos)[:, None]
    return (picked * keep).sum(dim=1)


@torch.no_grad()
def generate_candidates(
    core: IGJAQAP,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    options: GenerationOptions,
    *,
    num_beams: int,
    special_token_ids: list[int],
) -> CandidateIds:
    """K = ``options.num_return_sequences`` scored (answer, question) candidates per input."""
    k = options.num_return_sequences
    batch_size = input_ids.size(0)
    rows = torch.arange(batch_size, device=input_ids.device).repeat_interleave(k)  # (B*K,)
    encoder_states = core.encode(input_ids, attention_mask)  # (B, N, d)

    if options.do_sample:
        # K independent rows of one sample each, so a row index is also the constraint's
        answer_inputs = (input_ids[rows], attention_mask[rows], encoder_states[rows])
        answer_returns = 1
    else:
        answer_inputs = (input_ids, attention_mask, encoder_states)
        answer_returns = k
    source_ids, source_mask, source_states = answer_inputs
    constraint = (
        ContextSpanConstraint.from_input_ids(
            source_ids,
            source_mask,
            special_token_ids,
            eos_token_id=core.eos_token_id,
            pad_token_id=core.pad_token_id,
        )
        if options.answer_in_context
        else None
    )
    answer_out = AnswerStepModel(core).generate(
        input_ids=source_ids,
        attention_mask=source_mask,
        encoder_outputs=BaseModelOutput(last_hidden_state=source_states),
        source_ids=source_ids,
        prefix_allowed_tokens_fn=constraint,
        generation_config=_config(
            core,
            core.answer_start_token_id,
            max_new_tokens=core.max_answer_length,
            num_beams=max(num_beams, k),
            num_return_sequences=answer_returns,
            options=options,
        ),
    )
    eos, pad = core.eos_token_id, core.pad_token_id
    answer_ids = strip_start_token(answer_out.sequences, eos, pad)  # (B*K, La)
    input_ids, attention_mask, encoder_states = (
        input_ids[rows],
        attention_mask[rows],
        encoder_states[rows],
    )
    answer_mask = (
        torch.arange(answer_ids.size(1), device=answer_ids.device)[None, :]
        < label_lengths(answer_ids, eos)[:, None]
    )
    # teacher-forced over each chosen answer, as the answer states are made in training
    answer_step = core.decode_answer(
        torch.cat([answer_out.sequences[:, :1], answer_ids[:, :-1]], dim=1),
        encoder_states,
        attention_mask,
        input_ids,
    )
    answer = core.remember_answer(answer_step.hidden_states, answer_mask)
    question_out = QuestionStepModel(core).generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
        **answer_memory_kwargs(answer),
        generation_config=_config(
            core,
            core.question_start_token_id,
            max_new_tokens=core.max_question_length,
            num_beams=num_beams,
            num_return_sequences=1,
            options=options,
        ),
    )
    question_ids = strip_start_token(question_out.sequences, eos, pad)  # (B*K, Lq)
    question_step = core.decode_question(
        torch.cat([question_out.sequences[:, :1], question_ids[:, :-1]], dim=1),
        encoder_states,
        attention_mask,
        answer,
    )
    return CandidateIds(
        answer_ids=answer_ids,
        question_ids=question_ids,
        answer_log_probs=_sequence_log_probs(answer_step.log_probs, answer_ids, eos),
        question_log_probs=_sequence_log_probs(question_step.log_probs, question_ids, eos),
    )
