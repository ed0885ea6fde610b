"""Every file qapgen writes: whole or not at all, never over a user's file unasked.

A write goes to a hidden temporary file in the destination's own folder, is flushed to
disk, and is renamed over the destination. The rename is atomic on one filesystem, so a
kill, a full disk or a read-only folder leaves either the old file or the new one, never a
partial one; a failed write removes its temporary file. Renaming replaces a symbolic link
at the destination instead of writing through it, so no writer follows a link out of its
target folder.

``check_output`` is the guard every command runs before writing a path the user named: an
existing output needs ``--overwrite``, and an output that is one of the command's inputs is
refused outright.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

# Temporary names start with this, so a folder's leftovers from a killed writer can be
# recognised (and are never taken for results).
TEMP_PREFIX = ".qapgen-tmp-"


class OutputExistsError(FileExistsError):
    """An output path already holds something and ``--overwrite`` was not given."""


class OutputIsInputError(ValueError):
    """An output path is one of the command's own inputs."""


class FileWriteError(OSError):
    """Writing a file failed (full disk, read-only folder, ...); names the file."""


def _same_path(first: Path, second: Path) -> bool:
    try:
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False


def check_output(
    path: str | Path,
    *,
    overwrite: bool,
    inputs: Iterable[str | Path] = (),
    what: str = "output",
    flag: str = "--overwrite",
) -> Path:
    """Refuse to write ``path`` when it is an input, or exists and ``overwrite`` is off.

    A folder counts as existing only when it holds something: an empty folder is a fine
    target. Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    for source in inputs:
        source = Path(source)
        if _same_path(path, source) or path.resolve() == source.resolve():
            raise OutputIsInputError(
                f"{what} {path} is also an input ({source}); pick another path"
            )
        # A folder output is replaced whole: it must not hold an input.
        if path.resolve() in source.resolve().parents:
            raise OutputIsInputError(
                f"{what} {path} holds an input ({source}); pick a folder outside it"
            )
    occupied = path.is_symlink() or (path.exists() and (not path.is_dir() or any(path.iterdir())))
    if occupied and not overwrite:
        kind = "folder" if path.is_dir() else "file"
        raise OutputExistsError(
            f"{what} {path} already exists ({kind}); pass {flag} to replace it, or pick "
            "another path"
        )
    return path


def _temp_in(folder: Path, name: str, *, directory: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if directory:
        return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}-", dir=folder))
    handle, temp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}-", dir=folder)
    os.close(handle)
    return Path(temp)


def _write_error(path: Path, error: OSError) -> FileWriteError:
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        reason = "no space left on device"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = f"{reason} (read-only or not writable)"
    failure = FileWriteError(f"cannot write {path}: {reason}; nothing was changed")
    failure.errno = error.errno  # kept for callers, left out of the one-line message
    return failure


def _fsync_folder(folder: Path) -> None:
    # The rename itself is durable only once the folder's entry is on disk; some filesystems
    # cannot open a folder for fsync, which costs durability, not atomicity.
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` to disk, so the folder is whole before it is renamed."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


@contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO[Any]]:
    """A handle on a temporary file that becomes ``path`` when the block ends cleanly.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (bytes). When the block raises, the temporary
    file is removed and ``path`` is left as it was.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    try:
        temp = _temp_in(path.parent, path.name)
    except OSError as error:
        raise _write_error(path, error) from error
    try:
        text = mode == "w"
        with open(
            temp, mode, encoding=encoding if text else None, newline=newline if text else None
        ) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, FileWriteError):
            raise _write_error(path, error) from error
        raise
    _fsync_folder(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns ``path``."""
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)
    return Path(path)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``path`` that replaces ``path`` when the block ends cleanly.

    What was at ``path`` (a folder, a file or a link) is removed only after the new folder
    is complete; a link is removed, never followed. When the block raises, the temporary
    folder is removed and ``path`` is left as it was.
    """
    path = Path(path)
    try:
        temp = _temp_in(path.parent, path.name, directory=True)
    except OSError as error:
        raise _write_error(path, error) from error
    try:
        yield temp
        _fsync_tree(temp)
        aside = None
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            aside = _temp_in(path.parent, f"{path.name}-old", directory=True)
            os.replace(path, aside / path.name)
        os.replace(temp, path)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException as error:
        shutil.rmtree(temp, ignore_errors=True)
        if isinstance(error, OSError) and not isinstance(error, FileWriteError):
            raise _write_error(path, error) from error
        raise
    _fsync_folder(path.parent)


def remove_stale_temporaries(folder: str | Path, name: str = "") -> list[Path]:
    """Remove temporary files and folders a killed writer left in ``folder`` (only those
    for the target ``name`` when given); returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for leftover in folder.glob(f"{TEMP_PREFIX}{name}{'-' if name else ''}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover)
    return removed
