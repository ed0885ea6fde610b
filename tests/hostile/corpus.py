"""The hostile-input corpus: every bad file, bad setting and attack the commands must survive.

Each ``Case`` is a command line and the files it runs on, built by code (never hand-written
bytes) so that the corpus can be regenerated and read. Cases live in one module per area
(``cases_*.py``, each with a ``cases()`` function); ``all_cases()`` gathers them, and
``tests/hostile/test_hostile_corpus.py`` runs every one and checks what it promises: the
exit code, exactly one error line matching ``message`` (no traceback), the counts a
summary must report, the user files that must come through unchanged, and the files a
payload would have created.

    python tests/hostile/corpus.py OUT_DIR     # write every case's files and a manifest
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The areas, one module each; a new area is a new cases_<area>.py listed here.
AREAS = ("data", "evaluate", "generate", "humaneval", "export", "fit", "sweep")

# Placeholders a case's argv may hold, filled in by the runner:
#   {case}        the case's own folder (the working directory of the command)
#   {checkpoint}  a Lightning checkpoint of a tiny trained IGJA-QAP
#   {model}       that checkpoint exported (a folder)
#   {conf}        the repository's conf/ folder
PLACEHOLDERS = ("case", "checkpoint", "model", "conf")

# A file's content: bytes, text (written as UTF-8), or a function that builds the file at
# the given path (for links, folders, large or binary files).
Content = bytes | str | Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One hostile input and what the command must do with it.

    name: unique, ``area/what``.
    argv: the command line (without the program), run in the case's folder.
    files: relative path -> content, created before the run.
    entry: the program: ``qapgen`` or ``sweep`` (``python -m experiments.sweep``).
    exit_code: 0 (handled: repaired, skipped or counted), 1 (refused while running) or 2
        (refused as a bad argument or setting).
    message: a regular expression the one ``error:`` line must match (non-zero exits).
    reports: regular expressions that stdout or stderr must contain (counts of what was
        dropped, skipped or repaired: nothing is dropped silently).
    unchanged: files (relative) that must be byte-identical after the run.
    absent: paths (relative, or absolute under the case folder) that must not exist after
        the run: what a payload would have created, or an output that must not be written.
    stdin: bytes for standard input.
    env: environment variables for the run.
    issue: the finding of issue 15 this case covers, in the issue's words.
    check: an extra assertion, called with (case folder, stdout, stderr).
    fault: the environment's failure (``faults.py``: a disk that fills at a given write),
        applied through the test's MonkeyPatch after the files are built.
    """

    name: str
    argv: tuple[str, ...]
    files: Mapping[str, Content] = field(default_factory=dict)
    entry: str = "qapgen"
    exit_code: int = 1
    message: str | None = None
    reports: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    stdin: bytes | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    issue: str = ""
    check: Callable[[Path, str, str], None] | None = None
    fault: Callable[[Any], None] | None = None

    @property
    def needs(self) -> set[str]:
        """The placeholders (other than ``case`` and ``conf``) the argv uses."""
        return {
            name
            for name in PLACEHOLDERS
            if name not in ("case", "conf") and any(f"{{{name}}}" in arg for arg in self.argv)
        }


def all_cases() -> list[Case]:
    cases = []
    for area in AREAS:
        module = importlib.import_module(f"hostile.cases_{area}")
        cases += module.cases()
    names = [case.name for case in cases]
    duplicated = {name for name in names if names.count(name) > 1}
    assert not duplicated, f"case names must be unique: {sorted(duplicated)}"
    return cases


def build(case: Case, folder: Path) -> Path:
    """Create the case's files under ``folder``; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for relative, content in case.files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    return folder


def digest(path: Path) -> str | None:
    """A file's content hash (None when absent), for the ``unchanged`` check."""
    if path.is_symlink() and not path.exists():
        return f"dangling link to {path.readlink()}"
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_corpus(out_dir: Path) -> Path:
    """Every case's files under ``out_dir/<name>/`` and a ``manifest.json`` of the cases."""
    manifest = []
    for case in all_cases():
        build(case, out_dir / case.name)
        manifest.append(
            {
                "name": case.name,
                "argv": list(case.argv),
                "exit_code": case.exit_code,
                "message": case.message,
                "reports": list(case.reports),
                "issue": case.issue,
            }
        )
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
    print(f"wrote {write_corpus(target)}")
