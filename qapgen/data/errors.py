"""Errors for bad input: each names the file, the record and the field at fault."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A source file cannot be read as the format it claims to be."""

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.record = record
        self.field = field
        where = [f"file {self.path}"]
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")


class DataNotFoundError(FileNotFoundError):
    """A dataset could be found neither locally nor on the hub; says how to fix it."""


class PreparationOptionError(ValueError):
    """A preparation option that cannot apply: an unknown value, a combination that
    contradicts itself, or a request the data cannot meet (more articles than it holds)."""


class CorruptCacheError(Exception):
    """A cache entry that fails its checks; the message says why. Callers rebuild it."""
