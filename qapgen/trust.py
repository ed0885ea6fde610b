"""What qapgen agrees to load: checkpoints without code, classes from known packages only.

A PyTorch checkpoint is a pickle, and unpickling may call any function the file names
(``os.system`` included). qapgen loads checkpoints with ``torch.load(weights_only=True)``,
whose unpickler builds only tensors, containers and the types registered below; a
checkpoint that needs anything else is refused with one line saying what it asked for.

A class path (``class_path`` in YAML, a checkpoint's or an export's model class) is imported
only when it lies in one of ``TRUSTED_PACKAGES``: importing a module runs its code, so the
check comes before the import.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import re
from pathlib import Path
from typing import Any

import torch

# The packages whose classes a config, a checkpoint or an export may name; a user's own
# packages join them through this environment variable (a comma list of package names).
TRUSTED_PACKAGES = (
    "qapgen",
    "baselines",
    "lightning",
    "pytorch_lightning",
    "torch",
    "transformers",
)
TRUSTED_PACKAGES_ENV = "QAPGEN_TRUSTED_PACKAGES"
# Types besides tensors and containers that qapgen's own checkpoints hold: paths in the
# hyperparameters and callback states (plain values, no code runs to build them).
SAFE_CHECKPOINT_GLOBALS = [pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath]


class UntrustedError(ValueError):
    """A file or setting asks qapgen to run code it does not trust; says what and where."""


class CorruptCheckpointError(ValueError):
    """A file is not a readable PyTorch checkpoint (truncated, empty or another format)."""


def trusted_packages() -> tuple[str, ...]:
    """``TRUSTED_PACKAGES`` and the packages ``QAPGEN_TRUSTED_PACKAGES`` adds."""
    extra = os.environ.get(TRUSTED_PACKAGES_ENV, "")
    added = tuple(name.strip() for name in extra.split(",") if name.strip().isidentifier())
    return TRUSTED_PACKAGES + added


def is_trusted_class_path(class_path: str) -> bool:
    return isinstance(class_path, str) and class_path.split(".", 1)[0] in trusted_packages()


def check_class_path(class_path: Any, where: str) -> str:
    """``class_path`` when it may be imported; ``UntrustedError`` naming ``where`` if not."""
    if not isinstance(class_path, str) or not re.fullmatch(r"[A-Za-z_][\w.]*", class_path):
        raise UntrustedError(f"{where}: class path {class_path!r} is not a dotted name")
    if not is_trusted_class_path(class_path):
        raise UntrustedError(
            f"{where}: class path {class_path!r} is outside {', '.join(trusted_packages())}; "
            f"refused before importing it (trust a package of yours with {TRUSTED_PACKAGES_ENV})"
        )
    return class_path


def restrict_config_imports() -> None:
    """Make jsonargparse (the Lightning CLI's parser) import only trusted packages."""
    from jsonargparse import set_parsing_settings

    set_parsing_settings(import_path_denylist=["*"], import_path_allowlist=list(trusted_packages()))


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> Any:
    """A checkpoint's contents, unpickled without running code.

    Raises ``UntrustedError`` when the pickle needs a function or class outside the safe
    set (naming it), ``CorruptCheckpointError`` when the file is not a readable checkpoint,
    ``OSError`` when it cannot be read.
    """
    path = Path(path)
    with path.open("rb"):  # a missing or unreadable file fails here, as itself
        pass
    try:
        with torch.serialization.safe_globals(SAFE_CHECKPOINT_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True)
    except LOAD_FAILURES as error:
        raise checkpoint_load_error(path, error) from error


# What torch.load raises for a refused pickle (UnpicklingError) or for a file that is not a
# checkpoint: torch's zip reader reports a truncated archive as OSError(EINVAL), others as
# RuntimeError, EOFError or a stray KeyError.
LOAD_FAILURES = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    OSError,
)


def checkpoint_load_error(path: str | Path, error: BaseException) -> ValueError:
    """The one-line error for a checkpoint that ``torch.load(weights_only=True)`` refused."""
    message = str(error)
    wanted = re.search(r"(?:Unsupported global|GLOBAL):? *(?:GLOBAL )?([\w.]+)", message)
    if isinstance(error, pickle.UnpicklingError) and wanted:
        return UntrustedError(
            f"{path}: refused: the checkpoint asks to run {wanted.group(1)}, which a qapgen "
            "checkpoint never needs (loading it could execute code)"
        )
    return CorruptCheckpointError(
        f"{path}: not a readable checkpoint, truncated or another format "
        f"({type(error).__name__}: {_first_line(error)})"
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
