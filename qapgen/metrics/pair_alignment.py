"""Pair-level scores of generated question-answer pairs, as QAG papers report them.

QA-aligned F1 (Ushio et al. 2023, lmqg's ``QAAlignedF1Score``): the generated pairs of one
context are matched to its gold pairs. Each pair is one text, ``"question: Q, answer: A"``;
a similarity scores every generated text against every gold text of the context. Then

- precision = mean over generated pairs of the best similarity to any gold pair,
- recall = mean over gold pairs of the best similarity to any generated pair,
- F1 = 2PR / (P + R),

per context, averaged over contexts (a context with no generated pair scores 0). Repeated
generated pairs of a context count once. The similarity is BERTScore
(:class:`BertScoreSimilarity`) or any function of two aligned lists of texts.

Answerability: a QA model answers each generated question from its context; the score is
the mean token F1 between that answer and the generated answer.

Scores are reported in 0-100, like the n-gram metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

from qapgen.metrics.token_f1 import token_f1

# (generated texts, gold texts) -> one similarity per aligned position
Similarity = Callable[[list[str], list[str]], list[float]]
# (contexts, questions) -> answers
AnswerQuestions = Callable[[Sequence[str], Sequence[str]], list[str]]

# lmqg's pair rendering, so that scores are comparable with QG-Bench's.
PAIR_TEMPLATE = "question: {question}, answer: {answer}"
# BERTScore's defaults for English (bert_score's lang="en"): roberta-large, layer 17.
DEFAULT_BERTSCORE_MODEL = "roberta-large"
DEFAULT_BERTSCORE_LAYER = 17


class ScorerUnavailableError(RuntimeError):
    """A scorer model (BERTScore's encoder) cannot be loaded here."""


@dataclass(frozen=True)
class QAPair:
    question: str
    answer: str

    def text(self) -> str:
        return PAIR_TEMPLATE.format(question=self.question, answer=self.answer)


@dataclass(frozen=True)
class AlignedScore:
    """Precision, recall and F1 in 0-100, and how many contexts were averaged."""

    precision: float
    recall: float
    f1: float
    contexts: int


def group_pairs(
    contexts: Sequence[Hashable], questions: Sequence[str], answers: Sequence[str]
) -> dict[Hashable, list[QAPair]]:
    """The pairs of each context, contexts in first-seen order."""
    if not len(contexts) == len(questions) == len(answers):
        raise ValueError(
            f"{len(contexts)} contexts, {len(questions)} questions and {len(answers)} answers"
        )
    groups: dict[Hashable, list[QAPair]] = {}
    for context, question, answer in zip(contexts, questions, answers, strict=True):
        groups.setdefault(context, []).append(QAPair(question, answer))
    return groups


def qa_aligned_f1(
    generated: Sequence[Sequence[QAPair]],
    gold: Sequence[Sequence[QAPair]],
    similarity: Similarity,
) -> AlignedScore:
    """QA-aligned precision, recall and F1 of ``generated[i]`` against ``gold[i]`` per context.

    Every gold list must be non-empty; a generated list may be empty. The similarity is
    asked once for every distinct (generated text, gold text) combination.
    """
    if len(generated) != len(gold):
        raise ValueError(f"{len(generated)} generated groups against {len(gold)} gold groups")
    if not gold:
        raise ValueError("no contexts to score")
    generated_texts = [list(dict.fromkeys(pair.text() for pair in group)) for group in generated]
    gold_texts = []
    for index, group in enumerate(gold):
        if not group:
            raise ValueError(f"context {index} has no gold pair")
        gold_texts.append([pair.text() for pair in group])
    combinations = list(
        dict.fromkeys(
            (hypothesis, reference)
            for hypotheses, references in zip(generated_texts, gold_texts, strict=True)
            for hypothesis in hypotheses
            for reference in references
        )
    )
    scores: dict[tuple[str, str], float] = {}
    if combinations:
        hypotheses, references = (list(side) for side in zip(*combinations, strict=True))
        values = similarity(hypotheses, references)
        if len(values) != len(combinations):
            raise ValueError(f"the similarity gave {len(values)} scores for {len(combinations)}")
        scores = dict(zip(combinations, (float(v) for v in values), strict=True))
    precisions, recalls, f1s = [], [], []
    for hypotheses, references in zip(generated_texts, gold_texts, strict=True):
        precision = recall = 0.0
        if hypotheses:
            precision = _mean(max(scores[h, r] for r in references) for h in hypotheses)
            recall = _mean(max(scores[h, r] for h in hypotheses) for r in references)
        total = precision + recall
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(2 * precision * recall / total if total > 0 else 0.0)
    return AlignedScore(
        precision=100 * _mean(precisions),
        recall=100 * _mean(recalls),
        f1=100 * _mean(f1s),
        contexts=len(gold),
    )


def answerability_f1(
    contexts: Sequence[str],
    questions: Sequence[str],
    answers: Sequence[str],
    answer_questions: AnswerQuestions,
) -> float:
    """Mean token F1 (0-100) between a QA model's answer to each generated question and the
    generated answer."""
    if not len(contexts) == len(questions) == len(answers):
        raise ValueError(
            f"{len(contexts)} contexts, {len(questions)} questions and {len(answers)} answers"
        )
    if not questions:
        raise ValueError("no pairs to score")
    qa_answers = answer_questions(contexts, questions)
    if len(qa_answers) != len(questions):
        raise ValueError(f"the QA model gave {len(qa_answers)} answers for {len(questions)}")
    return 100 * _mean(token_f1(qa, ours) for qa, ours in zip(qa_answers, answers, strict=True))


class BertScoreSimilarity:
    """BERTScore of aligned text lists through torchmetrics, as a :data:`Similarity`.

    Args:
        model: a hub name or a local folder holding the encoder and its tokenizer.
        num_layers: the hidden layer whose states are compared (BERTScore's layer choice).
        component: which BERTScore of each pair is the similarity. lmqg's QA-aligned
            scores take BERTScore's precision (its wrapper reads the first of bert_score's
            (P, R, F)), so ``"precision"`` keeps numbers comparable with QG-Bench's;
            ``"f1"`` is the symmetric choice.
        batch_size, device: passed to torchmetrics.
    """

    def __init__(
        self,
        model: str = DEFAULT_BERTSCORE_MODEL,
        *,
        num_layers: int | None = DEFAULT_BERTSCORE_LAYER,
        component: Literal["precision", "recall", "f1"] = "precision",
        batch_size: int = 64,
        device: str | None = None,
    ) -> None:
        if component not in ("precision", "recall", "f1"):
            raise ValueError(f"component must be precision, recall or f1, not {component!r}")
        self.model = model
        self.num_layers = num_layers
        self.component = component
        self.batch_size = batch_size
        self.device = device

    def __call__(self, hypotheses: list[str], references: list[str]) -> list[float]:
        from torchmetrics.functional.text.bert import bert_score

        try:
            result = bert_score(
                hypotheses,
                references,
                model_name_or_path=self.model,
                num_layers=self.num_layers,
                batch_size=self.batch_size,
                device=self.device,
                verbose=False,
            )
        except OSError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise ScorerUnavailableError(
                f"BERTScore model {self.model!r} could not be loaded ({reason}); download it "
                "where there is network (hf download NAME --local-dir DIR) and "
                "pass the folder"
            ) from error
        values = result[self.component]
        return [float(v) for v in values.reshape(-1).tolist()]

    def describe(self) -> str:
        layer = "last layer" if self.num_layers is None else f"layer {self.num_layers}"
        return f"BERTScore {self.component} ({self.model}, {layer}, torchmetrics)"


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def score_pairs(
    contexts: Sequence[str],
    questions: Sequence[str],
    answers: Sequence[str],
    gold_questions: Sequence[str],
    gold_answers: Sequence[str],
    *,
    similarity: Similarity | None = None,
    answer_questions: AnswerQuestions | None = None,
) -> dict[str, float | int | None]:
    """The pair-level scores of one prediction set (one generated pair per row, rows grouped
    by context); a score whose scorer is not given is ``None``."""
    generated = group_pairs(contexts, questions, answers)
    gold = group_pairs(contexts, gold_questions, gold_answers)
    result: dict[str, float | int | None] = {
        "qa_aligned_precision": None,
        "qa_aligned_recall": None,
        "qa_aligned_f1": None,
        "answerability_f1": None,
        "contexts": len(gold),
        "pairs": len(questions),
    }
    if similarity is not None:
        aligned = qa_aligned_f1(list(generated.values()), list(gold.values()), similarity)
        result["qa_aligned_precision"] = aligned.precision
        result["qa_aligned_recall"] = aligned.recall
        result["qa_aligned_f1"] = aligned.f1
    if answer_questions is not None:
        result["answerability_f1"] = answerability_f1(
            contexts, questions, answers, answer_questions
        )
    return result


class PairScorer:
    """The pair-level scores of a test set's prediction rows (a qapgen run's
    ``predictions/test.jsonl`` rows: ``context``, ``predicted_*`` and ``gold_*``), for a pair
    model to log at test time. Only the scores whose scorer is given are returned."""

    def __init__(
        self,
        similarity: Similarity | None = None,
        answer_questions: AnswerQuestions | None = None,
    ) -> None:
        self.similarity = similarity
        self.answer_questions = answer_questions

    def __call__(self, rows: Sequence[dict]) -> dict[str, float]:
        scores = score_pairs(
            [row["context"] for row in rows],
            [row["predicted_question"] for row in rows],
            [row["predicted_answer"] for row in rows],
            [row["gold_question"] for row in rows],
            [row["gold_answer"] for row in rows],
            similarity=self.similarity,
            answer_questions=self.answer_questions,
        )
        return {
            name: float(value)
            for name, value in scores.items()
            if name not in ("contexts", "pairs") and value is not None
        }
