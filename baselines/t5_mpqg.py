"""T5-MPQG (paper 4.2, after Song et al.): one T5 trained on question generation, then on
answer generation, in sequence; at inference it produces both.

"In sequence" means one task's loss is optimised at a time: the first
``question_phase_steps`` optimiser steps minimise the question loss only, the rest the answer
loss (alone unless rehearsal is on, below). The other task's loss is still computed and
logged, so that ``train/question_loss`` rising during the answer phase shows forgetting.
``train/phase`` is 0 in the question phase and 1 in the answer phase.

Strictly sequential, the answer phase erases the learnt questions, and a lower answer-phase
lr does not prevent it (docs/design-notes.md#t5-mpqg-question-rehearsal).
``question_rehearsal_weight`` = w > 0 rehearses the first task during the second: the answer
phase optimises ``answer_loss + w * question_loss``, the standard mitigation of forgetting
when fine-tuning on a second task. The question phase stays question-only and, for w < 1,
the answer phase stays dominated by the answer loss, so the training is still "questions,
then answers"; w = 0 is strictly sequential.
"""

from __future__ import annotations

from typing import Any

import torch

from qapgen.data import batch_keys as keys
from qapgen.data.features import ANSWER_TARGET, CONTEXT_INPUT, QUESTION_TARGET
from qapgen.models.base import (
    GenerationOptions,
    PairCandidate,
    QAPModule,
    Vocabulary,
    best_pairs,
    group_candidates,
)
from qapgen.models.seq2seq import seq2seq_candidates, seq2seq_loss

PHASES = ("question", "answer")


class T5MPQGModule(QAPModule):
    """One T5, two tasks trained one after the other; each decodes from its start token.

    Args:
        question_phase_steps: optimiser steps of the question phase; when None, it is
            ``question_phase_fraction`` of the run's ``trainer.estimated_stepping_batches``,
            which keeps both phases inside a run whatever its length.
        question_phase_fraction: the question phase's share of the run (used when
            ``question_phase_steps`` is None).
        question_rehearsal_weight: w of ``answer_loss + w * question_loss`` in the answer
            phase; 0 (the default) optimises the answer loss alone, as published.
        **kwargs: the shared base's arguments.

    ``loss`` (training and evaluation) is the loss of the phase at ``self.global_step``;
    after training that is the answer phase.
    """

    tasks = ("answer", "question")
    data_features = (CONTEXT_INPUT, ANSWER_TARGET, QUESTION_TARGET)
    # The phase schedule decides which task loss is optimised at each step.
    supports_loss_balancing = False

    def __init__(
        self,
        question_phase_steps: int | None = None,
        question_phase_fraction: float = 0.5,
        question_rehearsal_weight: float = 0.0,
        **kwargs: Any,
    ) -> None:
        if not 0.0 <= question_phase_fraction <= 1.0:
            raise ValueError(
                f"question_phase_fraction must be in [0, 1], not {question_phase_fraction}"
            )
        if question_rehearsal_weight < 0.0:
            raise ValueError(
                f"question_rehearsal_weight must be >= 0, not {question_rehearsal_weight}"
            )
        super().__init__(**kwargs)

    def build(self, vocab: Vocabulary) -> None:
        self.backbone = self.load_backbone(vocab)
        self.start_token_ids = {
            "answer": vocab.answer_start_token_id,
            "question": vocab.question_start_token_id,
        }

    def question_phase_length(self) -> int:
        """Steps of the question phase (see the class docstring)."""
        if self.hparams.question_phase_steps is not None:
            return self.hparams.question_phase_steps
        total = self.trainer.estimated_stepping_batches
        return round(self.hparams.question_phase_fraction * total)

    def current_phase(self) -> str:
        """``question`` before ``question_phase_length()`` optimiser steps, then ``answer``."""
        return PHASES[0] if self.global_step < self.question_phase_length() else PHASES[1]

    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        phase = float(PHASES.index(self.current_phase()))
        self.log("train/phase", phase, batch_size=len(batch[keys.IDS]))
        return super().training_step(batch, batch_index)

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        losses = {f"{task}_loss": self._task_loss(batch, task) for task in self.tasks}
        phase = self.current_phase()
        # Only the phase's task is optimised; the other is measured for the logs, and in the
        # answer phase optionally rehearsed so that the questions are not overwritten.
        loss = losses[f"{phase}_loss"]
        if phase == "answer" and self.hparams.question_rehearsal_weight:
            loss = loss + self.hparams.question_rehearsal_weight * losses["question_loss"]
        return {"loss": loss, **losses}

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return best_pairs(self.generate_candidates(batch, score=False))

    def generate_candidates(
        self, batch: dict[str, Any], options: GenerationOptions | None = None, *, score: bool = True
    ) -> list[list[PairCandidate]]:
        """K answers and K questions, each decoded from the context alone (the model does
        not condition one on the other), paired by rank: the k-th answer with the k-th
        question. ``answer_in_context`` limits the answers only."""
        options = options or GenerationOptions()
        outputs = {
            task: seq2seq_candidates(
                self.backbone,
                batch[keys.INPUT_IDS],
                batch[keys.INPUT_MASK],
                start_token_id=self.start_token_ids[task],
                max_length=self.hparams[f"max_{task}_length"],
                num_beams=self.hparams.num_beams,
                num_return_sequences=options.num_return_sequences,
                do_sample=options.do_sample,
                top_p=options.top_p,
                constraint=(
                    self.context_constraint(batch)
                    if task == "answer" and options.answer_in_context
                    else None
                ),
                score=score,
            )
            for task in self.tasks
        }
        return group_candidates(
            self.decode(outputs["answer"].ids),
            self.decode(outputs["question"].ids),
            outputs["answer"].scores(),
            outputs["question"].scores(),
            options.num_return_sequences,
        )

    def _task_loss(self, batch: dict[str, Any], task: str) -> torch.Tensor:
        return seq2seq_loss(
            self.backbone,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            batch[keys.TASK_LABELS[task]],
            self.start_token_ids[task],
        )


# The name this class had until December 2026: checkpoints, exported folders and YAML that
# store it still load.
T5MPQG = T5MPQGModule
