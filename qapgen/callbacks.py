"""Callbacks the qapgen CLI adds to every run."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import TQDMProgressBar

from qapgen.atomic_files import atomic_write_text
from qapgen.data import batch_keys as keys
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


@dataclass
class _BatchRecord:
    """What the guard keeps of one backward pass until its next check."""

    global_step: int
    epoch: int
    batch_index: int
    ids: list[str]
    loss: torch.Tensor  # detached, where the loss was computed
    # Every rank's losses of this optimiser step were finite (None until the step is taken).
    step_finite: torch.Tensor | None = None


class NonFiniteLossGuard(L.Callback):
    """Stops training after a NaN or infinite loss, keeps it out of the weights and out of
    every checkpoint, and names the batch, without a host sync per step on an accelerator.

    Contract:

    - Each step, on the device, the guard records whether the loss is finite. The host
      reads the record every ``check_every_n_steps`` optimiser steps, just before that
      step's update; also before validation, before every checkpoint is written, at the
      end of each training epoch and at the end of training, so no checkpoint is ever
      written after an unread non-finite loss. The default is every step on CPU, where
      reading costs nothing, and the trainer's ``log_every_n_steps`` elsewhere: the steps
      on which Lightning converts the logged values, and so drains the GPU's queue, anyway.
    - A check that finds a non-finite loss writes the first offending batch's example ids,
      with its step and loss, to ``<run dir>/<filename>`` (one file per rank under DDP,
      written by the ranks whose own loss was non-finite), so the batch can be inspected or
      excluded; then ``NonFiniteLossError`` ends the run, on every rank at the same check,
      before the checking step's update.
    - Checked every step, the run stops before the offending step's update. Between checks
      a non-finite step changes no weight and no optimiser state by its loss, and the
      following steps (up to ``check_every_n_steps - 1``) train as usual. With a fused
      optimiser (what ``QAPModule.configure_optimizers`` picks on CUDA for ``adam`` and
      ``adamw``) the update is skipped exactly, as ``torch.amp.GradScaler`` skips one: the
      fused kernel gets ``found_inf`` and leaves the weights, the moments and the step
      count as they were. Any other optimiser steps with the gradients set to zero: nothing
      non-finite reaches its state, but where an optimiser moves without a gradient the
      step is not a no-op (Adam's momentum and weight decay, Adafactor's second-moment
      decay; plain SGD without weight decay stays put). Either way the LR schedule and
      ``global_step`` advance by one.

    Under DDP each step's flag is all-reduced on the device (no host sync), so every rank
    skips the same steps and stops at the same check. One optimiser per step is assumed
    (as every qapgen model has).
    """

    def __init__(
        self, filename: str = "nonfinite_loss_batch.json", check_every_n_steps: int | None = None
    ) -> None:
        if check_every_n_steps is not None and check_every_n_steps < 1:
            raise ValueError(f"check_every_n_steps must be >= 1, not {check_every_n_steps}")
        self.filename = filename
        self.check_every_n_steps = check_every_n_steps
        self.path: Path | None = None
        self._batch_ids: list[str] = []
        self._batch_index = -1
        self._pending: list[_BatchRecord] = []
        # All losses since the last optimiser step were finite (a 0-d bool on the device).
        self._step_finite: torch.Tensor | None = None

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        ids = batch.get(keys.IDS, []) if isinstance(batch, dict) else []
        self._batch_ids = [str(i) for i in ids]
        self._batch_index = batch_idx

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        loss = loss.detach()
        finite = torch.isfinite(loss).all()
        self._step_finite = finite if self._step_finite is None else self._step_finite & finite
        self._pending.append(
            _BatchRecord(
                trainer.global_step,
                trainer.current_epoch,
                self._batch_index,
                self._batch_ids,
                loss,
            )
        )

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if self._step_finite is None:
            return
        finite, self._step_finite = self._all_ranks(trainer, self._step_finite), None
        for record in self._pending:
            if record.step_finite is None:
                record.step_finite = finite
        if (trainer.global_step + 1) % self._every(trainer) == 0:
            self.check(trainer)  # raises before this update if any loss was non-finite
        else:
            _skip_update_unless(finite, optimizer)

    def _every(self, trainer: L.Trainer) -> int:
        if self.check_every_n_steps is not None:
            return self.check_every_n_steps
        return 1 if trainer.strategy.root_device.type == "cpu" else trainer.log_every_n_steps

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        # The flag handed to a fused optimiser is for its last step only.
        for optimizer in trainer.optimizers:
            if getattr(optimizer, "found_inf", None) is not None:
                del optimizer.found_inf

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check(trainer)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict
    ) -> None:
        # Raised while the checkpoint is assembled: the file is never written.
        self.check(trainer)

    def check(self, trainer: L.Trainer) -> None:
        """Read the losses recorded since the last check (one host sync) and raise
        ``NonFiniteLossError`` if one was not finite on any rank."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        flags = torch.stack(
            [
                torch.stack([_step_flag(record), torch.isfinite(record.loss).all()])
                for record in pending
            ]
        ).tolist()  # (records, [all ranks finite, this rank finite])
        bad = next((r for r, (step_ok, _) in zip(pending, flags, strict=True) if not step_ok), None)
        if bad is None:
            return
        own = next((r for r, (_, ok) in zip(pending, flags, strict=True) if not ok), None)
        if own is None:
            name = Path(self.filename)
            raise NonFiniteLossError(
                f"non-finite loss on another rank at step {bad.global_step} (epoch "
                f"{bad.epoch}); found at step {trainer.global_step}, no non-finite value "
                f"reached the weights. That rank's batch ids are in its "
                f"{name.stem}.rank<N>{name.suffix} in {run_directory(trainer)}"
            )
        record = self._write(trainer, own)
        raise NonFiniteLossError(
            f"non-finite loss ({record['loss']}) at step {own.global_step} (epoch {own.epoch}, "
            f"batch {own.batch_index}); found at step {trainer.global_step}, no non-finite value "
            f"reached the weights. The batch's {len(own.ids)} example ids are in {self.path}"
        )

    def _name(self, trainer: L.Trainer) -> str:
        name = self.filename
        if trainer.world_size > 1:
            name = f"{Path(name).stem}.rank{trainer.global_rank}{Path(name).suffix}"
        return name

    def _write(self, trainer: L.Trainer, bad: _BatchRecord) -> dict:
        self.path = Path(run_directory(trainer)) / self._name(trainer)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        value = bad.loss.float().cpu()
        record = {
            "global_step": bad.global_step,
            "epoch": bad.epoch,
            "batch_index": bad.batch_index,
            "loss": str(value.item() if value.numel() == 1 else value.tolist()),
            "ids": bad.ids,
            "detected_at_step": trainer.global_step,
        }
        atomic_write_text(self.path, json.dumps(record, indent=2) + "\n")
        return record

    @staticmethod
    def _all_ranks(trainer: L.Trainer, finite: torch.Tensor) -> torch.Tensor:
        """``finite`` and-ed over the ranks, on the device (NCCL does not wait on the host)."""
        if trainer.world_size == 1 or not (dist.is_available() and dist.is_initialized()):
            return finite
        flag = finite.to(torch.int32)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return flag.bool()


