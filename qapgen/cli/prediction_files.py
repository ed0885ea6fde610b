"""Reading and scoring predictions files for ``qapgen evaluate``: the checked records of a
JSON-lines file (any fault is a one-line ``CommandError`` naming the file, line and field),
their BLEU/ROUGE-L/METEOR under the command's options, and the printed table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from qapgen.json_input import JSON_FAILURES, explain, json_type

TABLE_ROWS = (
    ("bleu1", "BLEU-1"),
    ("bleu2", "BLEU-2"),
    ("bleu3", "BLEU-3"),
    ("bleu4", "BLEU-4"),
    ("rougeL", "ROUGE-L"),
    ("meteor", "METEOR 1.5"),
    ("meteor_nltk", "METEOR (nltk)"),
)


def score_records(
    records: list[dict[str, Any]],
    *,
    protocol: str,
    meteor: str,
    meteor_nltk: bool,
    where: object,
) -> dict[str, Any]:
    """BLEU, ROUGE-L and METEOR of checked records (``prediction``, ``references`` and, for
    the grouped protocol, ``context``); every key of ``TABLE_ROWS`` is present (``None`` when
    skipped). A failure is a ``CommandError``; a bad record's names ``where`` they came from."""
    from qapgen.cli.errors import CommandError
    from qapgen.metrics import (
        MeteorError,
        MeteorUnavailableError,
        WordNetUnavailableError,
        score,
    )
    from qapgen.metrics.meteor_java import find_jar, find_java

    try:
        if meteor == "java":
            # Before any scoring: a missing Java fails at once, even where a JVM this
            # process started earlier is still running.
            find_java()
            find_jar()
        result = score(
            [r["prediction"] for r in records],
            [r["references"] for r in records],
            protocol=protocol,
            contexts=[r["context"] for r in records] if protocol == "grouped" else None,
            meteor=meteor,
            meteor_nltk=meteor_nltk,
        )
    except MeteorUnavailableError as error:
        raise CommandError(
            f"{error.reason}, or pass --meteor none to score without METEOR 1.5"
        ) from error
    except MeteorError as error:
        raise CommandError(f"{error} (or pass --meteor none)") from error
    except WordNetUnavailableError as error:
        raise CommandError(f"{error} (or pass --no-meteor-nltk)") from error
    except ValueError as error:
        raise CommandError(f"{where}: {error}") from error
    for key, _ in TABLE_ROWS:
        result.setdefault(key, None)
    return result


def scoring_options(args: argparse.Namespace) -> dict[str, object]:
    """The scoring choices of ``evaluate``'s arguments, as ``score_records`` takes them."""
    return {
        "protocol": args.protocol,
        "meteor": args.meteor,
        "meteor_nltk": args.meteor_nltk,
        "where": args.predictions,
    }


def read_predictions(
    path: Path, *, needs_context: bool, task: str | None = None
) -> list[dict[str, Any]]:
    """The records of a predictions file, checked line by line: any fault is a
    ``CommandError`` naming the file, the line and the field.

    With ``task``, lines are rows of a qapgen run's ``predictions/test.jsonl``; they are
    read as ``prediction = predicted_<task>``, ``references = [gold_<task>]``.
    """
    from qapgen.cli.errors import CommandError
    from qapgen.data.readers.base import read_text

    if not path.exists():
        raise CommandError(f"{path}: no such file")
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise CommandError(f"{path}: is {kind}; --predictions wants a JSON-lines file")
    # split on "\n" only: JSON strings may hold U+2028, which splitlines() breaks at
    lines = read_text(path).split("\n")
    records = []
    seen_ids: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        record = _parse_line(line, where)
        if not isinstance(record, dict):
            raise CommandError(f"{where}: expected a JSON object, got {json_type(record)}")
        if task is not None:
            _check_run_record(record, task, where, needs_context)
            record = _from_run_predictions(record, task)
        _check_record(record, where, needs_context)
        key = str(record["id"])
        if key in seen_ids:
            raise CommandError(f"{where}: field 'id' {key!r} repeats line {seen_ids[key]}")
        seen_ids[key] = number
        records.append(record)
    if not records:
        raise CommandError(f"{path}: no predictions in the file")
    return records


def _parse_line(line: str, where: str) -> Any:
    from qapgen.cli.errors import CommandError

    try:
        return json.loads(line)
    except JSON_FAILURES as error:
        raise CommandError(f"{where}: {explain(error)}") from None


def _check_run_record(record: dict[str, Any], task: str, where: str, needs_context: bool) -> None:
    """A run's predictions row, checked under its own field names."""
    from qapgen.cli.errors import CommandError

    for name in (f"predicted_{task}", f"gold_{task}"):
        if name not in record:
            raise CommandError(f"{where}: field '{name}' missing (a run's predictions file?)")
    if not isinstance(record[f"predicted_{task}"], str):
        raise CommandError(
            f"{where}: field 'predicted_{task}' must be a string, got "
            f"{json_type(record[f'predicted_{task}'])}"
        )
    if not _has_words(record[f"gold_{task}"]):
        raise CommandError(f"{where}: field 'gold_{task}' must be a non-empty string")
    if needs_context and not isinstance(record.get("context"), str):
        raise CommandError(f"{where}: field 'context' must be a string (--protocol grouped)")


def _from_run_predictions(record: dict[str, Any], task: str) -> dict[str, Any]:
    return {
        **({"id": record["id"]} if "id" in record else {}),  # a missing id is reported as such
        "prediction": record[f"predicted_{task}"],
        "references": [record[f"gold_{task}"]],
        "context": record.get("context"),
    }


def _has_words(text: Any) -> bool:
    """Whether ``text`` is a string that is not empty once normalised for scoring."""
    from qapgen.metrics import normalize

    return isinstance(text, str) and bool(normalize(text).strip())


def _check_record(record: dict[str, Any], where: str, needs_context: bool) -> None:
    from qapgen.cli.errors import CommandError

    record_id = record.get("id")
    if not isinstance(record_id, (str, int)) or isinstance(record_id, bool):
        raise CommandError(
            f"{where}: field 'id' must be a string or an integer, got {json_type(record_id)}"
            if "id" in record
            else f"{where}: field 'id' missing (it must be a string or an integer)"
        )
    if not isinstance(record.get("prediction"), str):
        got = json_type(record["prediction"]) if "prediction" in record else "nothing"
        raise CommandError(f"{where}: field 'prediction' must be a string, got {got}")
    references = record.get("references")
    if not isinstance(references, list) or not references or not all(map(_has_words, references)):
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
