"""The `qapgen` command: Lightning's fit/validate/test/predict, plus the tool subcommands.

Training subcommands go to the Lightning CLI (models chosen by ``class_path`` in YAML);
the rest (``data``, ``evaluate``, ...) are plain functions registered by their modules.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from qapgen.data.errors import DataFormatError

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

# Each module defines ``register(subparsers)``, which adds its parser and sets ``handler``.
COMMAND_MODULES = (
    "qapgen.cli.data",
    "qapgen.cli.evaluate",
    "qapgen.cli.humaneval",
    "qapgen.cli.generate",
    "qapgen.cli.export",
)


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


# Failures caused by the user's input: one line on stderr, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (CommandError, DataFormatError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qapgen",
        description="Question-answer pair generation: train, evaluate, inspect data. "
        f"Training subcommands ({', '.join(LIGHTNING_SUBCOMMANDS)}) take Lightning CLI "
        "arguments: `qapgen fit --help`.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # a real missing dependency, not an absent command
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in LIGHTNING_SUBCOMMANDS:
        from qapgen.cli.lightning import run_lightning_cli

        run_lightning_cli(args_list)
        return 0
    parser = build_parser()
    args = parser.parse_args(args_list)
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"qapgen {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
