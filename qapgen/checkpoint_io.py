"""How every qapgen run saves and loads Lightning checkpoints.

Lightning's own writer serialises into memory and commits through fsspec, whose local
transaction writes a temporary file in the system temp folder and moves it across: on
another filesystem that move is a copy, so a full disk leaves a partial ``last.ckpt`` and a
kill leaves ``/tmp/tmp*`` behind. Here the temporary file sits beside the checkpoint and is
renamed over it (``qapgen.atomic_files``), and loading never unpickles code
(``qapgen.trust``), whatever ``--weights_only`` says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from qapgen.atomic_files import atomic_open, remove_stale_temporaries
from qapgen.trust import load_checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written whole or not at all, and loaded without running code."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or "://" in str(path):
            # remote storage: Lightning's fsspec writer, with its own guarantees
            return super().save_checkpoint(checkpoint, path, storage_options)
        # A save killed earlier left its temporary file; this save replaces what it was for.
        remove_stale_temporaries(Path(path).parent, Path(path).name)
        with atomic_open(path, "wb") as handle:
            torch.save(checkpoint, handle)

    def load_checkpoint(
        self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        if "://" in str(path):
            return super().load_checkpoint(path, map_location=map_location, weights_only=True)
        if not Path(path).is_file():
            raise FileNotFoundError(f"checkpoint {path}: no such file")
        return load_checkpoint(path, map_location=map_location or "cpu")
