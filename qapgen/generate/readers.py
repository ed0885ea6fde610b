"""Documents for generation: plain text, JSONL, a folder of .txt files, or stdin.

Every reader yields ``Document``s and fails with an ``InputError`` naming the input and
the problem in one line: a missing path, an empty input, a binary file, a JSONL line that
is not an object with text. Text that is mostly fine but holds a few undecodable bytes is
read with U+FFFD in their place, and the count is reported in ``ReadReport``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

InputFormat = Literal["auto", "text", "jsonl"]
# How much of a file decides whether it is binary.
SNIFF_BYTES = 8192
# Above this share of undecodable bytes, the input is taken to be binary data, not text
# (Latin-1 prose has a few per cent non-ASCII letters; binary data about half its bytes).
MAX_UNDECODABLE_SHARE = 0.1
JSONL_TEXT_FIELDS = ("text", "context")
JSONL_ID_FIELDS = ("id", "document", "title")


class InputError(ValueError):
    """Input that cannot be generated from; the message is one line for the user."""


@dataclass(frozen=True)
class Document:
    """One source document: its id (file name, JSONL id or line number) and its text."""

    id: str
    text: str


@dataclass
class ReadReport:
    """What the readers had to repair or skip, for the run summary."""

    documents: int = 0
    empty_documents: int = 0
    undecodable_bytes: int = 0


def read_documents(
    source: str | Path, input_format: InputFormat = "auto", report: ReadReport | None = None
) -> Iterator[Document]:
    """Documents from ``source``: a file, a folder of ``.txt`` files, or ``-`` for stdin.

    ``auto`` reads ``.jsonl`` files as JSONL and everything else as plain text (one file,
    one document). Raises ``InputError`` when there is nothing to generate from.
    """
    report = report if report is not None else ReadReport()
    found = False
    for document in _documents(source, input_format, report):
        if not document.text.strip():
            report.empty_documents += 1
            continue
        found = True
        report.documents += 1
        yield document
    if not found:
        raise InputError(f"{_name(source)}: no text to generate from (empty input)")


def _documents(source: str | Path, input_format: InputFormat, report: ReadReport):
    if str(source) == "-":
        data = _read_stream(sys.stdin.buffer)
        text = decode_text(data, "<stdin>", report)
        yield from (
            parse_jsonl(text, "<stdin>") if input_format == "jsonl" else [Document("-", text)]
        )
        return
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise InputError(f"{path}: folder holds no .txt files")
        for file in files:
            text = decode_text(file.read_bytes(), str(file), report)
            yield Document(str(file.relative_to(path)), text)
        return
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    data = path.read_bytes()
    text = decode_text(data, str(path), report)
    is_jsonl = input_format == "jsonl" or (input_format == "auto" and path.suffix == ".jsonl")
    yield from parse_jsonl(text, str(path)) if is_jsonl else [Document(path.name, text)]


def _read_stream(stream: BinaryIO) -> bytes:
    return stream.read()


def decode_text(data: bytes, name: str, report: ReadReport) -> str:
    """UTF-8 text of ``data`` (a leading BOM dropped); binary data raises ``InputError``."""
    if not data:
        raise InputError(f"{name}: file is empty")
    if b"\x00" in data[:SNIFF_BYTES]:
        raise InputError(f"{name}: binary file (NUL bytes), expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8-sig", errors="replace")
    # U+FFFD already in valid text is not counted as a repair.
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    if bad > max(1, MAX_UNDECODABLE_SHARE * len(data)):
        raise InputError(
            f"{name}: not UTF-8 text ({bad} undecodable bytes in {len(data)}); binary file?"
        )
    report.undecodable_bytes += bad
    return text


def parse_jsonl(text: str, name: str) -> Iterator[Document]:
    """One document per non-blank line: an object with ``text`` (or ``context``) and
    optionally ``id``; the line number is the id otherwise."""
    # Only \n ends a JSONL line: other Unicode line breaks may sit inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{name}, line {number}: not JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise InputError(f"{name}, line {number}: expected a JSON object")
        field = next((f for f in JSONL_TEXT_FIELDS if f in row), None)
        if field is None or not isinstance(row[field], str):
            raise InputError(
                f"{name}, line {number}: needs a string field {' or '.join(JSONL_TEXT_FIELDS)}"
            )
        key = next((f for f in JSONL_ID_FIELDS if f in row), None)
        yield Document(str(row[key]) if key else f"line-{number}", row[field])


def _name(source: str | Path) -> str:
    return "<stdin>" if str(source) == "-" else str(source)
