"""Kill-and-resume: a run crashed after its step-k checkpoint and resumed from it ends with
exactly the weights and metrics of an uninterrupted run with the same seed, whether step k
ends an epoch or falls inside one (the training loader's position is in the checkpoint)."""

from __future__ import annotations

import random
from contextlib import contextmanager

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from qapgen.callbacks import RandomStateCheckpoint, TrainLoaderStateRestore
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.igja_qap_module import IGJAQAPModule

SEED = 0
EPOCHS = 3  # 2 batches each: 6 steps
KILL_AT_STEP = 2  # right after the end-of-epoch-1 checkpoint
# Mid-epoch: batch 4 makes 4 batches an epoch (12 steps); step 6 is epoch 1's second batch.
MID_EPOCH_BATCH_SIZE = 4
MID_EPOCH_KILL_AT_STEP = 6
METRICS = ("train/loss", "val/loss", "val/answer/bleu1", "val/question/rougeL")


class SimulatedKill(Exception):
    """Stands for SIGKILL: the process state is abandoned, only the checkpoint survives."""


class KillAtStep(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise SimulatedKill(f"killed at step {self.step}")


class BatchLog(L.Callback):
    """What each step trained on: (global step, batch index, example ids)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, int, list[str]]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.steps.append((trainer.global_step, batch_idx, list(batch["ids"])))


def make_run(
    root,
    cache_dir,
    *,
    keep_random_state: bool,
    extra_callbacks=(),
    batch_size: int = 8,
    every_n_train_steps: int | None = None,
    lr_schedule: str = "constant",
):
    """Seeded exactly as `qapgen fit` seeds a fresh process, then model, data, trainer.

    With ``every_n_train_steps`` checkpoints are mid-epoch, as the profiles save them. With
    ``lr_schedule="linear"`` (and warmup) the scheduler's position must resume too, and the
    model reads ``estimated_stepping_batches``, which sets the data up before the restore.
    """
    L.seed_everything(SEED, verbose=False)
    data = QAPDataModule(
        dataset="squad",
        path="fixtures",
        tokenizer="train",
        tokenizer_vocab_size=600,
        batch_size=batch_size,
        eval_batch_size=16,
        limit_examples=16,
        val_split="train",
        max_answer_length=16,
        max_question_length=32,
        seed=SEED,
        cache_dir=str(cache_dir),
    )
    model = IGJAQAPModule(
        backbone_size="tiny",
        dropout_rate=0.1,  # dropout draws from the global RNG: the state must resume too
        optimizer="adamw",
        lr=1e-2,
        num_beams=1,
        max_answer_length=16,
        max_question_length=32,
        meteor="none",
        lr_schedule=lr_schedule,
        warmup_steps=0 if lr_schedule == "constant" else 2,
    )
    if every_n_train_steps:
        checkpoints = ModelCheckpoint(
            dirpath=root / "checkpoints", save_top_k=-1, every_n_train_steps=every_n_train_steps
        )
    else:
        checkpoints = ModelCheckpoint(
            dirpath=root / "checkpoints", save_top_k=-1, save_on_train_epoch_end=True
        )
    # As the CLI adds it to every run.
    callbacks = [checkpoints, TrainLoaderStateRestore(), *extra_callbacks]
    if keep_random_state:
        callbacks.append(RandomStateCheckpoint())
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        check_val_every_n_epoch=EPOCHS,
        num_sanity_val_steps=0,
        accelerator="cpu",
        deterministic=True,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        callbacks=callbacks,
    )
    return trainer, model, data


def scramble_random_state() -> None:
    """A fresh process starts from other random states than the crashed one had."""
    torch.manual_seed(12345)
    np.random.seed(12345)
    random.seed(12345)


def run_interrupted(root, cache_dir, *, keep_random_state: bool):
    trainer, model, data = make_run(
        root,
        cache_dir,
        keep_random_state=keep_random_state,
        extra_callbacks=[KillAtStep(KILL_AT_STEP)],
    )
    with pytest.raises(SimulatedKill):
        trainer.fit(model, datamodule=data)
    (checkpoint,) = (root / "checkpoints").glob(f"*step={KILL_AT_STEP}.ckpt")
    scramble_random_state()
    trainer, model, data = make_run(root, cache_dir, keep_random_state=keep_random_state)
    trainer.fit(model, datamodule=data, ckpt_path=checkpoint)
    return trainer, model


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("qapgen-cache")


@contextmanager
def one_thread():
    """Module fixtures run before the function-scoped one-thread fixture: set it for them
    too, since a different thread count changes float reductions and so the weights."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir):
    with one_thread():
        trainer, model, data = make_run(
            tmp_path_factory.mktemp("uninterrupted"), cache_dir, keep_random_state=True
        )
        trainer.fit(model, datamodule=data)
    return trainer, model


def assert_same_weights_and_metrics(trainer, model, full_trainer, full_model) -> None:
    """Bit-identical weights and identical logged metrics after the resumed run."""
    expected = full_model.state_dict()
    resumed = model.state_dict()
    assert resumed.keys() == expected.keys()
    different = [name for name in expected if not torch.equal(resumed[name], expected[name])]
    assert not different, f"weights differ after resume: {different[:5]}"
    for key in METRICS:
        assert trainer.callback_metrics[key] == full_trainer.callback_metrics[key], key


def test_killed_and_resumed_run_ends_with_the_same_weights_and_metrics(
    uninterrupted, cache_dir, tmp_path
):
    full_trainer, full_model = uninterrupted
    trainer, model = run_interrupted(tmp_path, cache_dir, keep_random_state=True)

    assert trainer.global_step == full_trainer.global_step == EPOCHS * 2
    assert_same_weights_and_metrics(trainer, model, full_trainer, full_model)


def test_without_the_random_state_resume_diverges(uninterrupted, cache_dir, tmp_path):
    # The control: the comparison above is sensitive enough to see lost RNG state
    # (dropout masks after the resume differ), which is why RandomStateCheckpoint exists.
    _, full_model = uninterrupted
    _, model = run_interrupted(tmp_path, cache_dir, keep_random_state=False)
    expected = full_model.state_dict()
    assert any(not torch.equal(v, expected[k]) for k, v in model.state_dict().items())


# -- killed inside an epoch ----------------------------------------------------------------

MID_EPOCH = {"batch_size": MID_EPOCH_BATCH_SIZE, "every_n_train_steps": 2}


@pytest.fixture(scope="module", params=["constant", "linear"])
def lr_schedule(request):
    """constant: Lightning loads the loader's state itself; linear: the model reads
    estimated_stepping_batches, and TrainLoaderStateRestore loads it (Lightning #20550)."""
    return request.param


@pytest.fixture(scope="module")
def uninterrupted_mid_epoch(tmp_path_factory, cache_dir, lr_schedule):
    log = BatchLog()
    with one_thread():
        trainer, model, data = make_run(
            tmp_path_factory.mktemp("uninterrupted-mid-epoch"),
            cache_dir,
            keep_random_state=True,
            extra_callbacks=[log],
            lr_schedule=lr_schedule,
            **MID_EPOCH,
        )
        trainer.fit(model, datamodule=data)
    return trainer, model, log


@pytest.fixture(scope="module")
def mid_epoch_checkpoint(tmp_path_factory, cache_dir, lr_schedule):
    """The step-6 checkpoint of a run killed inside its second epoch."""
    root = tmp_path_factory.mktemp("killed-mid-epoch")
    with one_thread():
        trainer, model, data = make_run(
            root,
            cache_dir,
            keep_random_state=True,
            extra_callbacks=[KillAtStep(MID_EPOCH_KILL_AT_STEP)],
            lr_schedule=lr_schedule,
            **MID_EPOCH,
        )
        with pytest.raises(SimulatedKill):
            trainer.fit(model, datamodule=data)
    (checkpoint,) = (root / "checkpoints").glob(f"epoch=1-step={MID_EPOCH_KILL_AT_STEP}.ckpt")
    return checkpoint


def resume_mid_epoch(root, cache_dir, checkpoint, lr_schedule):
    scramble_random_state()
    log = BatchLog()
    trainer, model, data = make_run(
        root,
        cache_dir,
        keep_random_state=True,
        extra_callbacks=[log],
        lr_schedule=lr_schedule,
        **MID_EPOCH,
    )
    trainer.fit(model, datamodule=data, ckpt_path=checkpoint)
    return trainer, model, log


def loader_states(checkpoint: dict) -> list:
    return checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"]


def test_killed_mid_epoch_and_resumed_run_ends_with_the_same_weights_and_metrics(
    uninterrupted_mid_epoch, mid_epoch_checkpoint, lr_schedule, cache_dir, tmp_path, recwarn
):
    full_trainer, full_model, full_log = uninterrupted_mid_epoch
    # Lightning keeps the training loader's state_dict() with the fit loop's state.
    saved = torch.load(mid_epoch_checkpoint, weights_only=True)
    assert loader_states(saved) == [{"epoch": 1, "batches": 2}]

    trainer, model, log = resume_mid_epoch(tmp_path, cache_dir, mid_epoch_checkpoint, lr_schedule)

    assert not [w for w in recwarn if "not resumable" in str(w.message)]
    # The resumed run trains exactly the uninterrupted run's remaining steps: same global
    # step, batch index within the epoch and examples at each.
    assert log.steps == full_log.steps[MID_EPOCH_KILL_AT_STEP:]
    assert trainer.global_step == full_trainer.global_step == EPOCHS * 4
    lr = [t.optimizers[0].param_groups[0]["lr"] for t in (trainer, full_trainer)]
    assert lr[0] == lr[1]
    assert_same_weights_and_metrics(trainer, model, full_trainer, full_model)


def test_without_the_loader_state_mid_epoch_resume_diverges(
    uninterrupted_mid_epoch, mid_epoch_checkpoint, lr_schedule, cache_dir, tmp_path
):
    # The control: a checkpoint without the loader's position (as before ResumableDataLoader)
    # restarts epoch 1 from its first batch, and the comparison above sees it.
    _, full_model, full_log = uninterrupted_mid_epoch
    saved = torch.load(mid_epoch_checkpoint, weights_only=True)
    del saved["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    stateless = tmp_path / "without-loader-state.ckpt"
    torch.save(saved, stateless)

    _, model, log = resume_mid_epoch(tmp_path, cache_dir, stateless, lr_schedule)

    assert log.steps[0][2] != full_log.steps[MID_EPOCH_KILL_AT_STEP][2]
    expected = full_model.state_dict()
    assert any(not torch.equal(v, expected[k]) for k, v in model.state_dict().items())
