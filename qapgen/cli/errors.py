"""The errors a `qapgen` command raises on purpose: each is printed as its one-line message
(``qapgen.cli.main`` turns every failure into one line and an exit status)."""

from __future__ import annotations


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


class UsageError(CommandError):
    """Bad arguments or configuration: printed as one line, exit status 2."""
