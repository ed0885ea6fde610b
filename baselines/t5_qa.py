"""T5-QA (paper 4.2, after Alberti et al.): a plain T5 that generates an answer from the context."""

from __future__ import annotations

from typing import Any

import torch

from qapgen.data import batch_keys as keys
from qapgen.data.features import ANSWER_TARGET, CONTEXT_INPUT, source_feature
from qapgen.models.base import QAPModule, Vocabulary
from qapgen.models.seq2seq import seq2seq_generate, seq2seq_loss


class T5QAModule(QAPModule):
    """Context -> answer with one T5, generative (the answer need not be a span); produces
    answers only (no questions).

    The decoder starts with the answer start token, as IGJA-QAP's answer decoder does.

    Args:
        source_template: the input text, rendered per record (``qapgen.data.features``):
            ``{context}`` (the paper's T5-QA), a reading-comprehension format such as
            ``"question: {question} context: {context}"``, or QG-Bench's answer extraction,
            ``"extract answers: {context_sentence_hl}"`` (the answer's sentence between
            ``<hl>`` tokens). Fields that show the answer (``{answer}``, ``{context_hl}``) are
            refused.
    """

    tasks = ("answer",)
    data_features = (CONTEXT_INPUT, ANSWER_TARGET)

    def __init__(self, source_template: str = "{context}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The instance's features replace the class's: the DataModule asks the model.
        self.data_features = (
            source_feature(source_template, allowed=("context", "context_sentence_hl", "question")),
            ANSWER_TARGET,
        )

    def build(self, vocab: Vocabulary) -> None:
        self.backbone = self.load_backbone(vocab)
        self.start_token_id = vocab.answer_start_token_id

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss = seq2seq_loss(
            self.backbone,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            batch[keys.ANSWER_LABELS],
            self.start_token_id,
        )
        return {"loss": loss, "answer_loss": loss}

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        answer_ids = seq2seq_generate(
            self.backbone,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            start_token_id=self.start_token_id,
            max_length=self.hparams.max_answer_length,
            num_beams=self.hparams.num_beams,
        )
        return {"answer": self.decode(answer_ids)}


# The name this class had until December 2026: checkpoints, exported folders and YAML that
# store it still load.
T5QA = T5QAModule
