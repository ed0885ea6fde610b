"""``--pair_metrics.*`` of the Lightning CLI: the pair-level test scores a pair model logs
(``test/pair/*``), built into the model's ``pair_scorer`` before the run starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qapgen.metrics.pair_alignment import (
    DEFAULT_BERTSCORE_LAYER,
    BertScoreSimilarity,
    PairScorer,
)


@dataclass
class PairMetrics:
    """Pair-level test scores for pair models (off unless a scorer is named).

    Args:
        bertscore_model: BERTScore encoder for QA-aligned P/R/F1: a hub name (e.g.
            ``roberta-large``) or a local folder; None skips them.
        bertscore_layer: the encoder layer BERTScore compares (roberta-large's is 17).
        bertscore_component: the BERTScore of two pairs taken as their similarity
            (``precision``, as lmqg's QA-aligned scores).
        qa_model: an exported model that answers questions (a QA2QG export) for
            answerability F1; None skips it.
    """

    bertscore_model: str | None = None
    bertscore_layer: int | None = DEFAULT_BERTSCORE_LAYER
    bertscore_component: Literal["precision", "recall", "f1"] = "precision"
    qa_model: str | None = None


def build_pair_scorer(settings: PairMetrics) -> PairScorer | None:
    """The scorer the settings ask for; the QA model is loaded now, so that a wrong path
    fails before training rather than after it."""
    if settings.bertscore_model is None and settings.qa_model is None:
        return None
    similarity = None
    if settings.bertscore_model is not None:
        similarity = BertScoreSimilarity(
            settings.bertscore_model,
            num_layers=settings.bertscore_layer,
            component=settings.bertscore_component,
        )
    answer_questions = None
    if settings.qa_model is not None:
        answer_questions = load_answer_questions(settings.qa_model, "pair_metrics.qa_model")
    return PairScorer(similarity=similarity, answer_questions=answer_questions)


def load_answer_questions(folder, option: str):
    """The ``answer_questions`` of an exported model or checkpoint; a one-line
    ``CommandError`` naming ``option`` when it cannot be loaded or cannot answer."""
    from qapgen.cli.errors import CommandError
    from qapgen.export import ModelLoadError, load_model

    try:
        model = load_model(folder).model
    except ModelLoadError as error:
        raise CommandError(f"{option}: {error}") from error
    answer_questions = getattr(model, "answer_questions", None)
    if answer_questions is None:
        raise CommandError(
            f"{option} {folder}: {type(model).__name__} cannot answer questions (it has no "
            "answer_questions); pass a QA2QG export"
        )
    return answer_questions
