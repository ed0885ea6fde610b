"""LoggingStepProgressBar: the CLI's progress bar shows the training loss, and on an
accelerator reads it only on the steps Lightning logs."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import TQDMProgressBar

from qapgen.callbacks import LoggingStepProgressBar
from qapgen.cli.lightning import run_lightning_cli
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule, Vocabulary


class OneWeight(QAPModule):
    def build(self, vocab: Vocabulary) -> None:
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def compute_losses(self, batch):
        return {"loss": (self.bias - 1.0).pow(2).sum()}


class ShownAfterEachStep(L.Callback):
    """The bar's shown metrics after each batch (the bar runs before this callback)."""

    def __init__(self, bar: LoggingStepProgressBar) -> None:
        self.bar = bar
        self.shown: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.shown.append(dict(self.bar._shown))


def fit_with_bar(tmp_path, bar: LoggingStepProgressBar) -> list[dict[str, float]]:
    data = QAPDataModule(
        path="fixtures", tokenizer="train", tokenizer_vocab_size=600, batch_size=4,
        limit_examples=32,  # 8 batches: no epoch end (where the bar reads too) in 6 steps
    )  # fmt: skip
    shown = ShownAfterEachStep(bar)
    trainer = L.Trainer(
        max_steps=6, log_every_n_steps=3, limit_val_batches=0, accelerator="cpu", logger=False,
        enable_checkpointing=False, enable_model_summary=False, default_root_dir=tmp_path,
        callbacks=[bar, shown],
    )  # fmt: skip
    trainer.fit(OneWeight(meteor="none", lr=0.1), datamodule=data)
    return shown.shown


def test_on_an_accelerator_the_loss_is_read_only_on_logging_steps(tmp_path):
    bar = LoggingStepProgressBar(metrics_every_step=False)
    shown = fit_with_bar(tmp_path, bar)
    losses = [step.get("train/loss") for step in shown]
    # Logged (and read) after steps 3 and 6; in between the last read value stays.
    assert losses[:2] == [None, None]
    assert losses[2] == losses[3] == losses[4] != losses[5]
    assert losses[5] is not None


def test_on_cpu_the_loss_is_read_every_step(tmp_path):
    bar = LoggingStepProgressBar()
    shown = fit_with_bar(tmp_path, bar)
    assert bar.metrics_every_step is True
    losses = [step["train/loss"] for step in shown]
    assert len(set(losses)) == len(losses)  # the loss falls every step


@pytest.mark.parametrize("configured", [False, True])
def test_the_cli_replaces_only_lightnings_default_bar(tmp_path, configured):
    extra = (
        ["--trainer.callbacks+=lightning.pytorch.callbacks.TQDMProgressBar"] if configured else []
    )
    cli = run_lightning_cli(
        [
            "-c", "conf/profile/overfit.yaml",
            "-c", "conf/model/t5_qg.yaml",
            "--trainer.enable_progress_bar", "true",
            "--trainer.default_root_dir", str(tmp_path),
            "--wandb", "disabled",
            *extra,
        ],
        run=False,
    )  # fmt: skip
    bar = cli.trainer.progress_bar_callback
    assert type(bar) is (TQDMProgressBar if configured else LoggingStepProgressBar)
