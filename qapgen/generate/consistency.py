"""Round-trip consistency: a QA model answers each generated question from its sentence;
a pair whose generated answer disagrees with that answer (token F1 below a threshold) is
dropped, or kept with a flag.

The QA model is any function ``(contexts, questions) -> answers``; QA2QG's
``answer_questions`` is one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qapgen.metrics.token_f1 import token_f1

AnswerQuestions = Callable[[Sequence[str], Sequence[str]], list[str]]


@dataclass(frozen=True)
class ConsistencyCheck:
    """The QA model's answer to a generated question and its agreement with the pair's."""

    qa_answer: str
    f1: float
    consistent: bool


class ConsistencyFilter:
    """Checks pairs in batches with ``answer_questions``.

    Args:
        answer_questions: the QA model, ``(contexts, questions) -> answers``.
        threshold: the least token F1 for a pair to count as consistent.
        keep_inconsistent: keep failing pairs (flagged) instead of dropping them.
    """

    def __init__(
        self,
        answer_questions: AnswerQuestions,
        threshold: float,
        *,
        keep_inconsistent: bool = False,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"the consistency threshold is a token F1 in [0, 1], not {threshold}")
        self.answer_questions = answer_questions
        self.threshold = threshold
        self.keep_inconsistent = keep_inconsistent

    def check(
        self, contexts: Sequence[str], questions: Sequence[str], answers: Sequence[str]
    ) -> list[ConsistencyCheck]:
        """One check per (context, question, generated answer)."""
        if not questions:
            return []
        qa_answers = self.answer_questions(list(contexts), list(questions))
        if len(qa_answers) != len(questions):
            raise ValueError(
                f"the QA model returned {len(qa_answers)} answers for {len(questions)} questions"
            )
        checks = []
        for qa_answer, answer in zip(qa_answers, answers, strict=True):
            f1 = token_f1(answer, qa_answer)
            checks.append(ConsistencyCheck(qa_answer, f1, f1 >= self.threshold))
        return checks
