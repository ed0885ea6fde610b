"""Kill-and-resume: a run crashed after its step-k checkpoint and resumed from it ends with
exactly the weights and metrics of an uninterrupted run with the same seed."""

from __future__ import annotations

import random

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from qapgen.callbacks import RandomStateCheckpoint
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.igja_qap_module import IGJAQAPModule

SEED = 0
EPOCHS = 3  # 2 batches each: 6 steps
KILL_AT_STEP = 2  # right after the end-of-epoch-1 checkpoint
METRICS = ("train/loss", "val/loss", "val/answer/bleu1", "val/question/rougeL")


class SimulatedKill(Exception):
    """Stands for SIGKILL: the process state is abandoned, only the checkpoint survives."""


class KillAtStep(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise SimulatedKill(f"killed at step {self.step}")


def make_run(root, cache_dir, *, keep_random_state: bool, extra_callbacks=()):
    """Seeded exactly as `qapgen fit` seeds a fresh process, then model, data, trainer."""
    L.seed_everything(SEED, verbose=False)
    data = QAPDataModule(
        dataset="squad",
        path="fixtures",
        tokenizer="train",
        tokenizer_vocab_size=600,
        batch_size=8,
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
    )
    checkpoints = ModelCheckpoint(
        dirpath=root / "checkpoints", save_top_k=-1, save_on_train_epoch_end=True
    )
    callbacks = [checkpoints, *extra_callbacks]
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


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir):
    # Module scope runs before the function-scoped one-thread fixture: set it here, since
    # a different thread count changes float reductions and so the weights.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer, model, data = make_run(
            tmp_path_factory.mktemp("uninterrupted"), cache_dir, keep_random_state=True
        )
        trainer.fit(model, datamodule=data)
    finally:
        torch.set_num_threads(threads)
    return trainer, model


def test_killed_and_resumed_run_ends_with_the_same_weights_and_metrics(
    uninterrupted, cache_dir, tmp_path
):
    full_trainer, full_model = uninterrupted
    trainer, model = run_interrupted(tmp_path, cache_dir, keep_random_state=True)

    assert trainer.global_step == full_trainer.global_step == EPOCHS * 2
    expected = full_model.state_dict()
    resumed = model.state_dict()
    assert resumed.keys() == expected.keys()
    different = [name for name in expected if not torch.equal(resumed[name], expected[name])]
    assert not different, f"weights differ after resume: {different[:5]}"
    for key in METRICS:
        assert trainer.callback_metrics[key] == full_trainer.callback_metrics[key], key


def test_without_the_random_state_resume_diverges(uninterrupted, cache_dir, tmp_path):
    # The control: the comparison above is sensitive enough to see lost RNG state
    # (dropout masks after the resume differ), which is why RandomStateCheckpoint exists.
    _, full_model = uninterrupted
    _, model = run_interrupted(tmp_path, cache_dir, keep_random_state=False)
    expected = full_model.state_dict()
    assert any(not torch.equal(v, expected[k]) for k, v in model.state_dict().items())
