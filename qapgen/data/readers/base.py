"""Shared plumbing for the source-format readers: decoding, field access, drop counts."""

from __future__ import annotations

import codecs
import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qapgen.data.errors import DataFormatError
from qapgen.data.records import QARecord
from qapgen.json_input import JSON_FAILURES, explain


@dataclass
class ReadResult:
    """What a reader returns: the records, plus every source record it did not keep.

    ``dropped`` counts skipped source QA pairs by reason, so nothing disappears silently;
    ``source_records`` is the number of QA pairs seen in the source, kept or not, and ``ids``
    their ids (kept or not), so that ids can be checked across files.
    """

    records: list[QARecord] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    source_records: int = 0
    ids: list[str] = field(default_factory=list)

    def extend(self, other: ReadResult) -> None:
        self.records.extend(other.records)
        self.dropped.update(other.dropped)
        self.source_records += other.source_records
        self.ids.extend(other.ids)


def read_text(path: Path) -> str:
    """Read a (possibly gzipped) UTF-8 file, naming the offending byte when it is not UTF-8.

    A leading byte-order mark (what Windows editors write) is dropped; anything else that is
    not UTF-8 is refused with the byte, its offset and line, and the likely encoding.
    """
    if path.is_dir():
        raise DataFormatError(path, "is a folder, not a file")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataFormatError(path, f"not a readable gzip file ({error})") from error
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start : error.start + 1].hex()
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataFormatError(
            path,
            f"not UTF-8: byte 0x{bad} at offset {error.start} (line {line}){_encoding_hint(raw)}; "
            "re-save the file as UTF-8",
        ) from error


def _encoding_hint(raw: bytes) -> str:
    """What the bytes probably are, said so that the user knows what to convert from."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ", the file looks like UTF-16"
    if b"\x00" in raw[:1000]:
        return ", the file looks binary"
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return ""
    return ", the file looks like Windows-1252 or Latin-1"


def parse_json(text: str, path: Path, line: int | None = None) -> Any:
    """``json.loads`` whose every failure is a DataFormatError naming the file (and line).

    Besides malformed text this covers what ``json`` raises beyond JSONDecodeError: nesting
    deeper than Python's recursion limit, and integers too long to convert.
    """
    at = "" if line is None else f"line {line}: "
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if line is not None:
            message = f"line {line} is not valid JSON ({error.msg} at column {error.colno})"
        else:
            message = (
                f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); "
                "the file may be truncated or corrupted"
            )
        raise DataFormatError(path, message) from error
    except JSON_FAILURES as error:  # nesting past the recursion limit, too long an integer
        raise DataFormatError(path, f"{at}{explain(error)}") from None


def load_json(path: Path) -> Any:
    """Parse a whole-file JSON document; a truncated or malformed file names line and column."""
    text = read_text(path)
    if not text.strip():
        raise DataFormatError(path, "the file is empty")
    return parse_json(text, path)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, object) for each non-blank line of a JSON-lines file."""
    text = read_text(path)
    if not text.strip():
        raise DataFormatError(path, "the file is empty")
    # "\n" only: JSON strings may hold U+2028, which splitlines() would break at.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield lineno, parse_json(line, path, lineno)


def require(obj: Any, key: str, kind: type | tuple[type, ...], *, path: Path, record: str) -> Any:
    """Return ``obj[key]`` if present and of the expected type, else a precise error."""
    if not isinstance(obj, dict):
        raise DataFormatError(path, f"expected an object, got {type(obj).__name__}", record=record)
    if key not in obj:
        raise DataFormatError(path, "missing field", record=record, field=key)
    return check_type(obj[key], kind, path=path, record=record, field=key)


def check_type(
    value: Any, kind: type | tuple[type, ...], *, path: Path, record: str, field: str
) -> Any:
    """Return ``value`` if it is of ``kind``, else an error naming the field.

    ``true`` and ``false`` are not integers here, although Python's bool is an int: an
    offset of ``true`` is a broken file, not offset 1.
    """
    kinds = (kind,) if isinstance(kind, type) else kind
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        shown = "null" if value is None else type(value).__name__
        raise DataFormatError(path, f"expected {names}, got {shown}", record=record, field=field)
    return value


class IdRegistry:
    """Rejects empty and duplicate record ids, naming where the first one was seen; lists
    them in ``result.ids``."""

    def __init__(self, path: Path, result: ReadResult) -> None:
        self.path = path
        self.result = result
        self._seen: dict[str, str] = {}

    def add(self, record_id: str, where: str) -> None:
        if not record_id.strip():
            raise DataFormatError(self.path, "empty id", record=where, field="id")
        if record_id in self._seen:
            raise DataFormatError(
                self.path,
                f"duplicate id (first seen at {self._seen[record_id]}, again at {where})",
                record=record_id,
                field="id",
            )
        self._seen[record_id] = where
        self.result.ids.append(record_id)


def require_items(items: list, what: str, *, path: Path, field: str) -> list:
    """``items`` (a file's top-level list) if it holds anything; an empty file section is an
    error, not a dataset of nothing."""
    if not items:
        raise DataFormatError(
            path, f"holds no {what} (the list is empty)", record="<top level>", field=field
        )
    return items


def require_records(result: ReadResult, path: Path) -> ReadResult:
    """``result`` if its file held at least one QA pair; a file of none is refused."""
    if result.source_records == 0:
        raise DataFormatError(path, "holds no QA pairs (every question list is empty)")
    return result


def locate_answer(context: str, answer: str, start: int | None) -> int | None:
    """Char offset of ``answer`` in ``context``: the given offset when it matches, else None.

    Offsets are trusted only when the text at that offset is the answer; a mismatched offset
    is treated as missing so the caller can count it rather than build a wrong span.
    """
    if start is None or not answer:
        return None
    if 0 <= start and context[start : start + len(answer)] == answer:
        return start
    return None
