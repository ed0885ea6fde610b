"""Every file the human-evaluation kit reads, checked before it is used.

Predictions (JSONL), the key (``key.json``) and raters' answer sheets (CSV, as saved by
the form page or by a spreadsheet, Excel's byte-order mark and ``;`` separators included)
fail with a ``HumanEvalError`` naming the file, the line or row and the field: a missing
or non-UTF-8 file, a line that is not a JSON object, a null where text belongs, an id or
item given twice. Nothing is skipped: a doubtful row stops the run, since a Table 4 built
on a silently dropped or doubled rating would be wrong without anyone seeing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qapgen.humaneval.questions import ANSWER_COLUMNS, QUESTIONS
from qapgen.json_input import JSON_FAILURES, explain, json_type
from qapgen.spreadsheet import read_rows

PREDICTION_FIELDS = ("context", "predicted_question", "predicted_answer")
GOLD_FIELDS = ("gold_question", "gold_answer")


class HumanEvalError(ValueError):
    """A prediction file, key or answer sheet cannot be used; says which file and row."""


def check_file(path: Path, what: str) -> Path:
    """``path``, when it is a file; ``what`` names it in the error otherwise."""
    path = Path(path)
    if not path.exists():
        raise HumanEvalError(f"{path}: no such {what}")
    if path.is_dir():
        raise HumanEvalError(f"{path}: a folder, not a {what}")
    return path


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path`` (a BOM dropped); ``what`` names the file in errors."""
    path = check_file(path, what)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise HumanEvalError(f"{path}: cannot read the {what} ({error.strerror})") from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise HumanEvalError(
            f"{path} line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save it as UTF-8"
        ) from error


def parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except JSON_FAILURES as error:
        raise HumanEvalError(f"{where}: {explain(error)}") from error


def read_predictions(path: Path, *, need_gold: bool = True) -> dict[str, dict]:
    """Test predictions JSONL (``predictions/test.jsonl`` of a run), keyed by id.

    Each line needs an ``id`` (text or a whole number, unique in the file) and text in
    ``context``, ``predicted_question``, ``predicted_answer`` and, with ``need_gold``,
    ``gold_question`` and ``gold_answer``.
    """
    rows: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    fields = PREDICTION_FIELDS + (GOLD_FIELDS if need_gold else ())
    # Only \n ends a JSONL line: other Unicode line breaks may sit inside JSON strings.
    for lineno, line in enumerate(read_text(path, "predictions file").split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path} line {lineno}"
        row = parse_json(line, where)
        if not isinstance(row, dict):
            raise HumanEvalError(f"{where}: expected a JSON object, not {json_type(row)}")
        missing = [name for name in ("id", *fields) if name not in row]
        if missing:
            hint = " (or pass --no-gold)" if set(missing) <= set(GOLD_FIELDS) else ""
            raise HumanEvalError(f"{where}: missing field(s) {', '.join(missing)}{hint}")
        example_id = row["id"]
        if isinstance(example_id, bool) or not isinstance(example_id, (str, int)):
            raise HumanEvalError(
                f"{where}: field id must be text or a whole number, not {json_type(example_id)}"
            )
        for name in fields:
            if not isinstance(row[name], str):
                raise HumanEvalError(
                    f"{where}: field {name} must be text, not {json_type(row[name])}"
                )
        example_id = str(example_id)
        if example_id in rows:
            raise HumanEvalError(
                f"{where}: duplicate id {example_id!r} (first on line {first_line[example_id]})"
            )
        rows[example_id] = row
        first_line[example_id] = lineno
    if not rows:
        raise HumanEvalError(f"{path}: no predictions (the file is empty)")
    return rows


def read_key(path: Path) -> dict:
    """``key.json`` as written by ``export_forms``: ``items`` maps each item to its
    ``system`` and example ``id``."""
    key = parse_json(read_text(path, "key file"), str(path))
    items = key.get("items") if isinstance(key, dict) else None
    if not isinstance(items, dict):
        raise HumanEvalError(
            f"{path}: not a key written by `qapgen humaneval export` (no 'items' object)"
        )
    if not items:
        raise HumanEvalError(f"{path}: the key lists no items")
    for item, entry in items.items():
        if not isinstance(entry, dict):
            raise HumanEvalError(f"{path}: item {item!r} is {json_type(entry)}, not an object")
        for name in ("system", "id"):
            if not isinstance(entry.get(name), str):
                raise HumanEvalError(
                    f"{path}: item {item!r}, field {name} must be text, "
                    f"not {json_type(entry.get(name))}"
                )
    return key


def read_answers(path: Path, key: dict) -> dict[str, dict[str, str]]:
    """A rater's sheet (form.csv filled in, or the page's answers.csv): item -> answers.

    Every item of the key must be answered exactly once, with one of each question's
    options.
    """
    path = check_file(path, "answer sheet")
    answers: dict[str, dict[str, str]] = {}
    first_row: dict[str, int] = {}
    for rowno, row in read_rows(path):
        absent = [column for column in ANSWER_COLUMNS if column not in row]
        if absent:
            raise HumanEvalError(
                f"{path} row 1: no column {absent[0]!r} (the header has "
                f"{', '.join(repr(c) for c in row) or 'nothing'})"
            )
        item = row["item"].strip()
        if item not in key["items"]:
            raise HumanEvalError(
                f"{path} row {rowno}: unknown item {item!r} (not in the key: a sheet from "
                "another export?)"
            )
        if item in answers:
            raise HumanEvalError(
                f"{path} row {rowno}: item {item} answered twice (first on row "
                f"{first_row[item]}); keep one row per item"
            )
        values = {}
        for column, (_, options) in QUESTIONS.items():
            value = row[column].strip()
            if value not in options:
                raise HumanEvalError(
                    f"{path} row {rowno} ({item}), column {column}: {value!r} is not one of "
                    f"{', '.join(options)}"
                )
            values[column] = value
        answers[item] = values
        first_row[item] = rowno
    missing = set(key["items"]) - set(answers)
    if missing:
        raise HumanEvalError(
            f"{path}: {len(missing)} item(s) unanswered, e.g. {sorted(missing)[0]}"
        )
    return answers
