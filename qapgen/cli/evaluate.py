"""``qapgen evaluate``: score a JSONL file of predictions the way QG papers do.

Each line: ``{"id": .., "prediction": "..", "references": [".."], "context": ".."}``
(``context`` only for ``--protocol grouped``). Prints a table, or with ``--format json``
one JSON object with every score in 0-100, ``n``, ``protocol`` and the implementations.

``--task question|answer`` reads a qapgen run's ``predictions/test.jsonl`` instead;
``--task pairs`` scores both tasks of a pair model's predictions and the pairs themselves:
QA-aligned F1 on BERTScore, and answerability F1 with ``--qa-model``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qapgen.cli.prediction_files import (
    format_table,
    read_predictions,
    score_records,
    scoring_options,
)
from qapgen.metrics.pair_alignment import DEFAULT_BERTSCORE_LAYER, DEFAULT_BERTSCORE_MODEL


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score predictions: BLEU-1..4, ROUGE-L, METEOR 1.5 (coco-caption compatible)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--predictions", required=True, type=Path, metavar="P.jsonl")
    parser.add_argument(
        "--protocol",
        choices=("example", "grouped"),
        default="example",
        help="example: each prediction against its own references; grouped: one "
        "prediction per context against all its gold texts (Du et al.'s script)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--task",
        choices=("question", "answer", "pairs"),
        default=None,
        help="read a qapgen run's predictions/test.jsonl (fields predicted_<task> and "
        "gold_<task>) instead of the prediction/references format; pairs: both tasks of a "
        "pair model, and pair-level scores",
    )
    pairs = parser.add_argument_group("pair-level scores (--task pairs)")
    pairs.add_argument(
        "--bertscore-model",
        default=DEFAULT_BERTSCORE_MODEL,
        metavar="NAME|DIR",
        help="BERTScore encoder for QA-aligned F1: a hub name or a local folder; none skips "
        "it (default %(default)s)",
    )
    pairs.add_argument(
        "--bertscore-layer",
        type=int,
        default=DEFAULT_BERTSCORE_LAYER,
        help="the encoder layer BERTScore compares (default %(default)s, roberta-large's)",
    )
    pairs.add_argument(
        "--bertscore-component",
        choices=("precision", "recall", "f1"),
        default="precision",
        help="which BERTScore of two pairs is their similarity (default precision, as lmqg's "
        "QA-aligned scores)",
    )
    pairs.add_argument(
        "--qa-model",
        type=Path,
        default=None,
        metavar="DIR",
        help="a model that answers questions (an exported QA2QG) for answerability F1",
    )
    parser.add_argument(
        "--meteor",
        choices=("java", "none"),
        default="java",
        help="java: METEOR 1.5 (needs Java); none: skip it",
    )
    parser.add_argument(
        "--no-meteor-nltk",
        dest="meteor_nltk",
        action="store_false",
        help="skip nltk's METEOR (it needs WordNet)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read, score and print; user errors become ``CommandError``."""
    if args.task == "pairs":
        from qapgen.cli.evaluate_pairs import run_pairs

        return run_pairs(args)
    records = read_predictions(
        args.predictions, needs_context=args.protocol == "grouped", task=args.task
    )
    result = score_records(records, **scoring_options(args))
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0
