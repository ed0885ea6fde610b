"""A published checkpoint's outputs over qapgen records, scored with qapgen's protocol.

- question formats: one input per record (its answer highlighted); the question is scored
  against the record's gold question (per-example protocol).
- end-to-end formats (several questions, or pairs, per context): one input per distinct
  context; each generated question is scored against every gold question of its context,
  and generated pairs are matched to the context's gold pairs (QA-aligned F1) when a
  similarity is given.

Every record or output part that cannot be used is counted in ``counts``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qapgen.data.records import QARecord
from qapgen.metrics.pair_alignment import QAPair, Similarity, qa_aligned_f1
from qapgen.published.formats import CheckpointFormat, parse_pairs, parse_questions

# sources -> generated texts
Generate = Callable[[list[str]], list[str]]
# (predictions, each prediction's references) -> qapgen.metrics.score's result
Score = Callable[[list[str], list[list[str]]], dict[str, Any]]


@dataclass
class PublishedEvaluation:
    question: dict[str, Any] | None = None
    pairs: dict[str, float | int] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)


def evaluate_published(
    records: Sequence[QARecord],
    checkpoint_format: CheckpointFormat,
    generate: Generate,
    score: Score,
    *,
    similarity: Similarity | None = None,
) -> PublishedEvaluation:
    if checkpoint_format.unit == "answer":
        return _evaluate_per_answer(records, checkpoint_format, generate, score)
    return _evaluate_per_context(records, checkpoint_format, generate, score, similarity)


def _evaluate_per_answer(records, checkpoint_format, generate, score) -> PublishedEvaluation:
    usable, sources = [], []
    for record in records:
        source = checkpoint_format.source(record)
        if source is not None:
            usable.append(record)
            sources.append(source)
    result = PublishedEvaluation(
        counts={
            "records": len(records),
            "skipped_answer_not_in_context": len(records) - len(usable),
        }
    )
    if not usable:
        raise ValueError("no record has its answer inside its context; nothing to score")
    questions = generate(sources)
    result.question = score(questions, [[record.question] for record in usable])
    result.predictions = [
        {"id": record.id, "source": source, "predicted_question": question,
         "gold_question": record.question, "gold_answer": record.answer}
        for record, source, question in zip(usable, sources, questions, strict=True)
    ]  # fmt: skip
    return result


def _evaluate_per_context(
    records, checkpoint_format, generate, score, similarity
) -> PublishedEvaluation:
    contexts: dict[str, list[QARecord]] = {}
    for record in records:
        contexts.setdefault(record.context, []).append(record)
    groups = list(contexts.values())
    sources = [checkpoint_format.source(group[0]) for group in groups]
    outputs = generate(sources)
    result = PublishedEvaluation(counts={"records": len(records), "contexts": len(groups)})
    generated_pairs: list[list[QAPair]] = []
    predictions, references = [], []
    rejected = 0
    for group, source, output in zip(groups, sources, outputs, strict=True):
        if checkpoint_format.output == "pairs":
            pairs, rejected_parts = parse_pairs(output)
            rejected += rejected_parts
            questions = [question for question, _ in pairs]
            generated_pairs.append([QAPair(q, a) for q, a in pairs])
        else:
            questions = parse_questions(output)
        gold_questions = list(dict.fromkeys(record.question for record in group))
        predictions += questions
        references += [gold_questions] * len(questions)
        result.predictions.append(
            {"ids": [record.id for record in group], "source": source, "output": output,
             "gold_questions": gold_questions}
        )  # fmt: skip
    result.counts["questions_generated"] = len(predictions)
    result.counts["contexts_without_questions"] = sum(
        1 for row in result.predictions if not row["output"].strip()
    )
    if checkpoint_format.output == "pairs":
        result.counts["output_parts_not_a_pair"] = rejected
    if predictions:
        result.question = score(predictions, references)
    if checkpoint_format.output == "pairs" and similarity is not None:
        gold_pairs = [
            list(dict.fromkeys(QAPair(record.question, record.answer) for record in group))
            for group in groups
        ]
        aligned = qa_aligned_f1(generated_pairs, gold_pairs, similarity)
        result.pairs = {
            "qa_aligned_f1": aligned.f1,
            "qa_aligned_precision": aligned.precision,
            "qa_aligned_recall": aligned.recall,
            "contexts": aligned.contexts,
        }
    return result
