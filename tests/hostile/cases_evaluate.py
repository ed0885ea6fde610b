"""Hostile cases for `qapgen evaluate`: unreadable predictions files, rows that are not
objects, fields of the wrong type or null, and a machine without Java."""

from __future__ import annotations

import json
from pathlib import Path

from hostile.corpus import Case

EVALUATE = ("evaluate", "--predictions", "p.jsonl")
NO_METEOR = ("--meteor", "none", "--no-meteor-nltk")

UNREADABLE = "`data stats` and `evaluate`: JSON nested 100,000 deep raises RecursionError"
ENCODING = "non-UTF-8 and Windows-1252 files -> one line naming the file (and offset/line)"
ROWS = (
    "non-object JSONL rows and null/wrongly-typed fields in `evaluate`'s predictions file "
    "-> one line naming file, line and field"
)
TRACEBACK = "tracebacks instead of one line"


def row(**fields) -> dict:
    return {
        "id": "a",
        "prediction": "who rang the bell ?",
        "references": ["who rang it ?"],
        **fields,
    }


def lines(*values: object) -> str:
    """A JSON-lines file: one good row first, so that the bad one is on line 2."""
    return "".join(json.dumps(value, ensure_ascii=False) + "\n" for value in (row(), *values))


def lines_with(text: str) -> str:
    return lines() + text + "\n"


def run_row(**fields) -> dict:
    """A row of a qapgen run's predictions/test.jsonl (read with --task question)."""
    return {
        "id": "r1",
        "context": "The bell rang.",
        "gold_question": "what rang ?",
        "predicted_question": "what rang ?",
        "gold_answer": "the bell",
        "predicted_answer": "the bell",
        **fields,
    }


def binary(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 8)


def directory(path: Path) -> None:
    path.mkdir()


def field_case(name: str, value: object, message: str) -> Case:
    return Case(
        f"evaluate/{name}",
        (*EVALUATE, *NO_METEOR),
        {"p.jsonl": lines(value)},
        message=rf"p\.jsonl, line 2: {message}",
        unchanged=("p.jsonl",),
        issue=ROWS,
    )


