"""OneStop (Cui et al.): one T5 generates the question and extracts the answer span.

T5 encodes the context and its decoder generates the question. The answer comes from a
self-attention layer over the encoder and decoder states together, whose outputs at the
context positions feed start/end span heads. Design choices:

- self-attention: each encoder position attends over [encoder states; decoder states] (one
  multi-head layer, residual and layer norm); only the context positions are read out, and
  the span logits are masked to real context tokens (no padding, no `</s>`);
- the decoder states are those of the gold question in training (teacher forcing) and of the
  generated question at inference (the decoder is run over it), since no gold question
  exists then;
- the predicted span (best start ≤ end within ``max_answer_length`` tokens) becomes text by
  mapping its tokens to the context's characters through the tokenizer's offsets.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from baselines.components.span_extraction import (
    SpanHeads,
    TeacherForcedPass,
    context_token_mask,
    span_loss,
    span_texts,
    teacher_forced_pass,
    top_spans,
)
from qapgen.data import batch_keys as keys
from qapgen.data.features import ANSWER_SPAN, CONTEXT_INPUT, IGNORE_INDEX, QUESTION_TARGET
from qapgen.models.backbone import attention_heads
from qapgen.models.base import (
    GenerationOptions,
    PairCandidate,
    QAPModule,
    Vocabulary,
    best_pairs,
    group_candidates,
)
from qapgen.models.seq2seq import seq2seq_candidates
from qapgen.models.sequences import label_lengths


class EncoderDecoderSelfAttention(nn.Module):
    """Context states enriched by attending over [encoder; decoder] states (OneStop's fusion)."""

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(d_model, num_heads, batch_first=True)
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self,
        encoder_states: torch.Tensor,  # (B, N, d)
        encoder_mask: torch.Tensor,  # (B, N) 1 = real token
        decoder_states: torch.Tensor,  # (B, M, d)
        decoder_mask: torch.Tensor,  # (B, M) 1 = real token
    ) -> torch.Tensor:
        """-> (B, N, d): one state per context position."""
        memory = torch.cat([encoder_states, decoder_states], dim=1)
        padding = ~torch.cat([encoder_mask, decoder_mask], dim=1).bool()
        attended, _ = self.attention(
            encoder_states, memory, memory, key_padding_mask=padding, need_weights=False
        )
        return self.norm(encoder_states + attended)


class OneStopModule(QAPModule):
    """OneStop: question by beam search, answer span from the fused encoder-decoder states.

    Args:
        answer_loss_weight: λ of eq 15, Φ = λ·Φ_a + (1 - λ)·Φ_q.
        **kwargs: the shared base's arguments (backbone, optimiser, generation, metrics).
    """

    tasks = ("answer", "question")
    data_features = (CONTEXT_INPUT, QUESTION_TARGET, ANSWER_SPAN)

    def __init__(self, answer_loss_weight: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backbone = None
        self.fusion: EncoderDecoderSelfAttention | None = None
        self.span_heads: SpanHeads | None = None

    def build(self, vocab: Vocabulary) -> None:
        self.backbone = self.load_backbone(vocab)
        config = self.backbone.config
        self.fusion = EncoderDecoderSelfAttention(config.d_model, attention_heads(config))
        self.span_heads = SpanHeads(config.d_model)

    def _question_pass(self, input_ids, attention_mask, question_labels) -> TeacherForcedPass:
        return teacher_forced_pass(
            self.backbone,
            input_ids,
            attention_mask,
            question_labels,
            self.vocab.question_start_token_id,
        )

    def _span_logits(
        self,
        states: TeacherForcedPass,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        question_labels: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        fused = self.fusion(
            states.encoder_states,
            attention_mask,
            states.decoder_states,
            question_labels != IGNORE_INDEX,
        )
        valid = context_token_mask(input_ids, attention_mask, [self.vocab.eos_token_id])
        return self.span_heads(fused, valid)

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        input_ids, mask = batch[keys.INPUT_IDS], batch[keys.INPUT_MASK]
        labels = batch[keys.QUESTION_LABELS]
        states = self._question_pass(input_ids, mask, labels)
        start_logits, end_logits = self._span_logits(states, input_ids, mask, labels)
        answer = span_loss(
            start_logits,
            end_logits,
            batch[keys.ANSWER_START],
            batch[keys.ANSWER_END],
        )
        if self.training:
            self.log("train/answer_span_fraction", answer.span_fraction, batch_size=len(labels))
        weight = self.hparams.answer_loss_weight
        # eq 15: Φ = λ·Φ_a + (1 - λ)·Φ_q
        loss = weight * answer.loss + (1 - weight) * states.loss
        return {"loss": loss, "answer_loss": answer.loss, "question_loss": states.loss}

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return best_pairs(self.generate_candidates(batch, score=False))

    @torch.no_grad()
    def generate_candidates(
        self, batch: dict[str, Any], options: GenerationOptions | None = None, *, score: bool = True
    ) -> list[list[PairCandidate]]:
        """K questions (beam n-best or samples), then each question's best answer span read
        from the fused states over it. Answers are spans of the context by construction, so
        ``answer_in_context`` holds as it is. The answer's score is log p(start) + log p(end)."""
        options = options or GenerationOptions()
        input_ids, mask = batch[keys.INPUT_IDS], batch[keys.INPUT_MASK]
        vocab = self.vocab
        questions = seq2seq_candidates(
            self.backbone,
            input_ids,
            mask,
            start_token_id=vocab.question_start_token_id,
            max_length=self.hparams.max_question_length,
            num_beams=self.hparams.num_beams,
            num_return_sequences=options.num_return_sequences,
            do_sample=options.do_sample,
            top_p=options.top_p,
            score=score,
        )
        rows = questions.rows
        input_ids, mask = input_ids[rows], mask[rows]
        # The generated question as labels: up to and including its first </s>.
        positions = torch.arange(questions.ids.size(1), device=questions.ids.device)
        keep = positions[None, :] < label_lengths(questions.ids, vocab.eos_token_id)[:, None]
        question_labels = questions.ids.masked_fill(~keep, IGNORE_INDEX)
        states = self._question_pass(input_ids, mask, question_labels)
        start_logits, end_logits = self._span_logits(states, input_ids, mask, question_labels)
        spans = top_spans(start_logits, end_logits, self.hparams.max_answer_length, 1)
        contexts = [batch[keys.CONTEXTS][row] for row in rows.tolist()]
        return group_candidates(
            span_texts(self.tokenizer, contexts, input_ids, spans.starts[:, 0], spans.ends[:, 0]),
            self.decode(questions.ids),
            spans.log_probs[:, 0].tolist() if score else None,
            questions.scores(),
            options.num_return_sequences,
        )
