"""Info-QAP (Lee et al., Info-HCVAE without the hierarchical VAE).

Span heads over a T5 encoder extract the answer from the context; the same T5 generates the
question from the context with the answer marked, as Info-HCVAE's question generator reads
the context with answer-tag embeddings: the gold span in training, the extracted span at
inference. The encoder runs twice: untagged for the span heads (so the gold span cannot leak
into the states that predict it) and tagged for the question decoder. An InfoMax term
maximises the mutual information between the question's and the answer's representations,
estimated with the Jensen-Shannon lower bound (Deep InfoMax):

    MI_JSD ≥ E_pos[-softplus(-T(q, a))] - E_neg[softplus(T(q, a'))]

T is a bilinear discriminator over the L2-normalised representations (see
`InfoMaxDiscriminator` for why); positives are the batch's matched (question, answer) pairs,
negatives pair each question with another example's answer (an in-batch shuffle). The
question representation is the mean of the decoder states over the gold question, the
answer's the mean of the untagged encoder states over the gold answer span. Examples whose
answer is not a span take no part in the span loss or the MI term, and their question is
generated from the untagged context.

Loss: Φ_q + Φ_a - λ_mi·MI. Inference: answer = best span of the heads, question = beam search
over the context tagged with that span.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from baselines.components.span_extraction import (
    SpanHeads,
    context_token_mask,
    span_loss,
    span_texts,
    teacher_forced_pass,
    top_spans,
)
from qapgen.data import batch_keys as keys
from qapgen.data.features import ANSWER_SPAN, CONTEXT_INPUT, IGNORE_INDEX, QUESTION_TARGET
from qapgen.models.base import (
    GenerationOptions,
    PairCandidate,
    QAPModule,
    Vocabulary,
    best_pairs,
    group_candidates,
)
from qapgen.models.seq2seq import seq2seq_candidates


def jsd_mutual_information(
    positive_scores: torch.Tensor, negative_scores: torch.Tensor
) -> torch.Tensor:
    """Jensen-Shannon MI lower bound from discriminator scores (Deep InfoMax, Hjelm et al.)."""
    return (-F.softplus(-positive_scores)).mean() - F.softplus(negative_scores).mean()


def in_batch_negatives(size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices pairing each row with another row: a cyclic shift by a random 1..size-1, so that
    no row keeps its own partner (a plain random permutation would leave some positives among
    the negatives). (size,)"""
    if size < 2:
        raise ValueError("in-batch negatives need at least two examples")
    shift = int(torch.randint(1, size, (1,), generator=generator))
    return (torch.arange(size) + shift) % size


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of states (B, T, d) over the positions where mask (B, T) is true. -> (B, d)"""
    weights = mask.to(states.dtype).unsqueeze(-1)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def span_mask(length: int, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """True at token positions starts..ends (inclusive) of each row. (B, length)"""
    positions = torch.arange(length, device=starts.device)[None, :]
    return (positions >= starts[:, None]) & (positions <= ends[:, None])


class InfoMaxDiscriminator(nn.Module):
    """T(q, a) = q̂ᵀ W â + b, with q̂ = q/‖q‖ and â = a/‖a‖: scores how likely a question and an
    answer belong together.

    The representations are L2-normalised first. On raw states the bilinear form's gradient
    grows with ‖q‖·‖a‖, so the MI term's gradient outweighs the task losses', gradient clipping
    shrinks their steps, and the noise of resampled negatives steers the shared backbone
    (docs/design-notes.md#info-qap-critic-normalisation). Normalised, the critic separates
    pairs by their direction only and its scores are bounded by W's norm, so the MI term
    cannot be raised by inflating the states.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.bilinear = nn.Bilinear(d_model, d_model, 1)

    def forward(self, questions: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        """(B, d), (B, d) -> (B,) scores."""
        unit_questions = F.normalize(questions, dim=-1)
        unit_answers = F.normalize(answers, dim=-1)
        return self.bilinear(unit_questions, unit_answers).squeeze(-1)

    def mutual_information(self, questions: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        """JSD MI estimate over matched pairs (positives) and in-batch shuffles (negatives)."""
        negatives = in_batch_negatives(len(answers)).to(answers.device)
        return jsd_mutual_information(self(questions, answers), self(questions, answers[negatives]))


class AnswerTags(nn.Module):
    """Answer-tag embeddings added to the token embeddings: zero outside the answer span (so
    that an untagged context reads exactly as the pretrained encoder expects) and a learned
    vector inside it."""

    def __init__(self, d_model: int, init_std: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(2, d_model, padding_idx=0)
        nn.init.normal_(self.embedding.weight[1:], std=init_std)

    def forward(self, token_embeddings: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        """(B, N, d) embeddings, (B, N) bool inside-the-answer -> (B, N, d)."""
        return token_embeddings + self.embedding(inside.long())


class InfoQAPModule(QAPModule):
    """Info-QAP: answer extraction, and question generation conditioned on the answer, tied
    by an InfoMax term.

    Args:
        mi_weight: λ_mi, the weight of the MI term subtracted from the loss.
        answer_conditioning: ``tag`` (the question decoder reads the context with the answer
            span tagged, as Info-HCVAE's question generator does) or ``none`` (it reads the
            untagged context, and answers and questions are matched by rank only).
        **kwargs: the shared base's arguments (backbone, optimiser, generation, metrics).
    """

    tasks = ("answer", "question")
    data_features = (CONTEXT_INPUT, QUESTION_TARGET, ANSWER_SPAN)

    def __init__(
        self,
        mi_weight: float = 1.0,
        answer_conditioning: Literal["tag", "none"] = "tag",
        **kwargs: Any,
    ) -> None:
        if answer_conditioning not in ("tag", "none"):
            raise ValueError(
                f"answer_conditioning must be 'tag' or 'none', not {answer_conditioning!r}"
            )
        super().__init__(**kwargs)
        self.backbone = None
        self.span_heads: SpanHeads | None = None
        self.discriminator: InfoMaxDiscriminator | None = None
        self.answer_tags: AnswerTags | None = None

    def build(self, vocab: Vocabulary) -> None:
        self.backbone = self.load_backbone(vocab)
        d_model = self.backbone.config.d_model
        self.span_heads = SpanHeads(d_model)
        self.discriminator = InfoMaxDiscriminator(d_model)
        if self.hparams.answer_conditioning == "tag":
            # At the scale of the token embeddings, so the tag is seen from the first step.
            scale = float(self.backbone.get_input_embeddings().weight.detach().std())
            self.answer_tags = AnswerTags(d_model, init_std=scale)

    def tagged_embeddings(
        self, input_ids: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor
    ) -> torch.Tensor | None:
        """The context's token embeddings with the span starts..ends tagged (B, N, d); None
        without answer conditioning. A row whose start is -100 has no span and no tag."""
        if self.answer_tags is None:
            return None
        embeddings = self.backbone.get_input_embeddings()(input_ids)
        return self.answer_tags(embeddings, span_mask(input_ids.size(1), starts, ends))

    def _span_logits(self, encoder_states, input_ids, attention_mask):
        valid = context_token_mask(input_ids, attention_mask, [self.vocab.eos_token_id])
        return self.span_heads(encoder_states, valid)

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        input_ids, mask = batch[keys.INPUT_IDS], batch[keys.INPUT_MASK]
        labels = batch[keys.QUESTION_LABELS]
        starts, ends = batch[keys.ANSWER_START], batch[keys.ANSWER_END]
        tagged = self.tagged_embeddings(input_ids, starts, ends)
        states = teacher_forced_pass(
            self.backbone,
            input_ids,
            mask,
            labels,
            self.vocab.question_start_token_id,
            inputs_embeds=tagged,
        )
        if tagged is None:  # one untagged pass serves both tasks
            encoder_states = states.encoder_states  # (B, N, d)
        else:
            encoder_states = self.backbone.get_encoder()(
                input_ids=input_ids, attention_mask=mask
            ).last_hidden_state
        answer = span_loss(*self._span_logits(encoder_states, input_ids, mask), starts, ends)

        is_span = starts != IGNORE_INDEX
        if is_span.sum() >= 2:
            questions = masked_mean(states.decoder_states, labels != IGNORE_INDEX)
            answers = masked_mean(encoder_states, span_mask(input_ids.size(1), starts, ends))
            mi = self.discriminator.mutual_information(questions[is_span], answers[is_span])
        else:  # no pair to contrast with
            mi = encoder_states.new_zeros(())
        size = len(labels)
        if self.training:
            self.log("train/mi", mi, batch_size=size)
            self.log("train/answer_span_fraction", answer.span_fraction, batch_size=size)
        loss = states.loss + answer.loss - self.hparams.mi_weight * mi
        return {"loss": loss, "answer_loss": answer.loss, "question_loss": states.loss}

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return best_pairs(self.generate_candidates(batch, score=False))

    @torch.no_grad()
    def generate_candidates(
        self, batch: dict[str, Any], options: GenerationOptions | None = None, *, score: bool = True
    ) -> list[list[PairCandidate]]:
        """K answer spans (the most probable, or nucleus draws), then one question for each,
        decoded from the context tagged with that span (without answer conditioning: K
        questions decoded from the context alone, beam n-best or samples, paired by rank).
        Answers are spans of the context by construction (``answer_in_context`` holds)."""
        options = options or GenerationOptions()
        k = options.num_return_sequences
        input_ids, mask = batch[keys.INPUT_IDS], batch[keys.INPUT_MASK]
        encoder_states = self.backbone.get_encoder()(
            input_ids=input_ids, attention_mask=mask
        ).last_hidden_state
        start_logits, end_logits = self._span_logits(encoder_states, input_ids, mask)
        spans = top_spans(
            start_logits,
            end_logits,
            self.hparams.max_answer_length,
            k,
            do_sample=options.do_sample,
            top_p=options.top_p,
        )
        search = {
            "start_token_id": self.vocab.question_start_token_id,
            "max_length": self.hparams.max_question_length,
            "num_beams": self.hparams.num_beams,
            "do_sample": options.do_sample,
            "top_p": options.top_p,
            "score": score,
        }
        if self.answer_tags is None:
            questions = seq2seq_candidates(
                self.backbone, input_ids, mask, num_return_sequences=k, **search
            )
            rows = questions.rows
        else:
            span_rows = torch.arange(len(input_ids), device=input_ids.device).repeat_interleave(k)
            tagged = self.tagged_embeddings(
                input_ids[span_rows], spans.starts.flatten(), spans.ends.flatten()
            )
            questions = seq2seq_candidates(
                self.backbone, None, mask[span_rows], inputs_embeds=tagged, **search
            )
            rows = span_rows
        answers = span_texts(
            self.tokenizer,
            [batch[keys.CONTEXTS][row] for row in rows.tolist()],
            input_ids[rows],
            spans.starts.flatten(),
            spans.ends.flatten(),
        )
        return group_candidates(
            answers,
            self.decode(questions.ids),
            spans.log_probs.flatten().tolist() if score else None,
            questions.scores(),
            k,
        )
