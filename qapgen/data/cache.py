"""Cache entries that are whole, checked on every read, and rebuilt when they are not.

A cache entry (a folder of prepared splits, a trained tokenizer) is built in a temporary
folder beside its place and renamed into it (``atomic_folder``), so a killed run leaves
either no entry or a complete one. The entry records each file's sha256 (the prepared
splits also their row counts); a read checks them, and an entry that fails (truncated,
edited, half deleted) is reported in one line on stderr and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qapgen.data.errors import CorruptCacheError
from qapgen.json_input import JSONFileError, read_json_object

# The tokenizer's manifest: file name -> sha256 of every file the builder wrote.
TOKENIZER_MANIFEST = "cache-manifest.json"

T = TypeVar("T")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_cache_json(path: Path) -> dict[str, Any]:
    """A cache entry's JSON file as a dict, or CorruptCacheError saying what is wrong."""
    if not path.is_file():
        raise CorruptCacheError(f"{path.name} is missing")
    try:
        return read_json_object(path)
    except JSONFileError as error:
        raise CorruptCacheError(f"{path.name} is {error.reason}") from None
    except OSError as error:
        raise CorruptCacheError(f"{path.name} is unreadable ({error.strerror})") from None


def check_sha256(folder: Path, name: str, expected: Any) -> None:
    """``folder/name`` exists and its sha256 is ``expected``, else CorruptCacheError."""
    path = folder / name
    if not path.is_file():
        raise CorruptCacheError(f"{name} is missing")
    if not isinstance(expected, str) or file_sha256(path) != expected:
        raise CorruptCacheError(f"{name} does not match its recorded sha256")


def write_manifest(folder: Path) -> None:
    """Record the sha256 of every file in ``folder`` (for ``check_manifest``)."""
    files = {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.is_file()}
    (folder / TOKENIZER_MANIFEST).write_text(json.dumps({"files": files}, indent=2))


def check_manifest(folder: Path) -> None:
    """Every file ``write_manifest`` recorded is there, unchanged."""
    manifest = read_cache_json(folder / TOKENIZER_MANIFEST)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise CorruptCacheError(f"{TOKENIZER_MANIFEST} lists no files")
    for name, expected in files.items():
        check_sha256(folder, name, expected)


def load_checked(folder: Path, load: Callable[[Path], T], what: str) -> T | None:
    """The entry at ``folder`` loaded, or None when there is none or it is corrupt.

    ``load`` raises CorruptCacheError for an entry that fails its checks; that is reported
    in one line on stderr (which entry, why, and that it is being rebuilt), and the caller
    rebuilds the entry in its place.
    """
    if not (folder.exists() or folder.is_symlink()):
        return None
    try:
        if not folder.is_dir():
            raise CorruptCacheError("it is not a folder")
        return load(folder)
    except CorruptCacheError as error:
        print(
            f"qapgen: warning: {what} cache entry {folder} is corrupt ({error}); rebuilding it",
            file=sys.stderr,
        )
        return None