def cases() -> list[Case]:
    return [
        Case(
            "evaluate/deep-json",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": lines_with("[" * 100_000 + "]" * 100_000)},
            message=r"p\.jsonl, line 2: not readable JSON: nested deeper than \d+ levels",
            issue=UNREADABLE,
        ),
        Case(
            "evaluate/windows-1252",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": lines(row(id="b", prediction="\u201cwho\u201d rang ?")).encode("cp1252")},
            message=r"p\.jsonl: not UTF-8: byte 0x93 at offset \d+ \(line 2\), the file looks like Windows-1252",
            issue=ENCODING,
        ),
        Case(
            "evaluate/latin-1",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": json.dumps(row(prediction="où ?"), ensure_ascii=False).encode("latin-1")},
            message=r"p\.jsonl: not UTF-8: byte 0xf9 at offset \d+ \(line 1\)",
            issue=ENCODING,
        ),
        Case(
            "evaluate/utf-16",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": lines().encode("utf-16")},
            message=r"p\.jsonl: not UTF-8: .*the file looks like UTF-16",
            issue=ENCODING,
        ),
        Case(
            "evaluate/utf-8-with-byte-order-mark",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": b"\xef\xbb\xbf" + lines().encode("utf-8")},
            exit_code=0,
            reports=(r"protocol example: 1 scored of 1 examples",),
            issue=ENCODING,
        ),
        Case(
            "evaluate/binary-file",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": binary},
            message=r"p\.jsonl: not UTF-8: .*the file looks binary",
            issue=TRACEBACK,
        ),
        field_case("array-row", [1, 2], "expected a JSON object, got an array"),
        field_case("null-row", None, "expected a JSON object, got null"),
        field_case("string-row", "who ?", "expected a JSON object, got a string"),
        field_case("number-row", 7, "expected a JSON object, got a number"),
        field_case(
            "null-prediction",
            row(id="b", prediction=None),
            "field 'prediction' must be a string, got null",
        ),
        field_case(
            "number-prediction",
            row(id="b", prediction=3),
            "field 'prediction' must be a string, got a number",
        ),
        field_case(
            "missing-prediction",
            {"id": "b", "references": ["x"]},
            "field 'prediction' must be a string, got nothing",
        ),
        field_case(
            "bool-id", row(id=True), "field 'id' must be a string or an integer, got a boolean"
        ),
        field_case("null-id", row(id=None), "field 'id' must be a string or an integer, got null"),
        field_case("missing-id", {"prediction": "x", "references": ["x"]}, "field 'id' missing"),
        field_case(
            "null-references",
            row(id="b", references=None),
            "field 'references' must be a non-empty list",
        ),
        field_case(
            "null-reference",
            row(id="b", references=["who ?", None]),
            "field 'references' must be a non-empty list",
        ),
        field_case(
            "string-references",
            row(id="b", references="who ?"),
            "field 'references' must be a non-empty list",
        ),
        field_case(
            "blank-reference",
            row(id="b", references=["\u3000 "]),
            "field 'references' must be a non-empty list",
        ),
        field_case("repeated-id", row(), "field 'id' 'a' repeats line 1"),
        Case(
            "evaluate/number-too-long",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": lines_with('{"id": ' + "9" * 5000 + "}")},
            message=r"p\.jsonl, line 2: not readable JSON \(Exceeds the limit",
            issue=TRACEBACK,
        ),
        Case(
            "evaluate/truncated-line",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": lines_with(json.dumps(row(id="b"))[:20])},
            message=r"p\.jsonl, line 2: not valid JSON",
            issue=TRACEBACK,
        ),
        Case(
            "evaluate/task-null-prediction",
            ("evaluate", "--predictions", "test.jsonl", "--task", "question", *NO_METEOR),
            {"test.jsonl": json.dumps(run_row(predicted_question=None)) + "\n"},
            message=r"test\.jsonl, line 1: field 'predicted_question' must be a string, got null",
            issue=ROWS,
        ),
        Case(
            "evaluate/task-null-gold",
            ("evaluate", "--predictions", "test.jsonl", "--task", "answer", *NO_METEOR),
            {"test.jsonl": json.dumps(run_row(gold_answer=None)) + "\n"},
            message=r"test\.jsonl, line 1: field 'gold_answer' must be a non-empty string",
            issue=ROWS,
        ),
        Case(
            "evaluate/grouped-without-context",
            (*EVALUATE, "--protocol", "grouped", *NO_METEOR),
            {"p.jsonl": lines()},
            message=r"p\.jsonl, line 1: field 'context' must be a string \(--protocol grouped\)",
            issue=ROWS,
        ),
        Case(
            "evaluate/empty-file",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": ""},
            message=r"p\.jsonl: no predictions in the file",
            issue=TRACEBACK,
        ),
        Case(
            "evaluate/blank-lines-only",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": "\n \n\t\n"},
            message=r"p\.jsonl: no predictions in the file",
            issue=TRACEBACK,
        ),
        Case(
            "evaluate/missing-file",
            (*EVALUATE, *NO_METEOR),
            message=r"p\.jsonl: no such file",
            issue=TRACEBACK,
        ),
        Case(
            "evaluate/a-folder",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": directory},
            message=r"p\.jsonl: is a folder; --predictions wants a JSON-lines file",
            issue=TRACEBACK,
        ),
        Case(
            "evaluate/missing-java",
            ("evaluate", "--predictions", "p.jsonl", "--no-meteor-nltk"),
            {"p.jsonl": lines(), "bin": directory},
            message=(
                r"METEOR 1\.5 needs Java, and 'java' was not found on PATH: install a JRE .*"
                r"or pass --meteor none to score without METEOR 1\.5$"
            ),
            env={"PATH": "{case}/bin"},
            issue="missing Java: `qapgen evaluate` must fail with one line saying Java is missing and how to fix it",
        ),
        Case(
            "evaluate/missing-java-with-meteor-none",
            (*EVALUATE, *NO_METEOR),
            {"p.jsonl": lines(), "bin": directory},
            exit_code=0,
            reports=(r"METEOR 1\.5 +-",),
            env={"PATH": "{case}/bin"},
            issue="missing Java: ... or how to choose another METEOR",
        ),
    ]
