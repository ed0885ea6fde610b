"""QA2QG (paper 4.2, after Dugan et al.): one T5 trained on three prompted tasks at once.

Training sums, every step, the losses of question generation, question answering and answer
extraction, each with its own prompt (``data_features``). Inference is a pipeline: extract an
answer from the context, then generate the question from the context and that generated
answer. Dugan et al.'s summarisation step is not used at sentence level (paper 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from qapgen.data.features import ANSWER_TARGET, QUESTION_TARGET, TextFeature
from qapgen.models.base import QAPModule, Vocabulary
from qapgen.models.seq2seq import seq2seq_generate, seq2seq_loss

QUESTION_GENERATION_PROMPT = TextFeature(
    "qg_prompt", "generate question: answer: {answer} context: {context}", "input", "source"
)
QUESTION_ANSWERING_PROMPT = TextFeature(
    "qa_prompt", "answer question: question: {question} context: {context}", "input", "source"
)
ANSWER_EXTRACTION_PROMPT = TextFeature(
    "ae_prompt", "extract answer: context: {context}", "input", "source"
)


class QA2QG(QAPModule):
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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.hparams.get("loss_balancing", "model") != "model":
            # A balancer weighs only the answer and question losses and would drop qa_loss.
            raise ValueError("QA2QG sums its three task losses; loss_balancing must be 'model'")
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
            batch, QUESTION_GENERATION_PROMPT, "question_labels", self.question_start_token_id
        )
        qa_loss = self._prompt_loss(
            batch, QUESTION_ANSWERING_PROMPT, "answer_labels", self.answer_start_token_id
        )
        answer_loss = self._prompt_loss(
            batch, ANSWER_EXTRACTION_PROMPT, "answer_labels", self.answer_start_token_id
        )
        return {
            "loss": question_loss + qa_loss + answer_loss,
            "question_loss": question_loss,
            "answer_loss": answer_loss,
            "qa_loss": qa_loss,
        }

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        prompt = ANSWER_EXTRACTION_PROMPT.name
        answer_ids = self._generate(
            batch[f"{prompt}_ids"],
            batch[f"{prompt}_attention_mask"],
            self.answer_start_token_id,
            self.hparams.max_answer_length,
        )
        answers = self.decode(answer_ids)
        questions = self.generate_questions(batch["contexts"], answers)
        return {"answer": answers, "question": questions}

    def generate_questions(self, contexts: Sequence[str], answers: Sequence[str]) -> list[str]:
        """A question for each (context, answer) pair, from the question generation prompt."""
        texts = [
            QUESTION_GENERATION_PROMPT.template.format(context=context, answer=answer)
            for context, answer in zip(contexts, answers, strict=True)
        ]
        return self._generate_from_texts(
            texts, self.question_start_token_id, self.hparams.max_question_length
        )

    def answer_questions(self, contexts: Sequence[str], questions: Sequence[str]) -> list[str]:
        """An answer to each question about its context, from the question answering prompt
        (the QA head that round-trip consistency filtering uses)."""
        texts = [
            QUESTION_ANSWERING_PROMPT.template.format(context=context, question=question)
            for context, question in zip(contexts, questions, strict=True)
        ]
        return self._generate_from_texts(
            texts, self.answer_start_token_id, self.hparams.max_answer_length
        )

    def _prompt_loss(
        self, batch: dict[str, Any], prompt: TextFeature, labels: str, start_token_id: int
    ) -> torch.Tensor:
        return seq2seq_loss(
            self.backbone,
            batch[f"{prompt.name}_ids"],
            batch[f"{prompt.name}_attention_mask"],
            batch[labels],
            start_token_id,
        )

    def _generate_from_texts(
        self, texts: list[str], start_token_id: int, max_length: int
    ) -> list[str]:
        if self.tokenizer is None:
            raise RuntimeError(
                "QA2QG tokenises prompts at inference and has no tokenizer: run it under a "
                "Trainer with the DataModule, or set model.tokenizer"
            )
        encoded = self.tokenizer(
            texts,
            padding=True,
            truncation=self.max_source_length is not None,
            max_length=self.max_source_length,
            return_tensors="pt",
        ).to(self.device)
        ids = self._generate(
            encoded["input_ids"], encoded["attention_mask"], start_token_id, max_length
        )
        return self.decode(ids)

    def _generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        start_token_id: int,
        max_length: int,
    ) -> torch.Tensor:
        return seq2seq_generate(
            self.backbone,
            input_ids,
            attention_mask,
            start_token_id=start_token_id,
            max_length=max_length,
            num_beams=self.hparams.num_beams,
        )
