"""Callbacks the qapgen CLI adds to every run."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import lightning as L
import numpy as np
import torch

from qapgen.atomic_files import atomic_write_text
from qapgen.models.base import ANSWER_REFERENCES, run_directory


class MetricsFile(L.Callback):
    """After test, writes every logged ``test/...`` value to ``<run dir>/metrics.json``.

    Keys are exactly as logged (``test/question/meteor``); the path is printed so that
    scripts and people can find it.
    """

    def __init__(self, filename: str = "metrics.json") -> None:
        self.filename = filename
        self.path: Path | None = None

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = {
            key: _number(value)
            for key, value in sorted(trainer.callback_metrics.items())
            if key.startswith("test/")
        }
        self.path = Path(run_directory(trainer)) / self.filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {**metrics, "global_step": trainer.global_step}
        evaluation = _evaluation_provenance(pl_module)
        if evaluation:
            payload["evaluation"] = evaluation
        atomic_write_text(self.path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
        print(f"qapgen: test metrics written to {self.path}")


def _number(value: torch.Tensor | float) -> float | None:
    number = float(value.item() if isinstance(value, torch.Tensor) else value)
    return number if math.isfinite(number) else None


def _evaluation_provenance(pl_module: L.LightningModule) -> dict:
    """Protocol and metric implementations behind each task's test scores."""
    stage_metrics = getattr(pl_module, "metrics", {}).get("test", {})
    hparams = getattr(pl_module, "hparams", {})
    provenance = {}
    for task, task_metrics in stage_metrics.items():
        result = getattr(task_metrics, "last_result", None) or {}
        provenance[task] = {
            key: result[key]
            for key in ("protocol", "implementations", "normalisation", "n")
            if key in result
        }
        if result:
            provenance[task]["references"] = (
                ANSWER_REFERENCES[hparams.get("answer_references", "first")]
                if task == "answer"
                else "the gold question"
            )
    return provenance


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class NonFiniteLossGuard(L.Callback):
    """Stops training at the first NaN or infinite loss, before it reaches the weights.

    The check runs before backward, so the optimiser never steps on a non-finite loss and
    the last checkpoint stays good. The offending batch's example ids, with the step and
    the loss, are written to ``<run dir>/<filename>`` (one file per rank under DDP), so the
    batch can be inspected or excluded; then ``NonFiniteLossError`` ends the run.
    """

    def __init__(self, filename: str = "nonfinite_loss_batch.json") -> None:
        self.filename = filename
        self.path: Path | None = None
        self._batch_ids: list[str] = []
        self._batch_index = -1

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        ids = batch.get("ids", []) if isinstance(batch, dict) else []
        self._batch_ids = [str(i) for i in ids]
        self._batch_index = batch_idx

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        if torch.isfinite(loss.detach()).all():
            return
        name = self.filename
        if trainer.world_size > 1:
            name = f"{Path(name).stem}.rank{trainer.global_rank}{Path(name).suffix}"
        self.path = Path(run_directory(trainer)) / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        value = loss.detach().float().cpu()
        record = {
            "global_step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "batch_index": self._batch_index,
            "loss": str(value.item() if value.numel() == 1 else value.tolist()),
            "ids": self._batch_ids,
        }
        atomic_write_text(self.path, json.dumps(record, indent=2) + "\n")
        raise NonFiniteLossError(
            f"non-finite loss ({record['loss']}) at step {trainer.global_step} (epoch "
            f"{trainer.current_epoch}, batch {self._batch_index}); training stopped before the "
            f"update. The batch's {len(self._batch_ids)} example ids are in {self.path}"
        )


class RandomStateCheckpoint(L.Callback):
    """Keeps the global random states (torch, CUDA, numpy, Python) in every checkpoint and
    restores them when training resumes from one.

    Lightning checkpoints hold weights, optimiser and loop state but not these states, so
    a resumed run draws different dropout masks from an uninterrupted one with the same
    seed. They are restored at train start, after the sanity check, which is where the
    uninterrupted run continues from the checkpointed point. Checkpoints without the
    states (older runs) resume as before. Only rank 0's states are saved, which under DDP
    is exact when every rank was seeded alike (Lightning's default).
    """

    def __init__(self) -> None:
        self._pending: dict | None = None

    def state_dict(self) -> dict:
        return {"rng_states": random_states()}

    def load_state_dict(self, state_dict: dict) -> None:
        self._pending = state_dict.get("rng_states")

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._pending is not None:
            set_random_states(self._pending)
            self._pending = None


class TrainLoaderStateRestore(L.Callback):
    """Makes a resumed run load the training loader's checkpointed position (see
    ``qapgen.data.resumable``) even when Lightning would drop it.

    Lightning loads the saved loader states when it sets up the training data after
    restoring the fit loop. A ``configure_optimizers`` that reads
    ``trainer.estimated_stepping_batches`` (every LR schedule here) sets the data up before
    that restore, and the states are then never loaded: the epoch restarts from its first
    batch (Lightning issue #20550, open in 2.6). This finishes Lightning's own load at train
    start, before the first batch is fetched; where Lightning already loaded them there is
    nothing pending and it does nothing.
    """

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        fit_loop = trainer.fit_loop
        # Private names of Lightning's fix-up path; if they change this becomes a no-op and
        # tests/training/test_training_resume.py fails.
        if getattr(fit_loop, "_combined_loader_states_to_load", None):
            fit_loop._load_combined_loader_states()


def random_states() -> dict:
    """The global random states, in types that ``torch.load(weights_only=True)`` accepts
    (Lightning loads checkpoints so; numpy's state array becomes a list)."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, keys.tolist(), position, has_gauss, cached_gaussian],
        "python": random.getstate(),
    }


def set_random_states(states: dict) -> None:
    """Restore states saved by ``random_states``."""
    torch.set_rng_state(states["torch"])
    cuda = states.get("torch.cuda") or []
    # A checkpoint from another GPU count (or a CPU run) cannot set CUDA's states.
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    kind, keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state(
        (kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian)
    )
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
