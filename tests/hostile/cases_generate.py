"""Hostile cases for `qapgen generate`: outputs over inputs and user files, spreadsheet
formulas, folders full of things that are not text, broken JSONL and bad settings."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from hostile.corpus import Case

from qapgen.atomic_files import TEMP_PREFIX
from qapgen.spreadsheet import FORMULA_STARTS

CAFE = "The caf\u00e9 in Montr\u00e9al serves cr\u00e8me br\u00fbl\u00e9e.\n"
ARTICLE = "Paris is the capital of France. The Seine flows through Paris.\n"
USER_PAIRS = json.dumps({"question": "my own pair?", "answer": "keep me"}) + "\n"
OUTPUT_IS_INPUT = "`generate --input doc.txt --output doc.txt` destroys the source and exits 0"
EXISTING_OUTPUT = "An existing `--output` file is refused unless `--overwrite`"
ATOMIC = "a failure half-way leaves no partial file and never the old file truncated"
CSV_FORMULAS = "`--format csv`: cells starting with `=`, `+`, `-`, `@` are written raw"
FOLDER_COUNTS = "Folder input: non-`.txt` files and dangling symlinks are skipped without a count"
EMPTY_TXT = "one empty `.txt` aborts the whole run while an empty JSONL text is skipped and counted"
LINKS = "links that point out of the folder / to folders, unreadable files: counted or one line"
OTHER = "Check other hostile inputs"
TEXT_COLUMNS = ("document", "sentence", "question", "answer", "qa_answer")


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def link_to(target: str):
    """A builder for a symbolic link to ``target`` (relative to the link's folder)."""
    return lambda path: path.symlink_to(target)


def fifo(path: Path) -> None:
    os.mkfifo(path)


def deeply_nested(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth + "\n"


def generate(*args: str) -> tuple[str, ...]:
    return ("generate", "--model", "{model}", "--no-progress", *args)


def no_temporaries(folder: Path, out: str, err: str) -> None:
    leftovers = [p.name for p in folder.rglob(f"{TEMP_PREFIX}*")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def csv_cells_are_neutralised(folder: Path, out: str, err: str) -> None:
    with (folder / "pairs.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # log-probabilities are numbers (a leading minus is no formula); every text cell is checked
    cells = [row[name] for row in rows for name in TEXT_COLUMNS]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)], cells
    assert '\'=HYPERLINK("http://evil.example")' in cells  # the document id
    assert any(c[:2] in ("'@", "'=", "'+") for c in cells), cells  # a sentence


def nothing_read_from_outside(folder: Path, out: str, err: str) -> None:
    assert "swordfish" not in out and "Italy" not in out, out


def user_pairs_replaced(folder: Path, out: str, err: str) -> None:
    text = (folder / "pairs.jsonl").read_text()
    assert "keep me" not in text
    assert all("question" in json.loads(line) for line in text.splitlines()), text


def output_cases() -> list[Case]:
    return [
        Case(
            "generate/output-is-the-input",
            generate("--input", "doc.txt", "--output", "doc.txt"),
            {"doc.txt": ARTICLE},
            message=r"output doc\.txt is also an input",
            unchanged=("doc.txt",),
            issue=OUTPUT_IS_INPUT,
        ),
        Case(
            "generate/output-is-the-input-even-with-overwrite",
            generate("--input", "doc.txt", "--output", "./doc.txt", "--overwrite"),
            {"doc.txt": ARTICLE},
            message=r"is also an input",
            unchanged=("doc.txt",),
            issue=OUTPUT_IS_INPUT,
        ),
        Case(
            "generate/output-is-a-file-of-the-input-folder",
            generate("--input", "texts", "--output", "texts/b.txt", "--overwrite"),
            {"texts/a.txt": ARTICLE, "texts/b.txt": ARTICLE},
            message=r"output texts/b\.txt is also an input",
            unchanged=("texts/a.txt", "texts/b.txt"),
            issue="a folder input whose files include the output path should be refused too",
        ),
        Case(
            "generate/output-would-be-read-from-the-input-folder",
            generate("--input", "texts", "--output", "texts/pairs.txt"),
            {"texts/a.txt": ARTICLE},
            message=r"inside the input folder texts, which a later run would read as input",
            absent=("texts/pairs.txt",),
            issue="a folder input whose files include the output path should be refused too",
        ),
        Case(
            "generate/output-is-the-model",
            (
                "generate",
                "--model",
                "m.ckpt",
                "--input",
                "doc.txt",
                "--output",
                "m.ckpt",
                "--overwrite",
            ),
            {"doc.txt": ARTICLE, "m.ckpt": b"my checkpoint"},
            message=r"output m\.ckpt is also an input",
            unchanged=("m.ckpt", "doc.txt"),
            issue=OUTPUT_IS_INPUT,
        ),
        Case(
            "generate/existing-output-without-overwrite",
            generate("--input", "doc.txt", "--output", "pairs.jsonl"),
            {"doc.txt": ARTICLE, "pairs.jsonl": USER_PAIRS},
            message=r"output pairs\.jsonl already exists \(file\); pass --overwrite",
            unchanged=("pairs.jsonl", "doc.txt"),
            issue=EXISTING_OUTPUT,
        ),
        Case(
            "generate/existing-output-with-overwrite",
            generate("--input", "doc.txt", "--output", "pairs.jsonl", "--overwrite"),
            {"doc.txt": ARTICLE, "pairs.jsonl": USER_PAIRS},
            exit_code=0,
            reports=(r"qapgen generate: 1 documents, 2 sentences", r"wrote pairs\.jsonl"),
            unchanged=("doc.txt",),
            issue=EXISTING_OUTPUT,
            check=user_pairs_replaced,
        ),
        Case(
            "generate/existing-output-over-a-dangling-link",
            generate("--input", "doc.txt", "--output", "pairs.jsonl"),
            {"doc.txt": ARTICLE, "pairs.jsonl": link_to("nowhere.jsonl")},
            message=r"output pairs\.jsonl already exists",
            unchanged=("pairs.jsonl",),
            absent=("nowhere.jsonl",),
            issue=EXISTING_OUTPUT,
        ),
        Case(
            "generate/failure-half-way-keeps-the-old-output",
            generate(
                "--input",
                "docs.jsonl",
                "--output",
                "pairs.jsonl",
                "--overwrite",
                "--batch-size",
                "1",
            ),
            {
                # the bad line is read after the first document's pairs are written
                "docs.jsonl": jsonl({"text": ARTICLE * 3}) + "{not json\n",
                "pairs.jsonl": USER_PAIRS,
            },
            message=r"docs\.jsonl, line 2: not valid JSON",
            unchanged=("pairs.jsonl",),
            issue=ATOMIC,
            check=no_temporaries,
        ),
        Case(
            "generate/failure-half-way-leaves-no-partial-file",
            generate("--input", "docs.jsonl", "--output", "out/pairs.jsonl"),
            {"docs.jsonl": jsonl({"text": ARTICLE}) + "[1, 2]\n"},
            message=r"docs\.jsonl, line 2: expected a JSON object, not an array",
            absent=("out/pairs.jsonl",),
            issue=ATOMIC,
            check=no_temporaries,
        ),
        Case(
            "generate/output-is-a-folder",
            generate("--input", "doc.txt", "--output", "results"),
            {"doc.txt": ARTICLE, "results/notes.md": "mine\n"},
            exit_code=2,
            message=r"--output results is a folder; give a file path",
            unchanged=("results/notes.md",),
            issue=EXISTING_OUTPUT,
        ),
        Case(
            "generate/csv-cells-that-are-formulas",
            generate("--input", "docs.jsonl", "--format", "csv", "--output", "pairs.csv"),
            {
                "docs.jsonl": jsonl(
                    {
                        "id": '=HYPERLINK("http://evil.example")',
                        # Several sentences that open with a formula character: which of them
                        # get a pair depends on the tiny model, and one is enough.
                        "text": "@SUM(A1:A9) is what the cell says.\n=1+2 is what it adds.\n"
                        "+3 is the sum here.\n@A1 names the first cell.\n-2 is a number.\n",
                    }
                )
            },
            exit_code=0,
            reports=(r"1 documents, 5 sentences",),
            issue=CSV_FORMULAS,
            check=csv_cells_are_neutralised,
        ),
    ]


def folder_cases() -> list[Case]:
    return [
        Case(
            "generate/folder-skips-and-counts-what-it-cannot-read",
            generate("--input", "texts"),
            {
                "texts/a.txt": ARTICLE,
                "texts/notes.pdf": b"%PDF-1.4 not text",
                "texts/.DS_Store": b"\x00\x00\x00\x01Bud1",
                "texts/gone.txt": link_to("removed.txt"),
                "texts/image.txt": bytes(range(256)) * 4,
                "texts/pipe.txt": fifo,
            },
            exit_code=0,
            reports=(
                r"qapgen generate: 1 documents, 2 sentences",
                r"qapgen generate: 2 files not named \.txt skipped",
                r"qapgen generate: 1 broken links skipped",
                r"qapgen generate: 1 files that are not text \(binary or not UTF-8\) skipped",
                r"qapgen generate: 1 special files \(not regular files\) skipped",
            ),
            issue=FOLDER_COUNTS,
        ),
        Case(
            "generate/folder-with-empty-txt-files",
            generate("--input", "texts"),
            {"texts/a.txt": ARTICLE, "texts/b.txt": "", "texts/sub/c.txt": " \n\t\n"},
            exit_code=0,
            reports=(r"1 documents, 2 sentences", r"qapgen generate: 2 empty documents skipped"),
            issue=EMPTY_TXT,
        ),
        Case(
            "generate/folder-of-empty-txt-files-only",
            generate("--input", "texts"),
            {"texts/a.txt": "", "texts/b.txt": "\n"},
            message=r"texts: no text to generate from \(empty input\) \(2 empty documents skipped\)",
            issue=EMPTY_TXT,
        ),
        Case(
            "generate/folder-of-empty-and-binary-txt-files",
            generate("--input", "texts"),
            {"texts/a.txt": "", "texts/b.txt": bytes(range(256)) * 4},
            message=r"texts: no text to generate from \(empty input\) \(1 empty documents, "
            r"1 files that are not text \(binary or not UTF-8\) skipped\)",
            issue=FOLDER_COUNTS,
        ),
        Case(
            "generate/folder-with-nothing-readable",
            generate("--input", "texts"),
            {"texts/a.pdf": b"%PDF", "texts/b.txt": link_to("nowhere.txt")},
            message=r"texts: folder holds no readable \.txt files \(2 entries skipped: "
            r"1 broken links, 1 files not named \.txt\)",
            issue=FOLDER_COUNTS,
        ),
        Case(
            "generate/folder-with-links-out-and-to-folders",
            generate("--input", "texts"),
            {
                "secret.txt": "The password is swordfish.\n",
                "elsewhere/more.txt": "Rome is in Italy.\n",
                "texts/a.txt": ARTICLE,
                "texts/sub/b.txt": "Rome is old.\n",
                "texts/secret.txt": link_to("../secret.txt"),
                "texts/elsewhere": link_to("../elsewhere"),
                "texts/again": link_to("sub"),
                "texts/same.txt": link_to("a.txt"),
            },
            exit_code=0,
            reports=(
                r"3 documents, 5 sentences",  # a.txt, sub/b.txt and same.txt
                r"qapgen generate: 2 links out of the folder skipped",
                r"qapgen generate: 1 links to folders skipped",
            ),
            unchanged=("secret.txt", "elsewhere/more.txt"),
            issue=LINKS,
            check=nothing_read_from_outside,
        ),
    ]


def text_cases() -> list[Case]:
    return [
        Case(
            "generate/windows-1252-text",
            generate("--input", "cafe.txt"),
            {"cafe.txt": CAFE.encode("cp1252")},
            exit_code=0,
            reports=(
                r"1 documents, 1 sentences",
                r"1 documents read as Windows-1252 \(not UTF-8\)",
            ),
            issue=OTHER + ": non-UTF-8 / Windows-1252 text (repaired and counted)",
        ),
        Case(
            "generate/damaged-utf-8-text",
            generate("--input", "cafe.txt"),
            {"cafe.txt": CAFE.encode("utf-8") + "Fin.\n".encode("cp1252") + b"\xff\xfe\n"},
            exit_code=0,
            reports=(r"2 undecodable bytes replaced with U\+FFFD",),
            issue=OTHER + ": non-UTF-8 / Windows-1252 text (repaired and counted)",
        ),
        Case(
            "generate/binary-file",
            generate("--input", "photo.txt"),
            {"photo.txt": bytes(range(256)) * 8},
            message=r"photo\.txt: binary file",
            issue=OTHER + ": binary file",
        ),
        Case(
            "generate/single-empty-file",
            generate("--input", "doc.txt"),
            {"doc.txt": ""},
            message=r"doc\.txt: file is empty",
            issue="a single empty input file given directly may still be an error",
        ),
        Case(
            "generate/jsonl-row-that-is-not-an-object",
            generate("--input", "docs.jsonl"),
            {"docs.jsonl": jsonl({"text": ARTICLE}, ["not", "an", "object"])},
            message=r"docs\.jsonl, line 2: expected a JSON object, not an array",
            issue=OTHER + ": JSONL with non-object rows",
        ),
        Case(
            "generate/jsonl-null-text",
            generate("--input", "docs.jsonl"),
            {"docs.jsonl": jsonl({"id": "a", "text": None})},
            message=r"docs\.jsonl, line 1: needs a string field text or context \(text is null\)",
            issue=OTHER + ": JSONL with null text",
        ),
        Case(
            "generate/jsonl-id-that-is-an-object",
            generate("--input", "docs.jsonl"),
            {"docs.jsonl": jsonl({"id": {"nested": 1}, "text": ARTICLE})},
            message=r"docs\.jsonl, line 1: field id must be text or a number, not an object",
            issue=OTHER + ": JSONL with non-object rows / null text",
        ),
        Case(
            "generate/jsonl-deep-nesting",
            generate("--input", "docs.jsonl"),
            {"docs.jsonl": deeply_nested()},
            message=r"docs\.jsonl, line 1: not readable JSON: nested deeper",
            issue=OTHER + ": JSONL ... deep nesting (RecursionError!)",
        ),
        Case(
            "generate/jsonl-empty-text-counted",
            generate("--input", "docs.jsonl"),
            {"docs.jsonl": jsonl({"text": ""}, {"text": ARTICLE}, {"text": "  "})},
            exit_code=0,
            reports=(r"1 documents, 2 sentences", r"2 empty documents skipped"),
            issue=EMPTY_TXT,
        ),
    ]


def setting_cases() -> list[Case]:
    doc = {"doc.txt": ARTICLE}

    def bad_setting(name: str, args: tuple[str, ...], message: str) -> Case:
        return Case(
            f"generate/{name}",
            generate("--input", "doc.txt", *args),
            doc,
            exit_code=2,
            message=message,
            issue=OTHER + f": {' '.join(args)}",
        )

    return [
        bad_setting(
            "pairs-per-sentence-zero",
            ("--pairs-per-sentence", "0"),
            r"argument --pairs-per-sentence: must be at least 1, not 0",
        ),
        bad_setting(
            "pairs-per-sentence-negative",
            ("--pairs-per-sentence", "-2"),
            r"argument --pairs-per-sentence: must be at least 1, not -2",
        ),
        bad_setting(
            "top-p-above-one",
            ("--sample", "--top-p", "2"),
            r"argument --top-p: must be in \(0, 1\]",
        ),
        bad_setting("top-p-nan", ("--sample", "--top-p", "nan"), r"argument --top-p: must be in"),
        bad_setting(
            "top-p-without-sample", ("--top-p", "0.5"), r"--top-p applies to --sample only"
        ),
        bad_setting(
            "batch-size-zero", ("--batch-size", "0"), r"argument --batch-size: must be at least 1"
        ),
        bad_setting("seed-negative", ("--seed", "-1"), r"argument --seed: must be between 0 and"),
        bad_setting(
            "device-unknown",
            ("--device", "quantum"),
            r"argument --device: 'quantum' is not a device",
        ),
        bad_setting(
            "filter-consistency-above-one",
            ("--filter-consistency", "1.5"),
            r"argument --filter-consistency: is a token F1 in \[0, 1\], not 1\.5",
        ),
        bad_setting(
            "filter-consistency-not-a-number",
            ("--filter-consistency", "high"),
            r"argument --filter-consistency: invalid f1_threshold value: 'high'",
        ),
        bad_setting(
            "keep-inconsistent-without-filter",
            ("--keep-inconsistent",),
            r"--keep-inconsistent applies to --filter-consistency only",
        ),
        Case(
            "generate/missing-model-folder",
            ("generate", "--model", "models/none", "--input", "doc.txt", "--no-progress"),
            doc,
            message=r"models/none: no such model",
            issue=OTHER + ": missing model folder",
        ),
        Case(
            "generate/model-config-that-is-not-an-object",
            ("generate", "--model", "model", "--input", "doc.txt", "--no-progress"),
            {**doc, "model/config.json": "[]"},
            message=r"model/config\.json: not a qapgen export",
            issue=OTHER + ": a model folder with a damaged config.json",
        ),
        Case(
            "generate/model-config-deeply-nested",
            ("generate", "--model", "model", "--input", "doc.txt", "--no-progress"),
            {**doc, "model/config.json": deeply_nested()},
            message=r"model/config\.json: not valid JSON",
            issue=OTHER + ": a model folder with a damaged config.json",
        ),
    ]


def cases() -> list[Case]:
    return output_cases() + folder_cases() + text_cases() + setting_cases()
