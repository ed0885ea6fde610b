"""No host sync in a training step outside logging intervals.

On CUDA every tensor -> Python conversion (``.item()``, ``bool(t)``, ``float(t)``,
``.tolist()``, ``.cpu()``), every data-dependent shape (``nonzero``, boolean-mask indexing,
``unique``) and ``torch.cuda.synchronize`` makes the host wait until the GPU has finished
all queued work, so the next step's kernels are not queued while this step's run. The test
trains tiny models on CPU through the CLI's own trainer (its callbacks; the progress bar and
the NaN guard set as an accelerator run has them) and records those calls made from
``on_train_batch_start`` to the end of Lightning's batch iteration (forward, backward,
optimiser step, the batch-end hooks and Lightning's own metric bookkeeping), with the first
stack frame outside torch. There must be none on the steps Lightning does not log. Logging
steps (``(global_step + 1) % log_every_n_steps == 0``) convert the logged values, and the
project's own host reads (the NaN guard's check, the progress bar) are placed on them.

What is counted, and how:

- ``aten._local_scalar_dense`` (what ``.item()``, ``bool``, ``float``, ``int`` and
  ``__index__`` of a tensor all reach), ``aten.equal``, ``nonzero``, ``masked_select``,
  ``unique``, ``repeat_interleave`` without ``output_size``, indexing or index-assignment by
  a boolean mask, and copies to the CPU from another device: by a ``TorchDispatchMode``, so
  conversions made inside C++ (a tensor passed where an int is expected) are caught too;
- ``Tensor.tolist``, ``Tensor.numpy``, ``Tensor.cpu`` and ``torch.cuda.synchronize``: by
  patching them (none of them reaches the dispatcher for a CPU tensor).

Not counted: ``.item()`` of a non-fused torch optimiser's step counters, which torch keeps
on the CPU so that reading them is free (the fused optimisers that
``QAPModule.configure_optimizers`` picks on CUDA keep them on the device and do not read
them). Host-to-device copies of Python numbers (``torch.tensor(x, device="cuda")``) also
wait on CUDA but cannot be seen on a CPU run.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from qapgen.balance import OptimisationBalance
from qapgen.callbacks import LoggingStepProgressBar, NonFiniteLossGuard
from qapgen.cli.lightning import run_lightning_cli

TORCH_DIRECTORY = str(Path(torch.__file__).resolve().parent)
THIS_FILE = str(Path(__file__).resolve())
REPOSITORY = Path(__file__).resolve().parents[2]
PROJECT_DIRECTORIES = tuple(str(REPOSITORY / name) for name in ("qapgen", "baselines"))

LOG_EVERY_N_STEPS = 4
STEPS = 12  # logging steps 3, 7 and 11

aten = torch.ops.aten
# Ops whose result the host must wait for (a value or a data-dependent shape).
SCALAR_OPS = {aten._local_scalar_dense.default, aten.equal.default}
SHAPE_OPS = {
    aten.nonzero.default,
    aten.masked_select.default,
    aten._unique2.default,
    aten.unique_dim.default,
    aten.unique_consecutive.default,
}
INDEX_OPS = {aten.index.Tensor, aten._unsafe_index.Tensor}
INDEX_PUT_OPS = {aten.index_put.default, aten.index_put_.default, aten._index_put_impl_.default}
COPY_OPS = {aten._to_copy.default, aten.copy_.default}
# Python-level entry points that do not reach the dispatcher on a CPU tensor.
PATCHED_METHODS = ("tolist", "numpy", "cpu")
# This file's own frames on a recorded stack.
COUNTER_FUNCTIONS = {"record", "__torch_dispatch__", "patched", "patched_synchronize"}


@dataclass(frozen=True)
class SyncSite:
    step: int
    logging_step: bool
    what: str
    where: str  # first frame outside torch
    via: str  # first frame in qapgen/ or baselines/, where that is not ``where``

    def __str__(self) -> str:
        via = f" (via {self.via})" if self.via and self.via != self.where else ""
        return f"step {self.step}: {self.what} at {self.where}{via}"


def _frame_text(frame: traceback.FrameSummary) -> str:
    path = Path(frame.filename).resolve()
    if "site-packages" in path.parts:
        shown = Path(*path.parts[path.parts.index("site-packages") + 1 :])
    elif path.is_relative_to(REPOSITORY):
        shown = path.relative_to(REPOSITORY)
    else:
        shown = path
    return f"{shown}:{frame.lineno} ({frame.name})"


def _sites(stack: list[traceback.FrameSummary]) -> tuple[str, str]:
    frames = [
        f for f in reversed(stack)
        if not f.filename.startswith(TORCH_DIRECTORY)
        and not (f.filename == THIS_FILE and f.name in COUNTER_FUNCTIONS)
    ]  # fmt: skip
    where = _frame_text(frames[0]) if frames else "?"
    project = next((f for f in frames if f.filename.startswith(PROJECT_DIRECTORIES)), None)
    return where, _frame_text(project) if project else ""


def _is_mask(index: object) -> bool:
    return isinstance(index, torch.Tensor) and index.dtype in (torch.bool, torch.uint8)


class HostSyncCounter(L.Callback, TorchDispatchMode):
    """Records every host sync between ``on_train_batch_start`` and the end of the batch's
    iteration, with the step and whether Lightning logs it."""

    def __init__(self) -> None:
        L.Callback.__init__(self)
        TorchDispatchMode.__init__(self)
        self.syncs: list[SyncSite] = []
        self.steps: list[int] = []
        self.step: int | None = None
        self.logging_step = False
        self._optimizers: list[torch.optim.Optimizer] = []

    # -- the window ------------------------------------------------------------------------
    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._optimizers = list(trainer.optimizers)
        loop = trainer.fit_loop.epoch_loop
        advance = loop.advance

        def advance_then_stop(*args, **kwargs):
            try:
                return advance(*args, **kwargs)
            finally:
                self._stop()

        loop.advance = advance_then_stop

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.step = trainer.global_step
        self.logging_step = (self.step + 1) % trainer.log_every_n_steps == 0
        self.steps.append(self.step)
        self.__enter__()

    def _stop(self) -> None:
        if self.step is not None:
            self.step = None
            self.__exit__(None, None, None)

    # -- what is counted -------------------------------------------------------------------
    def record(self, what: str) -> None:
        if self.step is not None:
            where, via = _sites(traceback.extract_stack())
            self.syncs.append(SyncSite(self.step, self.logging_step, what, where, via))

    def _is_optimiser_step_counter(self, tensor: object) -> bool:
        return any(
            state.get("step") is tensor for opt in self._optimizers for state in opt.state.values()
        )

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in SCALAR_OPS:
            if not self._is_optimiser_step_counter(args[0]):
                self.record(str(func))
        elif func in SHAPE_OPS:
            self.record(str(func))
        elif func is aten.repeat_interleave.Tensor and kwargs.get("output_size") is None:
            self.record(str(func))
        elif func in INDEX_OPS and any(_is_mask(i) for i in args[1]):
            self.record(f"{func} with a boolean mask")
        elif func in INDEX_PUT_OPS and any(_is_mask(i) for i in args[1]) and args[2].numel() != 1:
            self.record(f"{func} with a boolean mask")
        elif func in COPY_OPS:
            source = args[1] if func is aten.copy_.default else args[0]
            target = args[0].device if func is aten.copy_.default else kwargs.get("device")
            if source.device.type != "cpu" and target is not None and target.type == "cpu":
                self.record(f"{func} to the CPU")
        return func(*args, **kwargs)


@pytest.fixture
def sync_counter(monkeypatch) -> Iterator[HostSyncCounter]:
    counter = HostSyncCounter()
    for name in PATCHED_METHODS:
        original = getattr(torch.Tensor, name)

        def patched(self, *args, __original=original, __name=name, **kwargs):
            counter.record(f"Tensor.{__name}")
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, patched)
    synchronize = torch.cuda.synchronize

    def patched_synchronize(*args, **kwargs):
        counter.record("torch.cuda.synchronize")
        return synchronize(*args, **kwargs)

    monkeypatch.setattr(torch.cuda, "synchronize", patched_synchronize)
    yield counter
    counter._stop()


def cli_trainer(model_config: str, root: Path):
    """Model, DataModule and trainer as ``qapgen fit`` builds them (the overfit profile's
    tiny model), with a progress bar."""
    return run_lightning_cli(
        [
            "-c", "conf/profile/overfit.yaml",
            "-c", f"conf/model/{model_config}.yaml",
            "--trainer.default_root_dir", str(root),
            "--trainer.max_steps", str(STEPS),
            "--trainer.max_epochs", "-1",
            "--trainer.log_every_n_steps", str(LOG_EVERY_N_STEPS),
            "--trainer.limit_val_batches", "0",
            "--trainer.enable_checkpointing", "false",
            "--trainer.enable_progress_bar", "true",
            "--trainer.deterministic", "false",
            "--data.batch_size", "4",
            "--data.cache_dir", str(root / "cache"),
            "--model.init_args.meteor", "none",
            "--wandb", "disabled",
        ],
        run=False,
    )  # fmt: skip


# Host reads placed on logging steps on purpose: the NaN guard's check and the progress bar.
LOGGING_STEP_READS = ("qapgen/callbacks.py",)


def listing(sites: list[SyncSite]) -> str:
    return "\n".join(f"  {site}" for site in sites)


@pytest.mark.parametrize(
    ("model_config", "balance_measured"), [("t5_qg", False), ("igja_qap", True)]
)
def test_no_host_sync_in_a_training_step_outside_logging_steps(
    model_config, balance_measured, sync_counter, tmp_path
):
    cli = cli_trainer(model_config, tmp_path)
    trainer = cli.trainer
    # As an accelerator run has it: the progress bar reads its metrics on logging steps
    # only. The balance diagnostics measure on every logging step here ...
    (bar,) = [c for c in trainer.callbacks if isinstance(c, L.pytorch.callbacks.ProgressBar)]
    assert isinstance(bar, LoggingStepProgressBar)
    bar.metrics_every_step = False
    (balance,) = [c for c in trainer.callbacks if isinstance(c, OptimisationBalance)]
    balance.every_n_steps = LOG_EVERY_N_STEPS
    # ... and the NaN guard reads its record on logging steps only, as on a GPU.
    (guard,) = [c for c in trainer.callbacks if isinstance(c, NonFiniteLossGuard)]
    guard.check_every_n_steps = LOG_EVERY_N_STEPS
    trainer.callbacks.insert(0, sync_counter)

    trainer.fit(cli.model, datamodule=cli.datamodule)

    assert trainer.global_step == STEPS
    assert sync_counter.steps == list(range(STEPS))
    assert ("balance/grad_cosine" in trainer.logged_metrics) is balance_measured
    # On logging steps the project reads the host only where it means to.
    stray = [
        site for site in sync_counter.syncs
        if site.logging_step and site.where.startswith(("qapgen/", "baselines/"))
        and not site.where.startswith(LOGGING_STEP_READS)
    ]  # fmt: skip
    assert not stray, f"host syncs in project code on logging steps:\n{listing(stray)}"

    # transformers' own mask code would sync too, given 2-D padding masks (it asks the
    # device whether anything is padded); qapgen's models pass 4-D masks.
    syncs = [site for site in sync_counter.syncs if not site.logging_step]
    assert not syncs, f"host syncs outside logging steps:\n{listing(syncs)}"


def test_the_counter_names_each_sync_site(sync_counter):
    values = torch.arange(6.0)
    sync_counter.step, sync_counter.logging_step = 0, False
    sync_counter.__enter__()
    try:
        values[2]  # indexing by a Python int reads nothing back
        values[:3].sum() * 2  # device work only
        line = _line_after()
        values.sum().item()
        bool(values.any())
        int(values[1])
        values[values > 2]
        values.nonzero()
        values.tolist()
        values.cpu()
    finally:
        sync_counter._stop()
    assert [site.what for site in sync_counter.syncs] == [
        "aten._local_scalar_dense.default",
        "aten._local_scalar_dense.default",
        "aten._local_scalar_dense.default",
        "aten.index.Tensor with a boolean mask",
        "aten.nonzero.default",
        "Tensor.tolist",
        "Tensor.cpu",
    ]
    here = Path(__file__).relative_to(REPOSITORY)
    expected = [f"{here}:{line + i} (test_the_counter_names_each_sync_site)" for i in range(7)]
    assert [site.where for site in sync_counter.syncs] == expected


def _line_after() -> int:
    """The line number after the caller's."""
    return traceback.extract_stack()[-2].lineno + 1
