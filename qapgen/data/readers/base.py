"""Shared plumbing for the source-format readers: decoding, field access, drop counts."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qapgen.data.errors import DataFormatError
from qapgen.data.records import QARecord


@dataclass
class ReadResult:
    """What a reader returns: the records, plus every source record it did not keep.

    ``dropped`` counts skipped source QA pairs by reason, so nothing disappears silently;
    ``source_records`` is the number of QA pairs seen in the source, kept or not.
    """

    records: list[QARecord] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    source_records: int = 0

    def extend(self, other: ReadResult) -> None:
        self.records.extend(other.records)
        self.dropped.update(other.dropped)
        self.source_records += other.source_records


def read_text(path: Path) -> str:
    """Read a (possibly gzipped) UTF-8 file, naming the offending byte when it is not UTF-8."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataFormatError(path, f"not a readable gzip file ({error})") from error
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start : error.start + 1].hex()
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataFormatError(
            path, f"not UTF-8: byte 0x{bad} at offset {error.start} (line {line})"
        ) from error


def load_json(path: Path) -> Any:
    """Parse a whole-file JSON document; a truncated or malformed file names line and column."""
    text = read_text(path)
    if not text.strip():
        raise DataFormatError(path, "the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DataFormatError(
            path,
            f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); "
            "the file may be truncated or corrupted",
        ) from error


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, object) for each non-blank line of a JSON-lines file."""
    text = read_text(path)
    if not text.strip():
        raise DataFormatError(path, "the file is empty")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as error:
            raise DataFormatError(
                path, f"line {lineno} is not valid JSON ({error.msg} at column {error.colno})"
            ) from error


def require(obj: Any, key: str, kind: type | tuple[type, ...], *, path: Path, record: str) -> Any:
    """Return ``obj[key]`` if present and of the expected type, else a precise error."""
    if not isinstance(obj, dict):
        raise DataFormatError(path, f"expected an object, got {type(obj).__name__}", record=record)
    if key not in obj:
        raise DataFormatError(path, "missing field", record=record, field=key)
    value = obj[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataFormatError(
            path,
            f"expected {names}, got {type(value).__name__}",
            record=record,
            field=key,
        )
    return value


class IdRegistry:
    """Rejects duplicate record ids, naming where the first one was seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: dict[str, str] = {}

    def add(self, record_id: str, where: str) -> None:
        if record_id in self._seen:
            raise DataFormatError(
                self.path,
                f"duplicate id (first seen at {self._seen[record_id]}, again at {where})",
                record=record_id,
                field="id",
            )
        self._seen[record_id] = where


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
