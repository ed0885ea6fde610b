"""QA2QG (paper 4.2, after Dugan et al.): one T5 trained on three prompted tasks at once.

Training sums, every step, the losses of question generation, question answering and answer
extraction, each with its own prompt (``data_features``). Inference is a pipeline: extract an
answer from the context, then generate the question from the context and that generated
answer. Dugan et al.'s summarisation step is not used at sentence level (paper 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from qapgen.data import batch_keys as keys
from qapgen.data.features import ANSWER_TARGET, QUESTION_TARGET, TextFeature
from qapgen.models.base import (
    GenerationOptions,
    PairCandidate,
    QAPModule,
    Vocabulary,
    best_pairs,
    group_candidates,
)
from qapgen.models.constraints import ContextSpanConstraint
from qapgen.models.seq2seq import Seq2SeqCandidates, seq2seq_candidates, seq2seq_loss

QUESTION_GENERATION_PROMPT = TextFeature(
    "qg_prompt", "generate question: answer: {answer} context: {context}", "input", "source"
)
QUESTION_ANSWERING_PROMPT = TextFeature(
    "qa_prompt", "answer question: question: {question} context: {context}", "input", "source"
)
ANSWER_EXTRACTION_PROMPT = TextFeature(
    "ae_prompt", "extract answer: context: {context}", "input", "source"
)


class QA2QGModule(QAPModule):
    """Multitask prompted T5: question generation + question answering + answer extraction.

    Losses: ``question_loss`` (question generation), ``answer_loss`` (answer extraction, the
    answer the pipeline produces) and ``qa_loss`` (question answering); ``loss`` is their sum.
    Answers decode from the answer start token, questions from the question start token.

    Prompts built at inference (the question generation prompt holds the generated answer,
    and ``answer_questions``) are tokenised with ``self.tokenizer`` and truncated to
    ``self.max_source_length``; both are taken from the DataModule in ``setup``. A caller
    outside a Trainer sets ``model.tokenizer`` (and, to truncate, ``model.max_source_length``).
    Takes only the shared base's arguments.
    """

    tasks = ("answer", "question")
    data_features = (
        QUESTION_GENERATION_PROMPT,
        QUESTION_ANSWERING_PROMPT,
        ANSWER_EXTRACTION_PROMPT,
        ANSWER_TARGET,
        QUESTION_TARGET,
    )
    # Three task losses: a balancer weighs only the answer and question losses and would
    # drop qa_loss.
    supports_loss_balancing = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_source_length: int | None = None

    def setup(self, stage: str) -> None:
        super().setup(stage)
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None:
            self.max_source_length = datamodule.max_lengths["source"]

    def build(self, vocab: Vocabulary) -> None:
        self.backbone = self.load_backbone(vocab)
        self.answer_start_token_id = vocab.answer_start_token_id
        self.question_start_token_id = vocab.question_start_token_id

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        question_loss = self._prompt_loss(
            batch, QUESTION_GENERATION_PROMPT, keys.QUESTION_LABELS, self.question_start_token_id
        )
        qa_loss = self._prompt_loss(
            batch, QUESTION_ANSWERING_PROMPT, keys.ANSWER_LABELS, self.answer_start_token_id
        )
        answer_loss = self._prompt_loss(
            batch, ANSWER_EXTRACTION_PROMPT, keys.ANSWER_LABELS, self.answer_start_token_id
        )
        return {
            "loss": question_loss + qa_loss + answer_loss,
            "question_loss": question_loss,
            "answer_loss": answer_loss,
            "qa_loss": qa_loss,
        }

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return best_pairs(self.generate_candidates(batch, score=False))

    def generate_candidates(
        self, batch: dict[str, Any], options: GenerationOptions | None = None, *, score: bool = True
    ) -> list[list[PairCandidate]]:
        """The pipeline with K answers: extract K (beam n-best or samples, optionally limited
        to the context), then the question generation prompt's question for each."""
        options = options or GenerationOptions()
        answers = self._candidates(
            batch[ANSWER_EXTRACTION_PROMPT.ids_key],
            batch[ANSWER_EXTRACTION_PROMPT.mask_key],
            self.answer_start_token_id,
            self.hparams.max_answer_length,
            options,
            constraint=self.context_constraint(batch) if options.answer_in_context else None,
            score=score,
        )
        answer_texts = self.decode(answers.ids)
        contexts = [batch[keys.CONTEXTS][row] for row in answers.rows.tolist()]
        question_options = replace(options, num_return_sequences=1)
        questions = self._candidates(
            *self._encode_prompts(QUESTION_GENERATION_PROMPT, contexts, answer=answer_texts),
            self.question_start_token_id,
            self.hparams.max_question_length,
            question_options,
            score=score,
        )
        return group_candidates(
            answer_texts,
            self.decode(questions.ids),
            answers.scores(),
            questions.scores(),
            options.num_return_sequences,
        )

    def answer_questions(self, contexts: Sequence[str], questions: Sequence[str]) -> list[str]:
        """An answer to each question about its context, from the question answering prompt
        (the QA head that round-trip consistency filtering uses)."""
        return self._generate_from_prompts(
            QUESTION_ANSWERING_PROMPT,
            contexts,
            self.answer_start_token_id,
            self.hparams.max_answer_length,
            question=questions,
        )

    def _prompt_loss(
        self, batch: dict[str, Any], prompt: TextFeature, labels: str, start_token_id: int
    ) -> torch.Tensor:
        return seq2seq_loss(
            self.backbone,
            batch[prompt.ids_key],
            batch[prompt.mask_key],
            batch[labels],
            start_token_id,
        )

    def _generate_from_prompts(
        self,
        prompt: TextFeature,
        contexts: Sequence[str],
        start_token_id: int,
        max_length: int,
        **fields: Sequence[str],
    ) -> list[str]:
        outputs = self._candidates(
            *self._encode_prompts(prompt, contexts, **fields),
            start_token_id,
            max_length,
            GenerationOptions(),
            score=False,
        )
        return self.decode(outputs.ids)

    def _encode_prompts(
        self, prompt: TextFeature, contexts: Sequence[str], **fields: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``prompt`` filled with each context and the matching entries of ``fields``,
        tokenised -> input ids and attention mask (B, N) on the model's device."""
        if self.tokenizer is None:
            raise RuntimeError(
                "QA2QG tokenises prompts at inference and has no tokenizer: run it under a "
                "Trainer with the DataModule, or set model.tokenizer"
            )
        texts = [
            prompt.template.format(
                context=context, **{name: values[i] for name, values in fields.items()}
            )
            for i, context in enumerate(contexts)
        ]
        encoded = self.tokenizer(
            texts,
            padding=True,
            truncation=self.max_source_length is not None,
            max_length=self.max_source_length,
            return_tensors="pt",
        ).to(self.device)
        return encoded["input_ids"], encoded["attention_mask"]

    def _candidates(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        start_token_id: int,
        max_length: int,
        options: GenerationOptions,
        *,
        constraint: ContextSpanConstraint | None = None,
        score: bool,
    ) -> Seq2SeqCandidates:
        return seq2seq_candidates(
            self.backbone,
            input_ids,
            attention_mask,
            start_token_id=start_token_id,
            max_length=max_length,
            num_beams=self.hparams.num_beams,
            num_return_sequences=options.num_return_sequences,
            do_sample=options.do_sample,
            top_p=options.top_p,
            constraint=constraint,
            score=score,
        )


# The name this class had until December 2026: checkpoints, exported folders and YAML that
# store it still load.
QA2QG = QA2QGModule
