"""Documents for generation: plain text, JSONL, a folder of .txt files, or stdin.

Every reader yields ``Document``s and fails with an ``InputError`` naming the input and
the problem in one line: a missing path, an empty input, a binary file, a JSONL line that
is not an object with text. Text that is mostly fine but holds a few undecodable bytes is
read with U+FFFD in their place, and the count is reported in ``ReadReport``; text saved
in Windows-1252 (or Latin-1) by an older editor is read as such, and counted.

A folder is a corpus, so one bad file does not stop the run: everything in it that is not
read is skipped and counted by reason in ``ReadReport.skipped`` (files not named ``.txt``,
binary or unreadable files, broken links, links to folders, links that lead out of the
folder, which are not followed so that a shared folder cannot pull in files from
elsewhere). An empty or blank ``.txt`` file counts as an empty document, as a JSONL line
with empty text does.
"""

from __future__ import annotations

import codecs
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from qapgen.json_input import JSON_FAILURES, explain, json_type

InputFormat = Literal["auto", "text", "jsonl"]
# How much of a file decides whether it is binary.
SNIFF_BYTES = 8192
# Above this share of undecodable bytes, the input is taken to be binary data, not text
# (Latin-1 prose has a few per cent non-ASCII letters; binary data about half its bytes).
MAX_UNDECODABLE_SHARE = 0.1
JSONL_TEXT_FIELDS = ("text", "context")
JSONL_ID_FIELDS = ("id", "document", "title")
FOLDER_SUFFIX = ".txt"

# Why a folder entry was not read (the summary says "<count> <reason> skipped").
NOT_TXT = "files not named .txt"
NOT_TEXT = "files that are not text (binary or not UTF-8)"
UNREADABLE = "unreadable files or folders"
SPECIAL = "special files (not regular files)"
BROKEN_LINK = "broken links"
LINK_OUT = "links out of the folder"
LINK_TO_FOLDER = "links to folders"


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
    windows_1252_documents: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # folder entries by reason


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
        skipped = Counter(report.skipped)
        skipped["empty documents"] = report.empty_documents
        said = f" ({_reasons(skipped)} skipped)" if +skipped else ""
        raise InputError(f"{_name(source)}: no text to generate from (empty input){said}")


def input_files(source: str | Path) -> list[Path]:
    """The files ``read_documents(source)`` reads (none for stdin), e.g. to keep an output
    from replacing one of them."""
    if str(source) == "-":
        return []
    path = Path(source)
    return folder_files(path, Counter()) if path.is_dir() else [path]


def folder_files(folder: Path, skipped: Counter[str]) -> list[Path]:
    """The ``.txt`` files under ``folder``, sorted; every entry left out is counted in
    ``skipped`` by reason. Links to files inside the folder are followed, no others."""
    root = folder.resolve()
    files = []

    def unreadable(error: OSError) -> None:
        skipped[UNREADABLE] += 1

    # followlinks=False: a link to a folder is listed among the folders but not entered.
    for parent, folders, names in os.walk(folder, onerror=unreadable):
        base = Path(parent)
        for name in [n for n in folders if (base / n).is_symlink()]:
            folders.remove(name)
            skipped[LINK_TO_FOLDER if _inside(base / name, root) else LINK_OUT] += 1
        folders.sort()
        for name in names:
            path = base / name
            reason = _skip_reason(path, root)
            if reason is None:
                files.append(path)
            else:
                skipped[reason] += 1
    return sorted(files)


def _inside(path: Path, root: Path) -> bool:
    target = path.resolve()
    return target == root or root in target.parents


def _skip_reason(path: Path, root: Path) -> str | None:
    if path.suffix.lower() != FOLDER_SUFFIX:
        return NOT_TXT
    if path.is_symlink():
        if not path.exists():  # a dangling link or a loop
            return BROKEN_LINK
        if not _inside(path, root):
            return LINK_OUT
    if not path.is_file():
        return SPECIAL
    return None


