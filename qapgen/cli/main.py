"""The `qapgen` command: Lightning's fit/validate/test/predict, plus the tool subcommands.

Training subcommands go to the Lightning CLI (models chosen by ``class_path`` in YAML);
the rest (``data``, ``evaluate``, ...) are plain functions registered by their modules.

Every failure is one line on stderr (``qapgen COMMAND: error: ...``) and a non-zero exit:
1 for a failure while running, 2 for bad arguments or configuration. ``--debug`` (anywhere
on the command line) or ``QAPGEN_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from qapgen.atomic_files import OutputIsInputError
from qapgen.cli.errors import CommandError, UsageError
from qapgen.data.errors import DataFormatError
from qapgen.spreadsheet import SpreadsheetError
from qapgen.trust import CorruptCheckpointError, UntrustedError

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")
DEBUG_FLAG = "--debug"
DEBUG_ENV = "QAPGEN_DEBUG"

# Each module defines ``register(subparsers)``, which adds its parser and sets ``handler``.
COMMAND_MODULES = (
    "qapgen.cli.data",
    "qapgen.cli.evaluate",
    "qapgen.cli.evaluate_model",
    "qapgen.cli.humaneval",
    "qapgen.cli.generate",
    "qapgen.cli.export",
)


# Failures caused by the user's input or environment (a bad file, a full disk, a refused
# checkpoint): their message is the whole story. So is that of every error class qapgen
# defines (``is_user_error``): each is raised on purpose with a message for the user.
# Anything else is a bug in qapgen and says so.
USER_ERRORS: tuple[type[BaseException], ...] = (
    CommandError,
    DataFormatError,
    OSError,
    OutputIsInputError,
    SpreadsheetError,
    UntrustedError,
    CorruptCheckpointError,
)


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="qapgen",
        description="Question-answer pair generation: train, evaluate, inspect data. "
        f"Training subcommands ({', '.join(LIGHTNING_SUBCOMMANDS)}) take Lightning CLI "
        f"arguments: `qapgen fit --help`. {DEBUG_FLAG} (or {DEBUG_ENV}=1) shows tracebacks.",
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


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` tells the user what went wrong (not a bug to report)."""
    home = type(error).__module__.split(".", 1)[0]
    return isinstance(error, USER_ERRORS) or home in ("qapgen", "baselines", "experiments")


def one_line(error: BaseException) -> str:
    """An exception's message as one line: a user error as itself, anything else with its
    type and how to see the traceback."""
    text = " ".join(str(error).split()) or type(error).__name__
    if is_user_error(error):
        return text
    return f"{type(error).__name__}: {text} (an unexpected failure: rerun with {DEBUG_FLAG} for the traceback)"


def debug_requested(args: list[str]) -> bool:
    return DEBUG_FLAG in args or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(args_list)
    args_list = [a for a in args_list if a != DEBUG_FLAG]
    command = args_list[0] if args_list and not args_list[0].startswith("-") else ""
    try:
        return _dispatch(args_list)
    except BrokenPipeError:
        # The reader of stdout went away (`qapgen generate ... | head`): stop quietly, as
        # other command-line tools do, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"qapgen {command}: interrupted".replace("  ", " "), file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the one place every failure becomes one line
        if debug:
            raise
        prefix = f"qapgen {command}".strip()
        print(f"{prefix}: error: {one_line(error)}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1


def _dispatch(args_list: list[str]) -> int:
    if args_list and args_list[0] in LIGHTNING_SUBCOMMANDS:
        from qapgen.cli.lightning import run_lightning_cli

        run_lightning_cli(args_list)
        return 0
    parser = build_parser()
    args = parser.parse_args(args_list)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
