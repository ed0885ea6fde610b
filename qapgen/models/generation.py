"""Inference for IGJA-QAP: beam-search the answer, then the question guided by it (paper 3.4).

Beam search itself is transformers' `generate`. Each phase is a thin `PreTrainedModel` +
`GenerationMixin` view of the core whose step returns, as `logits`, scores whose softmax is
the task's distribution (copy-mixed P_a for the answer, gated P_q for the question);
`generate` normalises them with `log_softmax`, and it handles the
decoder cache (an `EncoderDecoderCache`, reordered between beams) and the beam expansion of every
tensor passed in (encoder outputs, source ids, the gate's answer memory).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from transformers import GenerationConfig, GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from qapgen.models.decoder_cache import cache_argument, cache_of, step_cache
from qapgen.models.gate import AnswerMemory

if TYPE_CHECKING:
    from qapgen.models.igja_qap import IGJAQAP


@dataclass
class GeneratedPairs:
    """Generated token ids without the start token, padded with pad_token_id after `</s>`."""

    answer_ids: torch.Tensor  # (B, ≤ max_answer_length)
    question_ids: torch.Tensor  # (B, ≤ max_question_length)
    answer_scores: (
        torch.Tensor | None
    )  # (B,) length-normalised beam log-probability; None unless asked for, or if num_beams=1
    question_scores: torch.Tensor | None  # (B,)


class CoreStepModel(PreTrainedModel, GenerationMixin):
    """Shared plumbing: a generate-able view of an `IGJAQAP` core (not registered as its submodule)."""

    main_input_name = "input_ids"
    # The attention kernels are the backbone's own; these flags only let `PreTrainedModel` accept
    # the backbone config's setting.
    _supports_sdpa = True
    _supports_flex_attn = True

    def __init__(self, core: IGJAQAP) -> None:
        # A copy: `PreTrainedModel.__init__` writes into its config, which must not touch the backbone's.
        super().__init__(copy.deepcopy(core.backbone.config))
        self.core = core

    def get_encoder(self, modality: str | None = None) -> torch.nn.Module:
        return self.core.backbone.encoder

    def _reorder_cache(self, cache: Cache, beam_idx: torch.Tensor) -> Cache:
        """Beam search moves beams only within their own input, whose every beam holds the
        same cross-attention keys and values (of one encoder output): only the
        self-attention cache needs reordering."""
        if isinstance(cache, EncoderDecoderCache):
            cache.self_attention_cache.reorder_cache(beam_idx)
        else:
            cache.reorder_cache(beam_idx)
        return cache


class AnswerStepModel(CoreStepModel):
    def forward(
        self,
        decoder_input_ids: torch.Tensor,
        encoder_outputs: BaseModelOutput,
        attention_mask: torch.Tensor,
        source_ids: torch.Tensor,
        cache: Cache | None = None,
        past_key_values: Cache | None = None,
        use_cache: bool | None = None,
        **kwargs: Any,
    ) -> Seq2SeqLMOutput:
        step = self.core.decode_answer(
            decoder_input_ids,
            encoder_outputs.last_hidden_state,
            attention_mask,
            source_ids,
            cache=step_cache(cache, past_key_values),
            use_cache=bool(use_cache),
            normalise=False,
        )
        return Seq2SeqLMOutput(logits=step.log_probs, **cache_argument(step.cache))


class QuestionStepModel(CoreStepModel):
    def forward(
        self,
        decoder_input_ids: torch.Tensor,
        encoder_outputs: BaseModelOutput,
        attention_mask: torch.Tensor,
        answer_keys: torch.Tensor | None = None,
        answer_values: torch.Tensor | None = None,
        answer_masked_states: torch.Tensor | None = None,
        answer_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        past_key_values: Cache | None = None,
        use_cache: bool | None = None,
        **kwargs: Any,
    ) -> Seq2SeqLMOutput:
        answer = (
            None
            if answer_mask is None
            else AnswerMemory(answer_keys, answer_values, answer_masked_states, answer_mask)
        )
        step = self.core.decode_question(
            decoder_input_ids,
            encoder_outputs.last_hidden_state,
            attention_mask,
            answer,
            cache=step_cache(cache, past_key_values),
            use_cache=bool(use_cache),
            normalise=False,
        )
        return Seq2SeqLMOutput(logits=step.log_probs, **cache_argument(step.cache))


def shared_cross_attention(core: IGJAQAP, answer_out: Any) -> DynamicCache | None:
    """The cross-attention keys and values over the encoder output that the answer search
    computed, one row per beam, when the question decoder is the same decoder (they are
    then the question's too); None for the two-decoder ablation or without a cache.

    Beam search never moves a beam to another input, and `CoreStepModel._reorder_cache`
    leaves these rows in place, so they stay in `generate`'s expanded row order."""
    cache = cache_of(answer_out)
    if core.separate_question_decoder is not None or not isinstance(cache, EncoderDecoderCache):
        return None
    return cache.cross_attention_cache


def with_cross_attention(cross_attention: DynamicCache, every: int = 1) -> EncoderDecoderCache:
    """A decoder cache with an empty self-attention part beside given cross-attention keys
    and values (every ``every``-th row: one row per input from one per beam)."""
    layers = [(layer.keys[::every], layer.values[::every]) for layer in cross_attention.layers]
    return EncoderDecoderCache(DynamicCache(), DynamicCache(layers))


def answer_memory_kwargs(answer: AnswerMemory | None) -> dict[str, torch.Tensor]:
    """The gate's answer memory as `QuestionStepModel` keyword tensors, which `generate`
    expands for the beams (projected once per answer, not at every question step)."""
    if answer is None:
        return {}
    return {
        "answer_keys": answer.keys,
        "answer_values": answer.values,
        "answer_masked_states": answer.masked_states,
        "answer_mask": answer.mask,
    }


def _generation_config(
    core: IGJAQAP,
    start_token_id: int,
    num_beams: int,
    max_new_tokens: int,
    length_penalty: float,
    use_cache: bool,
    with_scores: bool = False,
) -> GenerationConfig:
    return GenerationConfig(
        do_sample=False,
        num_beams=num_beams,
        num_return_sequences=1,
        max_new_tokens=max_new_tokens,
        length_penalty=length_penalty,
        # Not True: that stops once num_beams hypotheses have ended, and a confident model's
        # low-probability beams end early, so the best, still-running beam was dropped.
        early_stopping=False if num_beams > 1 else None,
        decoder_start_token_id=start_token_id,
        bos_token_id=None,
        eos_token_id=core.eos_token_id,
        pad_token_id=core.pad_token_id,
        use_cache=use_cache,
        return_dict_in_generate=True,
        # Scores cost a (rows, V) fp32 copy per step; beam scores exist only with them.
        output_scores=with_scores and num_beams > 1,
    )


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


@torch.no_grad()
def generate_pairs(
    core: IGJAQAP,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    num_beams: int = 4,
    max_answer_length: int | None = None,
    max_question_length: int | None = None,
    length_penalty: float = 1.0,
    use_cache: bool = True,
    with_scores: bool = False,
) -> GeneratedPairs:
    """Generate one (answer, question) pair per input row.

    1. beam-search the answer with the copy-mixed log P_a;
    2. run the answer decoder teacher-forced over [start] + answer to get h^a_dec (as in training);
    3. beam-search the question with the gate over h^a_dec.
    Lengths count tokens including `</s>` and default to the core's max lengths (the gate's L, M).
    `with_scores` returns the beams' length-normalised log-probabilities (beam search only).
    """
    max_answer_length = max_answer_length or core.max_answer_length
    max_question_length = max_question_length or core.max_question_length
    if core.gate is not None and (
        max_answer_length > core.max_answer_length or max_question_length > core.max_question_length
    ):
        raise ValueError(
            "generation lengths may not exceed the gate's max_answer_length / max_question_length"
        )
    encoder_states = core.encode(input_ids, attention_mask)  # (B, N, d)

    answer_out = AnswerStepModel(core).generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        # a fresh wrapper per call: `generate` expands it for the beams in place
        encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
        source_ids=input_ids,
        generation_config=_generation_config(
            core,
            core.answer_start_token_id,
            num_beams,
            max_answer_length,
            length_penalty,
            use_cache,
            with_scores,
        ),
    )
    answer_ids = strip_start_token(
        answer_out.sequences, core.eos_token_id, core.pad_token_id
    )  # (B, La)
    answer_mask = (
        torch.arange(answer_ids.size(1), device=answer_ids.device)[None, :]
        < label_lengths(answer_ids, core.eos_token_id)[:, None]
    )
    cross_attention = shared_cross_attention(core, answer_out)
    answer_cache, question_cache = (
        (None, {})
        if cross_attention is None
        else (
            with_cross_attention(cross_attention, every=num_beams),
            cache_argument(with_cross_attention(cross_attention)),
        )
    )
    # teacher-forced over the chosen answer, exactly as the answer states are made in training
    answer_inputs = torch.cat([answer_out.sequences[:, :1], answer_ids[:, :-1]], dim=1)
    answer_states = core.answer_states(
        answer_inputs,
        encoder_states,
        attention_mask,
        cache=answer_cache,
    )  # h^a_dec

    question_out = QuestionStepModel(core).generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
        **question_cache,
        **answer_memory_kwargs(core.remember_answer(answer_states, answer_mask)),
        generation_config=_generation_config(
            core,
            core.question_start_token_id,
            num_beams,
            max_question_length,
            length_penalty,
            use_cache,
            with_scores,
        ),
    )
    return GeneratedPairs(
        answer_ids=answer_ids,
        question_ids=strip_start_token(
            question_out.sequences, core.eos_token_id, core.pad_token_id
        ),
        answer_scores=getattr(answer_out, "sequences_scores", None),
        question_scores=getattr(question_out, "sequences_scores", None),
    )
