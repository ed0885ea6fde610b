"""``qapgen evaluate``: score a JSONL file of predictions the way QG papers do.

Each line: ``{"id": .., "prediction": "..", "references": [".."], "context": ".."}``
(``context`` only for ``--protocol grouped``). Prints a table, or with ``--format json``
one JSON object with every score in 0-100, ``n``, ``protocol`` and the implementations.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

TABLE_ROWS = (
    ("bleu1", "BLEU-1"),
    ("bleu2", "BLEU-2"),
    ("bleu3", "BLEU-3"),
    ("bleu4", "BLEU-4"),
    ("rougeL", "ROUGE-L"),
    ("meteor", "METEOR 1.5"),
    ("meteor_nltk", "METEOR (nltk)"),
)


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
        choices=("question", "answer"),
        default=None,
        help="read a qapgen run's predictions/test.jsonl (fields predicted_<task> and "
        "gold_<task>) instead of the prediction/references format",
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
    from qapgen.cli.main import CommandError
    from qapgen.metrics import MeteorError, WordNetUnavailableError, score

    records = read_predictions(
        args.predictions, needs_context=args.protocol == "grouped", task=args.task
    )
    try:
        result = score(
            [r["prediction"] for r in records],
            [r["references"] for r in records],
            protocol=args.protocol,
            contexts=[r["context"] for r in records] if args.protocol == "grouped" else None,
            meteor=args.meteor,
            meteor_nltk=args.meteor_nltk,
        )
    except MeteorError as error:
        raise CommandError(f"{error} (or pass --meteor none)") from error
    except WordNetUnavailableError as error:
        raise CommandError(f"{error} (or pass --no-meteor-nltk)") from error
    except ValueError as error:
        raise CommandError(f"{args.predictions}: {error}") from error
    for key, _ in TABLE_ROWS:
        result.setdefault(key, None)
    if args.format == "json":
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0


def read_predictions(
    path: Path, *, needs_context: bool, task: str | None = None
) -> list[dict[str, Any]]:
    """The records of a predictions file, checked line by line.

    With ``task``, lines are rows of a qapgen run's ``predictions/test.jsonl``; they are
    read as ``prediction = predicted_<task>``, ``references = [gold_<task>]``.
    """
    from qapgen.cli.main import CommandError

    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        # split on "\n" only: JSON strings may hold U+2028, which splitlines() breaks at
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise CommandError(f"{path}: not UTF-8 text (byte {error.start})") from None
    records = []
    seen_ids: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CommandError(f"{where}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise CommandError(f"{where}: expected a JSON object")
        if task is not None:
            record = _from_run_predictions(record, task, where)
        _check_record(record, where, needs_context)
        key = str(record["id"])
        if key in seen_ids:
            raise CommandError(f"{where}: field 'id' {key!r} repeats line {seen_ids[key]}")
        seen_ids[key] = number
        records.append(record)
    if not records:
        raise CommandError(f"{path}: no predictions in the file")
    return records


def _from_run_predictions(record: dict[str, Any], task: str, where: str) -> dict[str, Any]:
    from qapgen.cli.main import CommandError

    missing = [f for f in (f"predicted_{task}", f"gold_{task}") if f not in record]
    if missing:
        raise CommandError(f"{where}: field '{missing[0]}' missing (a run's predictions file?)")
    return {
        "id": record.get("id"),
        "prediction": record[f"predicted_{task}"],
        "references": [record[f"gold_{task}"]],
        "context": record.get("context"),
    }


def _check_record(record: dict[str, Any], where: str, needs_context: bool) -> None:
    from qapgen.cli.main import CommandError

    if "id" not in record or not isinstance(record["id"], (str, int)):
        raise CommandError(f"{where}: field 'id' must be a string or an integer")
    if not isinstance(record.get("prediction"), str):
        raise CommandError(f"{where}: field 'prediction' must be a string")
    references = record.get("references")
    if (
        not isinstance(references, list)
        or not references
        or not all(isinstance(r, str) and r.strip() for r in references)
    ):
        raise CommandError(
            f"{where}: field 'references' must be a non-empty list of non-empty strings"
        )
    if needs_context and not isinstance(record.get("context"), str):
        raise CommandError(f"{where}: field 'context' must be a string (--protocol grouped)")


def format_table(result: dict[str, Any]) -> str:
    """The scores as an aligned two-column table, with protocol and implementations."""
    rows = [
        f"{label:<14} {'-' if result[key] is None else format(result[key], '6.2f'):>6}"
        for key, label in TABLE_ROWS
    ]
    header = (
        f"protocol {result['protocol']}: {result['n']} scored of {result['n_examples']} examples"
    )
    notes = [f"  {name}: {line}" for name, line in result["implementations"].items()]
    return "\n".join([header, *rows, "implementations:", *notes])
