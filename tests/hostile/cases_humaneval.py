"""Hostile cases for `qapgen humaneval`: exports over earlier forms, predictions and keys
that are broken or ambiguous, raters' sheets as spreadsheets save them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from hostile.corpus import Case

from qapgen.atomic_files import TEMP_PREFIX

OVER_AN_EXPORT = "`humaneval export` over an existing form folder replaces `key.json`"
TRACEBACKS = "Tracebacks -> one line"
SILENT = "Silent acceptance -> clear errors"
EXCEL = "A rater CSV saved by Excel (UTF-8 BOM, or `;` separators) fails as \"unknown item ''\""
FORMULAS = "`form.csv` cells that start with = + - @ must be neutralised when written"
ANSWERS = ("q1_grammatical", "q2_relevant", "q3_different")
# An earlier export's files, which a refused export must leave as they are.
EARLIER = {
    "form/form.csv": "item,context,question,answer,q1_grammatical,q2_relevant,q3_different\n",
    "form/form.html": "<!doctype html><p>the raters' page</p>\n",
    "form/key.json": json.dumps({"items": {"item-0001": {"system": "a", "id": "ex0"}}}),
}


def prediction(i: int, tag: str, **fields: object) -> dict:
    return {
        "id": f"ex{i}",
        "context": f"context {i}",
        "gold_question": f"gold q {i}?",
        "gold_answer": f"gold a {i}",
        "predicted_question": f"{tag} q {i}?",
        "predicted_answer": f"{tag} a {i}",
        **fields,
    }


def predictions(tag: str, count: int = 4, *extra: object) -> str:
    """``count`` predictions of system ``tag``, then ``extra`` rows (anything JSON)."""
    rows = [prediction(i, tag) for i in range(count)] + list(extra)
    return "".join(json.dumps(row) + "\n" for row in rows)


def export(*args: str, a: str = "a.jsonl", b: str = "b.jsonl") -> tuple[str, ...]:
    return ("humaneval", "export", "--system", "a", a, "--system", "b", b, "--out", "form", *args)


def two_systems(a: str | bytes | None = None, b: str | bytes | None = None) -> dict:
    return {
        "a.jsonl": predictions("A") if a is None else a,
        "b.jsonl": predictions("B") if b is None else b,
    }


KEY_ITEMS = {
    "item-x-0001": {"system": "a", "id": "ex0"},
    "item-x-0002": {"system": "b", "id": "ex0"},
    "item-x-0003": {"system": "a", "id": "ex1"},
    "item-x-0004": {"system": "b", "id": "ex1"},
}
KEY = json.dumps({"seed": 0, "items": KEY_ITEMS}, indent=2)


def sheet(rows: list[list[str]], *, separator: str = ",", bom: bool = False) -> bytes:
    """A rater's sheet: the header, then ``rows``, as a spreadsheet would save it."""
    lines = [separator.join(("item", *ANSWERS))]
    lines += [separator.join(row) for row in rows]
    return ("\ufeff" if bom else "").encode() + ("\r\n".join(lines) + "\r\n").encode()


def answers(value_for_a: str = "Yes", value_for_b: str = "No") -> list[list[str]]:
    return [
        [item, *([value_for_a if entry["system"] == "a" else value_for_b] * 3)]
        for item, entry in KEY_ITEMS.items()
    ]


def score(*raters: str, key: str = "key.json") -> tuple[str, ...]:
    rater_args = [arg for rater in raters for arg in ("--rater", rater)]
    return ("humaneval", "score", "--key", key, *rater_args, "--format", "json")


def table_is(expected_yes: dict[str, float]):
    """A check: Q1's Yes percentage per system in the JSON scores."""

    def check(folder: Path, out: str, err: str) -> None:
        table = json.loads(out)["table4"]
        assert {s: v["q1_grammatical"]["Yes"] for s, v in table.items()} == expected_yes, out

    return check


