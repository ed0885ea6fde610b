"""IGJA-QAP core: one encoder, one decoder shared by the answer and the question (paper 3.1-3.4),
on a T5 (the paper's), T5 v1.1 / flan-t5 or BART backbone.

Training decodes the answer and the question teacher-forced over the same encoder output: the
answer gives log P_a through the pointer network (eqs 2-7) and the answer states h^a_dec; the
question gives h^q_dec, which the answer-guided gate fuses with h^a_dec (eqs 8-12) before the
question head (eq. 13). The loss is Φ_a + Φ_q (eq. 14). With the shared decoder both are one
decoder call over each row's answer then question, packed, under a block-diagonal causal mask:
equal to two separate passes (neither segment sees the other, and T5's position bias is
relative); BART's learned absolute positions need the two passes themselves. The loss reads each label's probability only, never a vocabulary-sized mixture.

Ablations (paper 4.6) are constructor switches: `use_gate=False` (Ours-gate), `use_pointer=False`
(Ours-pointer), `shared_decoder=False` (Ours-two-decoder). The paper's open readings are switches
too: `gate_fusion` (how h_ques reaches eq. 13), `separate_generators` (W_a, b_a and W_q, b_q, or
T5's one tied head for both) and `loss_reduction` (eq. 14 over sequences or per-token means).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F
from transformers import T5ForConditionalGeneration
from transformers.cache_utils import Cache, EncoderDecoderCache

from qapgen.data.features import IGNORE_INDEX
from qapgen.models.attention_masks import padding_attention_mask, segment_causal_attention_mask
from qapgen.models.backbone import vocabulary_logits
from qapgen.models.copy_attention import CrossAttentionProbe
from qapgen.models.decoder_cache import cache_argument, cache_of
from qapgen.models.gate import (
    GATE_FUSIONS,
    AnswerGuidedGate,
    AnswerMemory,
    GateActivation,
    GateFusion,
    fuse_question_states,
)
from qapgen.models.generator_head import GeneratorHead
from qapgen.models.pointer import PointerGenerator, vocabulary_label_log_probs
from qapgen.models.segment_packing import PackedSegments
from qapgen.models.sequences import shift_right

LossReduction = Literal["sequence", "token"]
LOSS_REDUCTIONS: tuple[str, ...] = ("sequence", "token")


@dataclass
class IGJAQAPOutput:
    """Training outputs. Losses are scalars; log-probabilities are fp32."""

    loss: torch.Tensor  # eq. 14: Φ_a + Φ_q, each reduced as `loss_reduction` says
    # Both reductions of both tasks, whatever the loss uses, so that runs compare:
    answer_loss: torch.Tensor  # mean -log P_a over non-pad answer tokens
    question_loss: torch.Tensor  # mean -log P_q over non-pad question tokens
    answer_sequence_loss: torch.Tensor  # -log P_a(A) summed over each answer, batch mean
    question_sequence_loss: torch.Tensor  # -log P_q(Q) summed over each question, batch mean
    # The full distributions (B, L, V) and (B, M, V), fp32; only with return_distributions=True
    answer_log_probs: torch.Tensor | None = None
    question_log_probs: torch.Tensor | None = None


@dataclass
class DecoderStep:
    """One decoder pass: log-probabilities, the states the task's head read and the cache."""

    log_probs: torch.Tensor  # (B, T, V), fp32 (unnormalised scores if asked)
    hidden_states: torch.Tensor  # (B, T, d): h^a_dec, or the question generator's fused input
    cache: Cache | None


