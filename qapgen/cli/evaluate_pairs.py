"""``qapgen evaluate --task pairs``: a pair model's predictions scored per task (BLEU,
ROUGE-L, METEOR) and as pairs (QA-aligned F1 on BERTScore, answerability F1).

Reads a qapgen run's ``predictions/test.jsonl``: every row needs ``context``,
``predicted_question``, ``predicted_answer``, ``gold_question`` and ``gold_answer``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from qapgen.cli.pair_metrics import load_answer_questions
from qapgen.cli.prediction_files import (
    TABLE_ROWS,
    read_predictions,
    score_records,
    scoring_options,
)

PAIR_ROWS = (
    ("qa_aligned_f1", "QA-aligned F1"),
    ("qa_aligned_precision", "QA-aligned P"),
    ("qa_aligned_recall", "QA-aligned R"),
    ("answerability_f1", "answerability F1"),
)


def run_pairs(args: argparse.Namespace) -> int:
    from qapgen.cli.errors import CommandError
    from qapgen.metrics.pair_alignment import (
        BertScoreSimilarity,
        ScorerUnavailableError,
        score_pairs,
    )

    questions = read_predictions(args.predictions, needs_context=True, task="question")
    answers = read_predictions(args.predictions, needs_context=True, task="answer")
    options = scoring_options(args)
    tasks = {
        "question": score_records(questions, **options),
        "answer": score_records(answers, **options),
    }
    implementations = {**tasks["question"].pop("implementations", {})}
    tasks["answer"].pop("implementations", None)

    similarity = None
    if args.bertscore_model != "none":
        similarity = BertScoreSimilarity(
            args.bertscore_model,
            num_layers=args.bertscore_layer,
            component=args.bertscore_component,
        )
        implementations["qa_aligned"] = (
            f"{similarity.describe()}; pairs as 'question: Q, answer: A', matched per context, "
            "macro-averaged over contexts (lmqg's QAAlignedF1Score)"
        )
    answer_questions = None
    if args.qa_model is not None:
        answer_questions = load_answer_questions(args.qa_model, "--qa-model")
        implementations["answerability"] = (
            f"token F1 between {args.qa_model}'s answer to each generated question and the "
            "generated answer"
        )
    try:
        pairs = score_pairs(
            [r["context"] for r in questions],
            [r["prediction"] for r in questions],
            [r["prediction"] for r in answers],
            [r["references"][0] for r in questions],
            [r["references"][0] for r in answers],
            similarity=similarity,
            answer_questions=answer_questions,
        )
    except ScorerUnavailableError as error:
        raise CommandError(
            f"{error} with --bertscore-model, or pass --bertscore-model none"
        ) from error
    result = {**tasks, "pairs": pairs, "implementations": implementations}
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_pair_table(result, qa_model_given=args.qa_model is not None))
    return 0


def format_pair_table(result: dict[str, Any], *, qa_model_given: bool) -> str:
    question, answer, pairs = result["question"], result["answer"], result["pairs"]

    def cell(value: float | None) -> str:
        return "-" if value is None else format(value, "6.2f")

    header = (
        f"protocol {question['protocol']}: {pairs['pairs']} pairs in {pairs['contexts']} contexts"
    )
    rows = [f"{'':<17} {'question':>8} {'answer':>8}"]
    rows += [
        f"{label:<17} {cell(question[key]):>8} {cell(answer[key]):>8}" for key, label in TABLE_ROWS
    ]
    rows += [f"{label:<17} {cell(pairs[key]):>8}" for key, label in PAIR_ROWS]
    notes = [f"  {name}: {line}" for name, line in result["implementations"].items()]
    if not qa_model_given:
        notes.append("  answerability: not scored (pass --qa-model with a QA2QG export)")
    return "\n".join([header, *rows, "implementations:", *notes])
