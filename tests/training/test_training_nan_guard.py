"""NonFiniteLossGuard: a NaN or inf loss stops training before the update, with a clear
error and the offending batch's example ids saved in the run folder."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch

from qapgen.callbacks import NonFiniteLossError, NonFiniteLossGuard, RandomStateCheckpoint
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule, Vocabulary

BAD_STEP = 2


class LossBlowsUp(QAPModule):
    """One parameter; the loss becomes ``bad_value`` at step ``BAD_STEP``."""

    def __init__(self, bad_value: float = float("nan"), **kwargs) -> None:
        super().__init__(**kwargs)
        self.seen: dict[int, list[str]] = {}

    def build(self, vocab: Vocabulary) -> None:
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def compute_losses(self, batch):
        self.seen[self.global_step] = list(batch["ids"])
        loss = (self.bias - 1.0).pow(2).sum()
        if self.global_step == BAD_STEP:
            loss = loss * self.hparams.bad_value
        return {"loss": loss}

    def generate_batch(self, batch):
        return {"answer": list(batch["answers"]), "question": list(batch["questions"])}


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
def test_nonfinite_loss_stops_training_and_saves_the_batch_ids(tmp_path, bad_value):
    data = QAPDataModule(
        dataset="squad",
        path="fixtures",
        tokenizer="train",
        tokenizer_vocab_size=600,
        batch_size=4,
        limit_examples=16,
    )
    model = LossBlowsUp(bad_value=bad_value, meteor="none", lr=0.1)
    guard = NonFiniteLossGuard()
    trainer = L.Trainer(
        max_steps=6,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[guard],
    )
    with pytest.raises(NonFiniteLossError, match=rf"non-finite loss \(\w+\) at step {BAD_STEP}"):
        trainer.fit(model, datamodule=data)

    saved = json.loads((tmp_path / "nonfinite_loss_batch.json").read_text())
    assert saved["ids"] == model.seen[BAD_STEP]
    assert len(saved["ids"]) == 4
    assert saved["global_step"] == BAD_STEP
    # stopped before the update: the weights are those after step BAD_STEP - 1, finite
    assert trainer.global_step == BAD_STEP
    assert torch.isfinite(model.bias).all()


def test_finite_losses_pass_the_guard(tmp_path):
    guard = NonFiniteLossGuard()
    trainer = L.Trainer(default_root_dir=tmp_path, logger=False)
    guard.on_before_backward(trainer, None, torch.tensor(3.0))
    assert guard.path is None
    with pytest.raises(NonFiniteLossError):
        guard.on_before_backward(trainer, None, torch.tensor(float("-inf")))


def test_the_cli_trains_with_the_guard_and_the_random_state_checkpoint(tmp_path):
    from qapgen.cli.lightning import run_lightning_cli

    cli = run_lightning_cli(
        [
            "-c",
            "conf/profile/overfit.yaml",
            "-c",
            "conf/model/igja_qap.yaml",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--wandb",
            "disabled",
        ],
        run=False,
    )
    kinds = {type(c) for c in cli.trainer.callbacks}
    assert {NonFiniteLossGuard, RandomStateCheckpoint} <= kinds
