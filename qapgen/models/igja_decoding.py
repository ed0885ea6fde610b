"""IGJA-QAP's decoding: the answer, then the question guided by it (paper 3.4), in one
two-phase function (`decode_pairs`) for beam search, K candidates (beam n-best or nucleus
samples), answers constrained to the context, and scoring.

Search itself is transformers' `generate`. Each phase is a thin `PreTrainedModel` +
`GenerationMixin` view of the core whose step returns, as `logits`, scores whose softmax is
the task's distribution (copy-mixed P_a for the answer, gated P_q for the question);
`generate` normalises them with `log_softmax`, and it handles the
decoder cache (an `EncoderDecoderCache`, reordered between beams) and the beam expansion of every
tensor passed in (encoder outputs, source ids, the gate's answer memory).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from transformers import GenerationConfig, GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from qapgen.models.base import GenerationOptions
from qapgen.models.constraints import ContextSpanConstraint
from qapgen.models.decoder_cache import cache_argument, cache_of, step_cache
from qapgen.models.gate import AnswerMemory
from qapgen.models.igja_qap import IGJAQAP, label_log_probs
from qapgen.models.sequences import label_lengths, strip_start_token


@dataclass
class DecodedPairs:
    """Generated token ids without the start token, padded with pad_token_id after `</s>`;
    K rows per input, input-major (row i*K + k is input i's k-th)."""

    answer_ids: torch.Tensor  # (B*K, ≤ max_answer_length)
    question_ids: torch.Tensor  # (B*K, ≤ max_question_length)
    # Sequence log-probabilities (sum over tokens through `</s>`), with `score=True` only
    answer_log_probs: torch.Tensor | None = None  # (B*K,)
    question_log_probs: torch.Tensor | None = None
    # Beam search's length-normalised scores, with `with_scores=True` and K = 1 only
    answer_scores: torch.Tensor | None = None  # (B,)
    question_scores: torch.Tensor | None = None


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
        return self.core.backbone.get_encoder()

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


def generation_config(
    core: IGJAQAP,
    start_token_id: int,
    *,
    max_new_tokens: int,
    num_beams: int,
    options: GenerationOptions,
    num_return_sequences: int = 1,
    length_penalty: float = 1.0,
    use_cache: bool = True,
    with_scores: bool = False,
) -> GenerationConfig:
    """One phase's search: beam search, or nucleus sampling when ``options`` say so."""
    sampling = options.do_sample
    beams = 1 if sampling else num_beams
    return GenerationConfig(
        do_sample=sampling,
        top_p=options.top_p if sampling else None,
        top_k=0 if sampling else None,  # pure nucleus sampling, no top-k cut
        num_beams=beams,
        num_return_sequences=num_return_sequences,
        max_new_tokens=max_new_tokens,
        length_penalty=length_penalty,
        # Not True: that stops once num_beams hypotheses have ended, and a confident model's
        # low-probability beams end early, so the best, still-running beam was dropped.
        early_stopping=False if beams > 1 else None,
        decoder_start_token_id=start_token_id,
        bos_token_id=None,
        eos_token_id=core.eos_token_id,
        pad_token_id=core.pad_token_id,
        use_cache=use_cache,
        return_dict_in_generate=True,
        # Scores cost a (rows, V) fp32 copy per step; beam scores exist only with them.
        output_scores=with_scores and beams > 1,
    )


def sequence_log_probs(log_probs: torch.Tensor, token_ids: torch.Tensor, eos: int) -> torch.Tensor:
    """Sum of log p(token) up to and including the first ``</s>``: (B, T, V), (B, T) -> (B,)."""
    picked = label_log_probs(log_probs, token_ids)  # (B, T)
    positions = torch.arange(token_ids.size(1), device=token_ids.device)
    keep = positions[None, :] < label_lengths(token_ids, eos)[:, None]
    return (picked * keep).sum(dim=1)


@torch.no_grad()
def decode_pairs(
    core: IGJAQAP,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    options: GenerationOptions | None = None,
    *,
    num_beams: int = 4,
    special_token_ids: list[int] | None = None,
    max_answer_length: int | None = None,
    max_question_length: int | None = None,
    length_penalty: float = 1.0,
    use_cache: bool = True,
    score: bool = False,
    with_scores: bool = False,
) -> DecodedPairs:
    """K = ``options.num_return_sequences`` (answer, question) pairs per input row.

    1. search the answers with the copy-mixed log P_a: K of them (beam n-best, or K nucleus
       samples), each then a row of its own; with ``options.answer_in_context`` only token
       sequences of the input (``special_token_ids``: what a span may not contain);
    2. run the answer decoder teacher-forced over [start] + answer for h^a_dec, exactly as
       in training (with ``score``, the same pass gives the answers' log-probabilities);
    3. search one question per answer with the gate over h^a_dec (and, with ``score``,
       teacher-force it for its log-probability).
    Lengths count tokens including `</s>` and default to the core's max lengths (the gate's
    L, M). ``with_scores``: beam search's own length-normalised scores, for K = 1.
    """
    options = options or GenerationOptions()
    k = options.num_return_sequences
    max_answer_length = max_answer_length or core.max_answer_length
    max_question_length = max_question_length or core.max_question_length
    if core.gate is not None and (
        max_answer_length > core.max_answer_length or max_question_length > core.max_question_length
    ):
        raise ValueError(
            "generation lengths may not exceed the gate's max_answer_length / max_question_length"
        )
    eos, pad = core.eos_token_id, core.pad_token_id
    encoder_states = core.encode(input_ids, attention_mask)  # (B, N, d)
    rows = torch.arange(input_ids.size(0), device=input_ids.device).repeat_interleave(k)  # (B*K,)
    # K samples: K independent rows of one sample each, so a row index is also the
    # constraint's. K beams: one search returns its n-best, each then a row of its own.
    rows_before_answers = options.do_sample and k > 1
    if rows_before_answers:
        input_ids, attention_mask, encoder_states = (
            t[rows] for t in (input_ids, attention_mask, encoder_states)
        )
    answer_returns = 1 if rows_before_answers else k

    def search(start_token_id: int, max_new_tokens: int, returns: int = 1) -> GenerationConfig:
        return generation_config(
            core,
            start_token_id,
            max_new_tokens=max_new_tokens,
            num_beams=max(num_beams, returns),  # an n-best list of K needs K beams at least
            options=options,
            num_return_sequences=returns,
            length_penalty=length_penalty,
            use_cache=use_cache,
            with_scores=with_scores and k == 1,
        )

    answer_out = AnswerStepModel(core).generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        # a fresh wrapper per call: `generate` expands it for the beams in place
        encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
        source_ids=input_ids,
        prefix_allowed_tokens_fn=context_constraint(
            core, input_ids, attention_mask, options, special_token_ids
        ),
        generation_config=search(core.answer_start_token_id, max_answer_length, answer_returns),
    )
    answer_ids = strip_start_token(answer_out.sequences, eos, pad)  # (B*K, La)
    if k > 1 and not rows_before_answers:
        input_ids, attention_mask, encoder_states = (
            t[rows] for t in (input_ids, attention_mask, encoder_states)
        )
    answer_mask = (
        torch.arange(answer_ids.size(1), device=answer_ids.device)[None, :]
        < label_lengths(answer_ids, eos)[:, None]
    )
    # With one answer per input, both searches expand the rows alike: the question search
    # and the answer states reuse the answer search's cross-attention keys and values.
    cross_attention = shared_cross_attention(core, answer_out) if k == 1 else None
    answer_inputs = torch.cat([answer_out.sequences[:, :1], answer_ids[:, :-1]], dim=1)
    answer_cache = (
        None
        if cross_attention is None
        else with_cross_attention(cross_attention, every=1 if options.do_sample else num_beams)
    )
    if score:
        answer_step = core.decode_answer(
            answer_inputs, encoder_states, attention_mask, input_ids, cache=answer_cache
        )
        answer_states = answer_step.hidden_states  # h^a_dec
    else:
        answer_states = core.answer_states(
            answer_inputs, encoder_states, attention_mask, cache=answer_cache
        )
    answer = core.remember_answer(answer_states, answer_mask)
    question_out = QuestionStepModel(core).generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        encoder_outputs=BaseModelOutput(last_hidden_state=encoder_states),
        **(
            {} if cross_attention is None else cache_argument(with_cross_attention(cross_attention))
        ),
        **answer_memory_kwargs(answer),
        generation_config=search(core.question_start_token_id, max_question_length),
    )
    question_ids = strip_start_token(question_out.sequences, eos, pad)  # (B*K, Lq)
    pairs = DecodedPairs(
        answer_ids=answer_ids,
        question_ids=question_ids,
        answer_scores=getattr(answer_out, "sequences_scores", None),
        question_scores=getattr(question_out, "sequences_scores", None),
    )
    if score:
        question_step = core.decode_question(
            torch.cat([question_out.sequences[:, :1], question_ids[:, :-1]], dim=1),
            encoder_states,
            attention_mask,
            answer,
        )
        pairs.answer_log_probs = sequence_log_probs(answer_step.log_probs, answer_ids, eos)
        pairs.question_log_probs = sequence_log_probs(question_step.log_probs, question_ids, eos)
    return pairs


def context_constraint(
    core: IGJAQAP,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    options: GenerationOptions,
    special_token_ids: list[int] | None,
) -> ContextSpanConstraint | None:
    """Answers limited to token sequences of each row's input, when ``options`` ask."""
    if not options.answer_in_context:
        return None
    return ContextSpanConstraint.from_input_ids(
        input_ids,
        attention_mask,
        special_token_ids or [core.pad_token_id, core.eos_token_id],
        eos_token_id=core.eos_token_id,
        pad_token_id=core.pad_token_id,
    )


def generate_pairs(
    core: IGJAQAP, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any
) -> DecodedPairs:
    """One beam-searched (answer, question) pair per input row: `decode_pairs` with the
    default options (``kwargs`` are its keywords)."""
    return decode_pairs(core, input_ids, attention_mask, GenerationOptions(), **kwargs)
