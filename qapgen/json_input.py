"""JSON that users hand to qapgen, with every way of failing put into words.

``json.loads`` fails three ways on hostile input: malformed text (``JSONDecodeError``),
nesting deeper than Python's recursion limit (``RecursionError``) and an integer too long
to convert (``ValueError``). Each reader catches ``JSON_FAILURES`` and raises its own
one-line error with ``explain``'s words; ``json_type`` names what was found instead of
what was expected.
"""

from __future__ import annotations

import json
import sys

JSON_FAILURES = (ValueError, RecursionError)  # JSONDecodeError is a ValueError


def explain(error: BaseException) -> str:
    """Why ``json.loads`` failed, as a message fragment."""
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg})"
    if isinstance(error, RecursionError):
        return f"not readable JSON: nested deeper than {sys.getrecursionlimit()} levels"
    return f"not readable JSON ({error})"


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, for messages ("null", "an array", ...)."""
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), "a number")
