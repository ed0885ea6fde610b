"""A model trained through `qapgen fit` with the overfit profile (shortened), once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from qapgen.cli.lightning import run_lightning_cli
from qapgen.export import export_model

# Enough to get a checkpoint, a metrics.json and a model that emits varied text; the full
# profile (300 epochs) memorises the fixtures but takes a minute.
FIT_EPOCHS = 3


@pytest.fixture(scope="session")
def overfit_checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("overfit-run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # session scope runs before the one-thread fixture
    try:
        run_lightning_cli(
            [
                "fit",
                "-c",
                "conf/profile/overfit.yaml",
                "-c",
                "conf/model/igja_qap.yaml",
                "--trainer.default_root_dir",
                str(root),
                "--trainer.max_epochs",
                str(FIT_EPOCHS),
                "--trainer.enable_checkpointing",
                "true",
                # the default checkpoint is saved after validation
                "--trainer.check_val_every_n_epoch",
                str(FIT_EPOCHS),
                "--model.init_args.meteor",
                "none",
                "--data.cache_dir",
                str(root / "cache"),
                "--wandb",
                "disabled",
            ]
        )
    finally:
        torch.set_num_threads(threads)
    (checkpoint,) = root.rglob("*.ckpt")
    return checkpoint


@pytest.fixture(scope="session")
def exported_model(overfit_checkpoint, tmp_path_factory) -> Path:
    return export_model(overfit_checkpoint, tmp_path_factory.mktemp("export") / "model")


@pytest.fixture
def article(tmp_path) -> Path:
    """A plain-text article: two paragraphs, five sentences, a blank line between."""
    path = tmp_path / "article.txt"
    path.write_text(
        "The Normans gave their name to Normandy, a region in France. They were descended "
        "from Norse raiders.\n\nThe Amazon rainforest covers much of the Amazon basin. "
        "Nine nations share the basin. Brazil holds the largest part.\n",
        encoding="utf-8",
    )
    return path