def form_is_neutralised(folder: Path, out: str, err: str) -> None:
    with (folder / "form/form.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    questions = {row["question"] for row in rows}
    assert '\'=HYPERLINK("http://evil.example","click")' in questions, questions
    assert "'@SUM(1+1)?" in questions, questions
    assert not [q for q in questions if q.startswith(("=", "+", "-", "@"))], questions


def replaced_with_a_tagged_key(folder: Path, out: str, err: str) -> None:
    key = json.loads((folder / "form/key.json").read_text())
    assert "item-0001" not in key["items"] and len(key["items"]) == 12, key
    assert not list((folder / "form").glob(f"{TEMP_PREFIX}*"))


def export_cases() -> list[Case]:
    return [
        Case(
            "humaneval/export-over-an-earlier-export",
            export(),
            {**two_systems(), **EARLIER},
            message=r"form file form/form\.csv already exists \(file\); pass --overwrite",
            unchanged=tuple(EARLIER),
            issue=OVER_AN_EXPORT,
        ),
        Case(
            "humaneval/export-over-an-earlier-key-only",
            export(),
            {**two_systems(), "form/key.json": EARLIER["form/key.json"]},
            message=r"form file form/key\.json already exists",
            unchanged=("form/key.json",),
            absent=("form/form.csv", "form/form.html"),
            issue=OVER_AN_EXPORT,
        ),
        Case(
            "humaneval/export-over-an-earlier-export-with-overwrite",
            export("--overwrite"),
            {**two_systems(), **EARLIER},
            exit_code=0,
            reports=(r"qapgen humaneval export: 4 examples sampled of 4 .*: 12 items",),
            issue=OVER_AN_EXPORT,
            check=replaced_with_a_tagged_key,
        ),
        Case(
            "humaneval/export-over-its-own-predictions",
            export("--overwrite", a="form/key.json"),
            {**two_systems(), "form/key.json": predictions("A")},
            message=r"form file form/key\.json is also an input",
            unchanged=("form/key.json",),
            issue="output paths equal to an input are refused",
        ),
        Case(
            "humaneval/export-into-a-file",
            export(),
            {**two_systems(), "form": "my notes\n"},
            message=r"form: a file, not a folder for the forms",
            unchanged=("form",),
            issue=OVER_AN_EXPORT,
        ),
        Case(
            "humaneval/export-counts-what-it-leaves-out",
            export("--n", "10"),
            two_systems(b=predictions("B", 3)),
            exit_code=0,
            reports=(
                r"3 examples sampled of 3 that every system predicted: 9 items \(a \+ b \+ gold\)",
                r"asked for 10 examples, only 3 are shared",
                r"1 examples predicted by only some systems left out",
            ),
            issue="nothing may be dropped silently (every skipped item counted in a summary)",
        ),
        Case(
            "humaneval/export-neutralises-formulas-in-form-csv",
            export(),
            two_systems(
                a=predictions(
                    "A",
                    2,
                    prediction(
                        8, "A", predicted_question='=HYPERLINK("http://evil.example","click")'
                    ),
                    prediction(9, "A", predicted_question="@SUM(1+1)?"),
                ),
                b=predictions("B", 10),
            ),
            exit_code=0,
            issue=FORMULAS,
            check=form_is_neutralised,
        ),
    ]


def prediction_cases() -> list[Case]:
    def bad(name: str, a: str | bytes, message: str, issue: str, *args: str) -> Case:
        return Case(
            f"humaneval/{name}",
            export(*args),
            two_systems(a=a),
            message=message,
            absent=("form/key.json", "form/form.csv", "form/form.html"),
            issue=issue,
        )

    return [
        bad(
            "null-predicted-question",
            predictions("A", 2, prediction(2, "A", predicted_question=None)),
            r"a\.jsonl line 3: field predicted_question must be text, not null",
            TRACEBACKS + ": a null `predicted_question`",
        ),
        bad(
            "numeric-context",
            predictions("A", 1, prediction(1, "A", context=42)),
            r"a\.jsonl line 2: field context must be text, not a number",
            TRACEBACKS + ": any null/non-string field",
        ),
        bad(
            "null-id",
            predictions("A", 1, prediction(1, "A", id=None)),
            r"a\.jsonl line 2: field id must be text or a whole number, not null",
            TRACEBACKS + ": any null/non-string field",
        ),
        bad(
            "row-that-is-not-an-object",
            predictions("A", 2, ["ex9", "a list"]),
            r"a\.jsonl line 3: expected a JSON object, not an array",
            TRACEBACKS + ": non-object JSONL rows",
        ),
        bad(
            "windows-1252-predictions",
            predictions("A", 2, prediction(2, "A", context="caf\u00e9"))
            .replace("\\u00e9", "\u00e9")
            .encode("cp1252"),
            r"a\.jsonl line 3: not UTF-8 text \(byte 0xe9\)",
            TRACEBACKS + ": non-UTF-8 or Windows-1252 files",
        ),
        bad(
            "deeply-nested-predictions",
            predictions("A", 1) + "[" * 100_000 + "]" * 100_000 + "\n",
            r"a\.jsonl line 2: not readable JSON: nested deeper",
            TRACEBACKS + ": deep-nested JSON",
        ),
        bad(
            "missing-gold-fields",
            predictions("A", 1, {k: v for k, v in prediction(1, "A").items() if "gold" not in k}),
            r"a\.jsonl line 2: missing field\(s\) gold_question, gold_answer \(or pass --no-gold\)",
            TRACEBACKS,
        ),
        bad(
            "duplicate-prediction-ids",
            predictions("A", 3, prediction(1, "A", predicted_question="another?")),
            r"a\.jsonl line 4: duplicate id 'ex1' \(first on line 2\)",
            SILENT + ": duplicate prediction ids in one predictions file",
        ),
        bad(
            "empty-predictions",
            "\n\n",
            r"a\.jsonl: no predictions \(the file is empty\)",
            TRACEBACKS,
        ),
        Case(
            "humaneval/missing-predictions",
            export(a="nothing.jsonl"),
            two_systems(),
            message=r"nothing\.jsonl: no such predictions file",
            absent=("form/key.json",),
            issue=TRACEBACKS + ": a missing file",
        ),
    ]


def setting_cases() -> list[Case]:
    def usage(name: str, argv: tuple[str, ...], message: str, issue: str) -> Case:
        return Case(
            f"humaneval/{name}",
            argv,
            two_systems(),
            exit_code=2,
            message=message,
            absent=("form/key.json",),
            issue=issue,
        )

    return [
        usage(
            "n-negative",
            export("--n", "-3"),
            r"argument --n: must be at least 1, not -3",
            TRACEBACKS + ": `--n -3` (argparse-level: must be >= 1)",
        ),
        usage(
            "n-zero",
            export("--n", "0"),
            r"argument --n: must be at least 1, not 0",
            SILENT + ": `--n 0`",
        ),
        usage(
            "system-named-gold",
            (
                "humaneval",
                "export",
                "--system",
                "gold",
                "a.jsonl",
                "--system",
                "b",
                "b.jsonl",
                "--out",
                "form",
            ),
            r"the system name 'gold' is reserved for the gold pairs",
            SILENT + ": a system named `gold` (collides with the gold pairs)",
        ),
        usage(
            "two-systems-with-one-name",
            (
                "humaneval",
                "export",
                "--system",
                "a",
                "a.jsonl",
                "--system",
                "a",
                "b.jsonl",
                "--out",
                "form",
            ),
            r"two systems are named 'a'; give each its own name",
            SILENT + ": two systems with the same name",
        ),
    ]


def score_cases() -> list[Case]:
    def bad_key(name: str, key: str | bytes, message: str, issue: str) -> Case:
        return Case(
            f"humaneval/{name}",
            score("r1.csv"),
            {"key.json": key, "r1.csv": sheet(answers())},
            message=message,
            issue=issue,
        )

    wrong_shape = TRACEBACKS + ": a truncated or invalid `key.json` (and one with the wrong shape)"
    return [
        bad_key("truncated-key", KEY[: len(KEY) // 2], r"key\.json: not valid JSON", wrong_shape),
        bad_key("key-that-is-a-list", "[]", r"key\.json: not a key written by", wrong_shape),
        bad_key(
            "key-with-items-as-a-list",
            json.dumps({"items": ["item-1"]}),
            r"key\.json: not a key written by .* \(no 'items' object\)",
            wrong_shape,
        ),
        bad_key(
            "key-item-without-system",
            json.dumps({"items": {"item-1": {"id": "ex0"}}}),
            r"key\.json: item 'item-1', field system must be text, not null",
            wrong_shape,
        ),
        bad_key(
            "key-deeply-nested",
            "[" * 100_000 + "]" * 100_000,
            r"key\.json: not readable JSON: nested deeper",
            TRACEBACKS + ": deep-nested JSON",
        ),
        bad_key(
            "key-with-no-items",
            json.dumps({"items": {}}),
            r"key\.json: the key lists no items",
            wrong_shape,
        ),
        Case(
            "humaneval/missing-key",
            score("r1.csv", key="form/key.json"),
            {"r1.csv": sheet(answers())},
            message=r"form/key\.json: no such key file",
            issue=TRACEBACKS + ": a missing file",
        ),
        Case(
            "humaneval/missing-rater-sheet",
            score("r1.csv", "r2.csv"),
            {"key.json": KEY, "r1.csv": sheet(answers())},
            message=r"r2\.csv: no such answer sheet",
            issue=TRACEBACKS + ": a missing file",
        ),
        Case(
            "humaneval/duplicate-rater-rows",
            score("r1.csv"),
            {"key.json": KEY, "r1.csv": sheet([*answers(), ["item-x-0001", "No", "No", "No"]])},
            message=r"r1\.csv row 6: item item-x-0001 answered twice \(first on row 2\)",
            issue=SILENT + ": duplicate rater rows for the same item (today the last wins)",
        ),
        Case(
            "humaneval/same-rater-sheet-twice",
            score("r1.csv", "./r1.csv"),
            {"key.json": KEY, "r1.csv": sheet(answers())},
            exit_code=2,
            message=r"--rater r1\.csv is given twice; one sheet per rater",
            issue=SILENT,
        ),
        Case(
            "humaneval/rater-sheet-from-another-export",
            score("r1.csv"),
            {"key.json": KEY, "r1.csv": sheet([["item-0001", "Yes", "Yes", "Yes"]])},
            message=r"r1\.csv row 2: unknown item 'item-0001' \(not in the key: a sheet from "
            r"another export\?\)",
            issue=OVER_AN_EXPORT + " (old rater sheets then score silently wrong)",
        ),
        Case(
            "humaneval/windows-1252-rater-sheet",
            score("r1.csv"),
            {
                "key.json": KEY,
                "r1.csv": sheet(answers()) + "caf\u00e9,Yes,Yes,Yes\r\n".encode("cp1252"),
            },
            message=r"r1\.csv row 6: not UTF-8 text \(byte 0xe9\)",
            issue=TRACEBACKS + ": non-UTF-8 or Windows-1252 files",
        ),
        Case(
            "humaneval/rater-sheet-without-answer-columns",
            score("r1.csv"),
            {"key.json": KEY, "r1.csv": "item,notes\nitem-x-0001,fine\n"},
            message=r"r1\.csv row 1: no column 'q1_grammatical' \(the header has 'item', 'notes'\)",
            issue=EXCEL,
        ),
        Case(
            "humaneval/excel-sheet-with-a-bom",
            score("r1.csv", "r2.csv"),
            {"key.json": KEY, "r1.csv": sheet(answers(), bom=True), "r2.csv": sheet(answers())},
            exit_code=0,
            issue=EXCEL,
            check=table_is({"a": 100.0, "b": 0.0}),
        ),
        Case(
            "humaneval/excel-sheet-with-semicolons",
            score("r1.csv"),
            {"key.json": KEY, "r1.csv": sheet(answers("No", "Yes"), separator=";", bom=True)},
            exit_code=0,
            issue=EXCEL,
            check=table_is({"a": 0.0, "b": 100.0}),
        ),
    ]


def cases() -> list[Case]:
    return export_cases() + prediction_cases() + setting_cases() + score_cases()