def _folder_documents(folder: Path, report: ReadReport) -> Iterator[Document]:
    files = folder_files(folder, report.skipped)
    if not files:
        skipped = sum(report.skipped.values())
        raise InputError(
            f"{folder}: folder holds no readable .txt files"
            + (f" ({skipped} entries skipped: {_reasons(report.skipped)})" if skipped else "")
        )
    for file in files:
        name = str(file.relative_to(folder))
        try:
            data = file.read_bytes()
        except OSError:
            report.skipped[UNREADABLE] += 1
            continue
        if not data:
            yield Document(name, "")  # counted as an empty document
            continue
        try:
            text = decode_text(data, str(file), report)
        except InputError:
            report.skipped[NOT_TEXT] += 1
            continue
        yield Document(name, text)


def _reasons(skipped: Counter[str]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()) if count)


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
        yield from _folder_documents(path, report)
        return
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror or error})") from error
    text = decode_text(data, str(path), report)
    is_jsonl = input_format == "jsonl" or (input_format == "auto" and path.suffix == ".jsonl")
    yield from parse_jsonl(text, str(path)) if is_jsonl else [Document(path.name, text)]


def _read_stream(stream: BinaryIO) -> bytes:
    return stream.read()


def decode_text(data: bytes, name: str, report: ReadReport) -> str:
    """UTF-8 text of ``data`` (a leading BOM dropped); binary data raises ``InputError``.

    Text with no UTF-8 beyond ASCII that reads as Windows-1252 (Latin-1 included) is read
    so and counted; otherwise undecodable bytes become U+FFFD and are counted.
    """
    if not data:
        raise InputError(f"{name}: file is empty")
    if b"\x00" in data[:SNIFF_BYTES]:
        raise InputError(f"{name}: binary file (NUL bytes), expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8-sig", errors="replace")
    legacy = _windows_1252_text(data, text)
    if legacy is not None:
        report.windows_1252_documents += 1
        return legacy
    # U+FFFD already in valid text is not counted as a repair.
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    if bad > max(1, MAX_UNDECODABLE_SHARE * len(data)):
        raise InputError(
            f"{name}: not UTF-8 text ({bad} undecodable bytes in {len(data)}); binary file?"
        )
    report.undecodable_bytes += bad
    return text


def _windows_1252_text(data: bytes, text: str) -> str | None:
    """``data`` read as Windows-1252, when that is what it looks like: not one valid UTF-8
    character beyond ASCII (a damaged UTF-8 file keeps UTF-8 and gets U+FFFD for its bad
    bytes instead of mojibake everywhere), no BOM, and no control characters once decoded
    (binary data has them)."""
    if data.startswith(codecs.BOM_UTF8) or any(c > "\x7f" and c != "\ufffd" for c in text):
        return None
    try:
        decoded = data.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return None
    if any(c < " " and c not in "\t\n\r\f\v" for c in decoded):
        return None
    return decoded


def parse_jsonl(text: str, name: str) -> Iterator[Document]:
    """One document per non-blank line: an object with ``text`` (or ``context``) and
    optionally ``id``; the line number is the id otherwise."""
    # Only \n ends a JSONL line: other Unicode line breaks may sit inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except JSON_FAILURES as error:
            raise InputError(f"{name}, line {number}: {explain(error)}") from error
        if not isinstance(row, dict):
            raise InputError(f"{name}, line {number}: expected a JSON object, not {json_type(row)}")
        text_field = next((f for f in JSONL_TEXT_FIELDS if f in row), None)
        if text_field is None or not isinstance(row[text_field], str):
            found = f" ({text_field} is {json_type(row[text_field])})" if text_field else ""
            raise InputError(
                f"{name}, line {number}: needs a string field "
                f"{' or '.join(JSONL_TEXT_FIELDS)}{found}"
            )
        yield Document(_document_id(row, name, number), row[text_field])


def _document_id(row: dict, name: str, number: int) -> str:
    """The row's id field as text; the line number when it has none (or a null one)."""
    key = next((f for f in JSONL_ID_FIELDS if row.get(f) is not None), None)
    if key is None:
        return f"line-{number}"
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(
            f"{name}, line {number}: field {key} must be text or a number, not {json_type(value)}"
        )
    return str(value)


def _name(source: str | Path) -> str:
    return "<stdin>" if str(source) == "-" else str(source)
