"""T5-QG (paper 4.2): a plain T5 that generates a question from the context alone."""

from __future__ import annotations

from typing import Any

import torch

from qapgen.data import batch_keys as keys
from qapgen.data.features import CONTEXT_INPUT, QUESTION_TARGET, source_feature
from qapgen.models.base import QAPModule, Vocabulary
from qapgen.models.seq2seq import seq2seq_generate, seq2seq_loss


class T5QGModule(QAPModule):
    """Context -> question with one T5; produces questions only (no answers).

    The decoder starts with the question start token, as IGJA-QAP's question decoder does.

    Args:
        source_template: the input text, rendered per record (``qapgen.data.features``):
            ``{context}`` (the paper's T5-QG), or an answer-aware format such as QG-Bench's
            ``"generate question: {context_hl}"`` (the answer between ``<hl>`` tokens) or
            ``{context_sentence_hl}`` (the answer's sentence between them).
            ``{question}`` is refused: it is the target.
    """

    tasks = ("question",)
    data_features = (CONTEXT_INPUT, QUESTION_TARGET)

    def __init__(self, source_template: str = "{context}", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The instance's features replace the class's: the DataModule asks the model.
        self.data_features = (
            source_feature(
                source_template, allowed=("context", "context_hl", "context_sentence_hl", "answer")
            ),
            QUESTION_TARGET,
        )

    def build(self, vocab: Vocabulary) -> None:
        self.backbone = self.load_backbone(vocab)
        self.start_token_id = vocab.question_start_token_id

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss = seq2seq_loss(
            self.backbone,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            batch[keys.QUESTION_LABELS],
            self.start_token_id,
        )
        return {"loss": loss, "question_loss": loss}

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        question_ids = seq2seq_generate(
            self.backbone,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            start_token_id=self.start_token_id,
            max_length=self.hparams.max_question_length,
            num_beams=self.hparams.num_beams,
        )
        return {"question": self.decode(question_ids)}


# The name this class had until December 2026: checkpoints, exported folders and YAML that
# store it still load.
T5QG = T5QGModule
