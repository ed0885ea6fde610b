"""T5-A2QG (paper 4.2, after Golub et al.'s SynNet): answer first, then the question from it.

Stage 1 generates the answer from the context. Stage 2 encodes the answer's token embeddings
concatenated with the context's and generates the question. Stage 2 trains on the gold answer
(teacher forcing across the stages) and, at inference, reads stage 1's generated answer.

The stages are two separate T5s, as SynNet's answer and question modules are separate: stage
2's encoder reads a different input (answer + context) from stage 1's (context), and "the
answer's embeddings" are then stage 2's own token embeddings, trained for question generation.
"""

from __future__ import annotations

from typing import Any

import torch

from qapgen.data import batch_keys as keys
from qapgen.data.features import ANSWER_TARGET, CONTEXT_INPUT, QUESTION_TARGET, TextFeature
from qapgen.models.base import (
    GenerationOptions,
    PairCandidate,
    QAPModule,
    Vocabulary,
    best_pairs,
    group_candidates,
)
from qapgen.models.seq2seq import seq2seq_candidates, seq2seq_loss
from qapgen.models.sequences import shift_right

# The gold answer as an encoder input of stage 2 during training.
GOLD_ANSWER_INPUT = TextFeature("gold_answer", "{answer}", "input", "answer")


class T5A2QGModule(QAPModule):
    """Two-stage pipeline: ``answer_model`` (context -> answer), ``question_model``
    ([answer embeddings; context embeddings] -> question).

    ``loss`` = ``answer_loss`` (stage 1) + ``question_loss`` (stage 2 on the gold answer).
    Takes only the shared base's arguments.
    """

    tasks = ("answer", "question")
    data_features = (CONTEXT_INPUT, GOLD_ANSWER_INPUT, ANSWER_TARGET, QUESTION_TARGET)
    # The stages share no parameters, so weighing one loss against the other changes nothing.
    supports_loss_balancing = False

    def build(self, vocab: Vocabulary) -> None:
        self.answer_model = self.load_backbone(vocab)
        self.question_model = self.load_backbone(vocab)
        self.answer_start_token_id = vocab.answer_start_token_id
        self.question_start_token_id = vocab.question_start_token_id
        self.pad_token_id = vocab.pad_token_id

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        answer_loss = seq2seq_loss(
            self.answer_model,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            batch[keys.ANSWER_LABELS],
            self.answer_start_token_id,
        )
        embeds, mask = self.question_encoder_inputs(
            batch[GOLD_ANSWER_INPUT.ids_key],
            batch[GOLD_ANSWER_INPUT.mask_key],
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
        )
        labels = batch[keys.QUESTION_LABELS]
        question_loss = self.question_model(
            inputs_embeds=embeds,
            attention_mask=mask,
            decoder_input_ids=shift_right(labels, self.question_start_token_id, self.pad_token_id),
            labels=labels,
        ).loss
        return {
            "loss": answer_loss + question_loss,
            "answer_loss": answer_loss,
            "question_loss": question_loss,
        }

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return best_pairs(self.generate_candidates(batch, score=False))

    def generate_candidates(
        self, batch: dict[str, Any], options: GenerationOptions | None = None, *, score: bool = True
    ) -> list[list[PairCandidate]]:
        """K answers from stage 1 (beam n-best or samples, optionally limited to the
        context), then stage 2's question for each generated answer."""
        options = options or GenerationOptions()
        hp = self.hparams
        context_ids, context_mask = batch[keys.INPUT_IDS], batch[keys.INPUT_MASK]
        search = {"num_beams": hp.num_beams, "do_sample": options.do_sample, "top_p": options.top_p}
        answers = seq2seq_candidates(
            self.answer_model,
            context_ids,
            context_mask,
            start_token_id=self.answer_start_token_id,
            max_length=hp.max_answer_length,
            num_return_sequences=options.num_return_sequences,
            constraint=self.context_constraint(batch) if options.answer_in_context else None,
            score=score,
            **search,
        )  # (B*K, T_a), </s> then padding
        rows = answers.rows
        answer_mask = (answers.ids != self.pad_token_id).long()
        embeds, mask = self.question_encoder_inputs(
            answers.ids, answer_mask, context_ids[rows], context_mask[rows]
        )
        questions = seq2seq_candidates(
            self.question_model,
            None,
            mask,
            inputs_embeds=embeds,
            start_token_id=self.question_start_token_id,
            max_length=hp.max_question_length,
            score=score,
            **search,
        )
        return group_candidates(
            self.decode(answers.ids),
            self.decode(questions.ids),
            answers.scores(),
            questions.scores(),
            options.num_return_sequences,
        )

    def question_encoder_inputs(
        self,
        answer_ids: torch.Tensor,
        answer_mask: torch.Tensor,
        context_ids: torch.Tensor,
        context_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 2's encoder input: the answer's then the context's token embeddings
        (B, T_a + T_c, D) and their attention mask (B, T_a + T_c)."""
        embed = self.question_model.get_input_embeddings()
        embeds = torch.cat([embed(answer_ids), embed(context_ids)], dim=1)
        mask = torch.cat([answer_mask, context_mask], dim=1)
        # Real tokens first, padding last (a stable sort keeps their order): the context then
        # starts right after the answer's </s>, at the same relative positions whether the
        # answer is gold (training) or generated (inference) and however wide it was padded.
        order = torch.sort(mask, dim=1, descending=True, stable=True).indices
        embeds = embeds.gather(1, order.unsqueeze(-1).expand_as(embeds))
        return embeds, mask.gather(1, order)


# The name this class had until December 2026: checkpoints, exported folders and YAML that
# store it still load.
T5A2QG = T5A2QGModule