def _step_flag(record: _BatchRecord) -> torch.Tensor:
    # A check before the record's optimiser step (a checkpoint mid-accumulation) has only
    # this rank's loss to go by.
    return (
        record.step_finite if record.step_finite is not None else torch.isfinite(record.loss).all()
    )


def _skip_update_unless(finite: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
    """Make ``optimizer``'s coming step ignore this step's gradients where ``finite`` is
    False, without reading ``finite`` on the host."""
    if getattr(optimizer, "_step_supports_amp_scaling", False):
        # Fused torch optimisers skip the whole update, step count included, when
        # ``found_inf`` is non-zero (the protocol GradScaler uses).
        optimizer.found_inf = (~finite).to(torch.float32)
        return
    nonfinite = ~finite
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            if parameter.grad is not None:
                # masked_fill, not a multiplication: NaN * 0 is NaN.
                parameter.grad.masked_fill_(nonfinite, 0.0)


class LoggingStepProgressBar(TQDMProgressBar):
    """Lightning's TQDM progress bar, showing ``train/loss`` without a host sync per step on
    an accelerator.

    Lightning turns every value logged with ``prog_bar=True`` into a Python number after
    every training batch, shown or not: a host sync per step on CUDA. So QAPModule logs
    nothing with ``prog_bar``, and this bar reads the values it shows (``metrics``, from
    ``trainer.callback_metrics``) itself: on CPU at every refresh, elsewhere only after the
    steps Lightning logs (every ``log_every_n_steps``), where the values are converted
    anyway, and at epoch ends and after validation. The batch counter, speed and time
    still advance every ``refresh_rate`` batches.

    Args:
        refresh_rate / process_position / leave: as ``TQDMProgressBar``'s.
        metrics: the logged values shown beside the counter.
        metrics_every_step: read ``metrics`` at every refresh; None: on CPU only.
    """

    def __init__(
        self,
        refresh_rate: int = 1,
        process_position: int = 0,
        leave: bool = False,
        metrics: Sequence[str] = ("train/loss",),
        metrics_every_step: bool | None = None,
    ) -> None:
        super().__init__(refresh_rate=refresh_rate, process_position=process_position, leave=leave)
        self.metrics = tuple(metrics)
        self.metrics_every_step = metrics_every_step
        self._read_metrics = True
        self._shown: dict[str, float] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if self.metrics_every_step is None:
            self.metrics_every_step = trainer.strategy.root_device.type == "cpu"

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int
    ) -> None:
        # After the optimiser step: Lightning logs this step if global_step is a multiple.
        logged = trainer.global_step % trainer.log_every_n_steps == 0
        self._read_metrics = bool(self.metrics_every_step) or logged
        try:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        finally:
            self._read_metrics = True

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        items = super().get_metrics(trainer, pl_module)
        if self._read_metrics:
            logged = trainer.callback_metrics
            self._shown = {name: float(logged[name]) for name in self.metrics if name in logged}
        return {**items, **self._shown}


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
