"""JSON that users hand to qapgen, with every way of failing put into words.

``json.loads`` fails three ways on hostile input: malformed text (``JSONDecodeError``),
nesting deeper than Python's recursion limit (``RecursionError``) and an integer too long
to convert (``ValueError``). Each reader catches ``JSON_FAILURES`` and raises its own
one-line error with ``explain``'s words; ``json_type`` names what was found instead of
what was expected. ``read_json`` and ``read_json_object`` read a whole JSON file (a run's
metrics, a cache's metadata, an export's config) and say in ``JSONFileError.reason`` why
one is damaged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

JSON_FAILURES = (ValueError, RecursionError)  # JSONDecodeError is a ValueError


def explain(error: BaseException) -> str:
    """Why ``json.loads`` failed, as a message fragment."""
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg})"
    if isinstance(error, RecursionError):
        return f"not readable JSON: {detail(error)}"
    return f"not readable JSON ({error})"


def detail(error: BaseException) -> str:
    """What ``json.loads`` found wrong, in a few words (``explain`` without its verdict)."""
    if isinstance(error, json.JSONDecodeError):
        return error.msg
    if isinstance(error, RecursionError):
        return f"nested deeper than {sys.getrecursionlimit()} levels"
    return str(error)


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for messages ("null", "an array", ...)."""
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")


class JSONFileError(ValueError):
    """A JSON file that cannot be used; ``reason`` says why in a few words, ``detail`` what
    was found wrong without the verdict."""

    def __init__(self, path: str | Path, reason: str, detail: str) -> None:
        self.path = Path(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{path}: {reason}")


def read_json(path: str | Path) -> Any:
    """The value a whole JSON file holds; ``JSONFileError`` when it is not UTF-8, empty or
    not JSON (a missing or unreadable file raises the OSError itself)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise JSONFileError(path, "not UTF-8 text", "not UTF-8 text") from None
    if not text.strip():
        raise JSONFileError(path, "not valid JSON (it is empty)", "it is empty")
    try:
        return json.loads(text)
    except JSON_FAILURES as error:
        raise JSONFileError(path, explain(error), detail(error)) from None


def read_json_object(path: str | Path) -> dict[str, Any]:
    """``read_json`` of a file that must hold an object."""
    value = read_json(path)
    if not isinstance(value, dict):
        found = json_type(value)
        raise JSONFileError(path, f"not a JSON object ({found})", f"{found}, not an object")
    return value