def token_nll(label_log_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean -log p(label) over positions whose label is not -100. (B, T), (B, T) -> scalar."""
    real = labels != IGNORE_INDEX
    # `where`, not a product: a padded position's log-probability may be -inf
    return -torch.where(real, label_log_probs, 0.0).sum() / real.sum()


def sequence_nll(label_log_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log p(sequence): the sum of -log p(label) over each row's non -100 positions, averaged
    over the rows. (B, T), (B, T) -> scalar."""
    real = labels != IGNORE_INDEX
    return -torch.where(real, label_log_probs, 0.0).sum() / labels.size(0)


def label_log_probs(log_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log p(label) (B, T) read from full distributions (B, T, V); -100 reads id 0."""
    return log_probs.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)


class IGJAQAP(nn.Module):
    """Interaction-guided joint abstractive QA-pair generation on a T5 backbone.

    Args:
        backbone: a `T5ForConditionalGeneration` (see `qapgen.models.backbone.load_backbone`). Its
            encoder and decoder are used, and its LM head gives the generators their start.
        answer_start_token_id / question_start_token_id: the first decoder input of each task
            (the DataModule uses `<extra_id_0>` and `<extra_id_1>`).
        max_answer_length / max_question_length: L and M of the gate's W_g ∈ R^{M×L}; label
            sequences (with `</s>`) and generated sequences may not be longer.
        gate_heads: y, the gate's head count (12 at T5-base, k = d/y = 64).
        use_gate: False is Ours-gate (h^q goes straight to the question head).
        use_pointer: False is Ours-pointer (P_a = P_voc).
        shared_decoder: False is Ours-two-decoder (the question decoder starts as a deep copy of
            the answer decoder, including its input embedding, and then trains separately).
        gate_activation: "identity" (paper: G = W_g h^a_dec) or "sigmoid".
        gate_fusion: how h_ques reaches the question generator: "residual" (h^q + h_ques) or
            "replace" (h_ques alone); see `gate.fuse_question_states`.
        separate_generators: True gives each task its own head, W_a, b_a (eq. 2) and W_q, b_q
            (eq. 13), both initialised from the backbone's LM head; False ties both tasks to the
            backbone's head (T5 has no output bias).
        loss_reduction: eq. 14's Φ_a and Φ_q as "sequence" negative log-likelihoods (summed over
            each sequence's tokens, averaged over the batch) or as per-"token" means of each task.
    """

    def __init__(
        self,
        backbone: T5ForConditionalGeneration,
        *,
        answer_start_token_id: int,
        question_start_token_id: int,
        max_answer_length: int,
        max_question_length: int,
        gate_heads: int = 12,
        use_gate: bool = True,
        use_pointer: bool = True,
        shared_decoder: bool = True,
        gate_activation: GateActivation = "identity",
        gate_fusion: GateFusion = "residual",
        separate_generators: bool = True,
        loss_reduction: LossReduction = "sequence",
    ) -> None:
        super().__init__()
        if loss_reduction not in LOSS_REDUCTIONS:
            raise ValueError(
                f"loss_reduction must be one of {LOSS_REDUCTIONS}, not {loss_reduction!r}"
            )
        if gate_fusion not in GATE_FUSIONS:
            raise ValueError(f"gate_fusion must be one of {GATE_FUSIONS}, not {gate_fusion!r}")
        config = backbone.config
        self.backbone = backbone
        self.answer_start_token_id = answer_start_token_id
        self.question_start_token_id = question_start_token_id
        self.pad_token_id = config.pad_token_id
        self.eos_token_id = config.eos_token_id
        self.max_answer_length = max_answer_length
        self.max_question_length = max_question_length
        self.use_gate = use_gate
        self.use_pointer = use_pointer
        self.shared_decoder = shared_decoder
        self.gate_fusion = gate_fusion
        self.loss_reduction = loss_reduction
        self.pointer = PointerGenerator(config.d_model, use_pointer=use_pointer)
        self.gate = (
            AnswerGuidedGate(
                config.d_model,
                num_heads=gate_heads,
                max_question_length=max_question_length,
                max_answer_length=max_answer_length,
                gate_activation=gate_activation,
            )
            if use_gate
            else None
        )
        # Registered only in the ablation, so the shared model has no duplicate parameter names.
        self.separate_question_decoder = (
            None if shared_decoder else copy.deepcopy(backbone.get_decoder())
        )
        # T5's self-attention bias depends only on key minus query position, so one call can
        # hold each row's answer then question (segment_packing); a decoder with learned
        # absolute positions (BART) would shift the question's, so it decodes them in turn.
        self.packs_segments = config.model_type == "t5"
        # After the copy: the question decoder needs no probe.
        self.copy_probe = CrossAttentionProbe(backbone.get_decoder()) if use_pointer else None
        self.answer_head = GeneratorHead(backbone) if separate_generators else None
        self.question_head = GeneratorHead(backbone) if separate_generators else None
        if (
            separate_generators
            and backbone.lm_head.weight is not backbone.get_input_embeddings().weight
        ):
            # An untied head (T5 v1.1) would be a parameter no loss reaches, which DDP rejects.
            backbone.lm_head.requires_grad_(False)

    def _logits(self, head: GeneratorHead | None, hidden_states: torch.Tensor) -> torch.Tensor:
        if head is None:  # tied: the backbone's one head serves both tasks
            return vocabulary_logits(self.backbone, hidden_states)
        return head(hidden_states)

    def answer_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """W_a h^a + b_a (eq. 2) before the softmax, (B, T, V)."""
        return self._logits(self.answer_head, hidden_states)

    def question_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """W_q h + b_q (eq. 13) before the softmax, (B, T, V); h is the fused question state."""
        return self._logits(self.question_head, hidden_states)

    def remember_answer(
        self, answer_states: torch.Tensor, answer_mask: torch.Tensor
    ) -> AnswerMemory | None:
        """The answer as the gate reads it, from h^a_dec (B, L_a, d) and its mask (B, L_a);
        None without the gate, whose question path never reads the answer."""
        return None if self.gate is None else self.gate.remember(answer_states, answer_mask)

    def question_generator_input(
        self,
        question_states: torch.Tensor,
        answer: AnswerMemory | None,
        question_offset: int = 0,
    ) -> torch.Tensor:
        """What eq. 13's generator reads at each question position: h^q_dec fused with the gate's
        h_ques (eqs 8-12) over the remembered answer (`remember_answer`) as `gate_fusion` says,
        or h^q_dec itself without the gate. (B, T, d)"""
        if self.gate is None:
            return question_states
        if answer is None:
            raise ValueError("the gate needs the answer (remember_answer)")
        gated = self.gate.attend(question_states, answer, question_offset)
        return fuse_question_states(question_states, gated, self.gate_fusion)

    @property
    def answer_decoder(self) -> nn.Module:
        return self.backbone.get_decoder()

    @property
    def question_decoder(self) -> nn.Module:
        return (
            self.backbone.get_decoder()
            if self.separate_question_decoder is None
            else self.separate_question_decoder
        )

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """h_enc (B, N, d) (eq. 1)."""
        return self.backbone.get_encoder()(
            input_ids=input_ids, attention_mask=self._source_mask(attention_mask)
        ).last_hidden_state

    def _source_mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        return padding_attention_mask(attention_mask, self.backbone.config)

    def _copy_attention(
        self,
        attention_mask: torch.Tensor,
        cache: Cache | None = None,
    ) -> torch.Tensor | None:
        """β of the answer decoder's last call (None without the pointer)."""
        if self.copy_probe is None:
            return None
        return self.copy_probe.copy_attention_of(attention_mask, cache)

    def decode_answer(
        self,
        decoder_input_ids: torch.Tensor,
        encoder_states: torch.Tensor,
        attention_mask: torch.Tensor,
        source_ids: torch.Tensor,
        *,
        cache: Cache | None = None,
        use_cache: bool = False,
        normalise: bool = True,
    ) -> DecoderStep:
        """Answer decoder pass: log P_a (eqs 2-7) and h^a_dec for the given decoder inputs
        (``normalise=False``: scores whose softmax is P_a, what beam search needs)."""
        decoded = self.answer_decoder(
            input_ids=decoder_input_ids,
            encoder_hidden_states=encoder_states,
            encoder_attention_mask=self._source_mask(attention_mask),
            use_cache=use_cache,
            **cache_argument(cache),
        )
        hidden = decoded.last_hidden_state  # (B, T, d)
        returned = cache_of(decoded)
        # A cache given with use_cache=False still served its cross-attention keys to β.
        beta = self._copy_attention(attention_mask, cache if returned is None else returned)
        cache = returned if use_cache else None
        log_probs = self.pointer(
            self.answer_logits(hidden),
            hidden,
            beta,
            encoder_states,
            source_ids,
            normalise=normalise,
        )
        return DecoderStep(log_probs, hidden, cache)

    def answer_states(
        self,
        decoder_input_ids: torch.Tensor,
        encoder_states: torch.Tensor,
        attention_mask: torch.Tensor,
        cache: EncoderDecoderCache | None = None,
    ) -> torch.Tensor:
        """h^a_dec (B, T, d) for the given answer decoder inputs: `decode_answer`'s states
        without its vocabulary projection and pointer (what the gate reads).
        ``cache``: an empty self-attention cache beside the answer decoder's
        cross-attention keys and values of these rows, which are then not recomputed."""
        hidden = self.answer_decoder(
            input_ids=decoder_input_ids,
            encoder_hidden_states=encoder_states,
            encoder_attention_mask=self._source_mask(attention_mask),
            **cache_argument(cache),
        ).last_hidden_state
        if self.copy_probe is not None:
            self.copy_probe.clear()
        return hidden

    def decode_question(
        self,
        decoder_input_ids: torch.Tensor,
        encoder_states: torch.Tensor,
        attention_mask: torch.Tensor,
        answer: AnswerMemory | None,
        *,
        cache: Cache | None = None,
        use_cache: bool = False,
        normalise: bool = True,
    ) -> DecoderStep:
        """Question decoder pass: log P_q (eq. 13) through the gate (eqs 8-12) over the
        remembered answer (`remember_answer`; None without the gate)
        (``normalise=False``: the logits, whose softmax is P_q).

        With a cache, the position of the first given token is the cache's length, which selects
        the gate's W_g rows.
        """
        question_offset = cache.get_seq_length() if cache is not None else 0
        decoded = self.question_decoder(
            input_ids=decoder_input_ids,
            encoder_hidden_states=encoder_states,
            encoder_attention_mask=self._source_mask(attention_mask),
            use_cache=use_cache,
            **cache_argument(cache),
        )
        fused = self.question_generator_input(
            decoded.last_hidden_state, answer, question_offset
        )  # (B, T, d)
        # eq. 13: P_q = softmax(W_q h + b_q), fp32 for the same reason as P_voc
        logits = self.question_logits(fused).float()
        log_probs = F.log_softmax(logits, dim=-1) if normalise else logits
        return DecoderStep(log_probs, fused, cache_of(decoded) if use_cache else None)

    def teacher_forced_states(
        self,
        answer_labels: torch.Tensor,
        question_labels: torch.Tensor,
        encoder_states: torch.Tensor,
        attention_mask: torch.Tensor,
        decoder_width: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(h^a_dec (B, L, d), h^q_dec (B, M, d), β (B, L, N) or None), teacher forced.

        The shared decoder makes them in one call: each row's answer then its question,
        packed (`segment_packing`) into ``decoder_width`` positions (None: L + M) under a
        per-row block-diagonal causal mask. The two-decoder ablation calls each decoder once.
        """
        answer_inputs = shift_right(answer_labels, self.answer_start_token_id, self.pad_token_id)
        question_inputs = shift_right(
            question_labels, self.question_start_token_id, self.pad_token_id
        )
        source_mask = self._source_mask(attention_mask)
        if self.separate_question_decoder is None and self.packs_segments:
            packing = PackedSegments.of(answer_labels, question_labels, decoder_width)
            hidden = self.backbone.get_decoder()(
                input_ids=packing.pack(answer_inputs, question_inputs, self.pad_token_id),
                attention_mask=segment_causal_attention_mask(packing.segment, self.backbone.config),
                encoder_hidden_states=encoder_states,
                encoder_attention_mask=source_mask,
            ).last_hidden_state  # (B, W, d)
            beta = self._copy_attention(attention_mask)
            beta = None if beta is None else packing.first_of(beta)
            return packing.first_of(hidden), packing.second_of(hidden), beta
        answer_hidden = self.answer_decoder(
            input_ids=answer_inputs,
            encoder_hidden_states=encoder_states,
            encoder_attention_mask=source_mask,
        ).last_hidden_state
        beta = self._copy_attention(attention_mask)
        question_hidden = self.question_decoder(
            input_ids=question_inputs,
            encoder_hidden_states=encoder_states,
            encoder_attention_mask=source_mask,
        ).last_hidden_state
        if self.copy_probe is not None:
            self.copy_probe.clear()  # the shared decoder's question call recorded too
        return answer_hidden, question_hidden, beta

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        answer_labels: torch.Tensor,
        question_labels: torch.Tensor,
        *,
        decoder_width: int | None = None,
        return_distributions: bool = False,
    ) -> IGJAQAPOutput:
        """Teacher-forced losses.

        input_ids, attention_mask (B, N): context + `</s>`; answer_labels (B, L) and
        question_labels (B, M): token ids ending with `</s>`, -100 on padding.
        `decoder_width`: the positions of the one decoder call, at least every row's answer
        plus question tokens (`segment_packing.packed_width`); None takes L + M.
        `return_distributions` also returns log P_a and log P_q over the vocabulary (the loss
        never needs them).
        """
        self._check_lengths(answer_labels.size(1), question_labels.size(1))
        encoder_states = self.encode(input_ids, attention_mask)
        answer_hidden, question_hidden, beta = self.teacher_forced_states(
            answer_labels, question_labels, encoder_states, attention_mask, decoder_width
        )
        fused = self.question_generator_input(
            question_hidden, self.remember_answer(answer_hidden, answer_labels != IGNORE_INDEX)
        )
        answer_logits = self.answer_logits(answer_hidden)
        question_logits = self.question_logits(fused)
        answer_picked = self.pointer.label_log_probs(
            answer_logits, answer_hidden, beta, encoder_states, input_ids, answer_labels
        )  # (B, L): log P_a(y_l)
        question_picked = vocabulary_label_log_probs(question_logits, question_labels)  # (B, M)
        answer_loss = token_nll(answer_picked, answer_labels)
        question_loss = token_nll(question_picked, question_labels)
        answer_sequence_loss = sequence_nll(answer_picked, answer_labels)
        question_sequence_loss = sequence_nll(question_picked, question_labels)
        # eq. 14: Φ = -log P_a - log P_q = Φ_a + Φ_q (no balancing weight)
        loss = (
            answer_sequence_loss + question_sequence_loss
            if self.loss_reduction == "sequence"
            else answer_loss + question_loss
        )
        output = IGJAQAPOutput(
            loss=loss,
            answer_loss=answer_loss,
            question_loss=question_loss,
            answer_sequence_loss=answer_sequence_loss,
            question_sequence_loss=question_sequence_loss,
        )
        if return_distributions:
            output.answer_log_probs = self.pointer(
                answer_logits, answer_hidden, beta, encoder_states, input_ids
            )
            output.question_log_probs = F.log_softmax(question_logits.float(), dim=-1)
        return output

    def _check_lengths(self, answer_length: int, question_length: int) -> None:
        # Only the gate's W_g fixes the lengths; without it, long labels are harmless.
        if self.gate is None:
            return
        if answer_length > self.max_answer_length or question_length > self.max_question_length:
            raise ValueError(
                f"label lengths (answer {answer_length}, question {question_length}) exceed the gate's "
                f"max_answer_length={self.max_answer_length} / max_question_length={self.max_question_length}"
            )
