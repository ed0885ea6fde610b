"""A local `save_pretrained` T5 directory is the backbone with no code change.

The directory stands in for a downloaded t5-base: a small random T5 whose vocabulary is the
trained fixture tokenizer's, at a shape (d_model 48) that no random-init size has, so the test
can tell that the networks came from the directory.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from transformers import T5Config, T5ForConditionalGeneration

from qapgen.cli.lightning import run_lightning_cli
from qapgen.data.tokenizer import start_token_ids
from qapgen.models.base import Vocabulary
from qapgen.models.igja_qap_module import IGJAQAPModule

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "conf" / "profile" / "overfit.yaml"
MODEL = ROOT / "conf" / "model" / "igja_qap.yaml"
D_MODEL = 48


@pytest.fixture(autouse=True)
def no_pytest_arguments(monkeypatch):
    """The CLI gets its arguments as a list; pytest's own in sys.argv would only draw a warning."""
    monkeypatch.setattr("sys.argv", ["qapgen"])


@pytest.fixture
def pretrained_dir(tmp_path, fixture_tokenizer):
    """A T5 directory whose vocabulary is the fixture tokenizer's (the one the profile trains)."""
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(fixture_tokenizer),
        d_model=D_MODEL,
        d_kv=12,
        d_ff=96,
        num_layers=2,
        num_heads=4,
        feed_forward_proj="relu",
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    path = tmp_path / "tiny-t5"
    T5ForConditionalGeneration(config).save_pretrained(path)
    return path


def test_module_loads_the_saved_weights(pretrained_dir, fixture_tokenizer):
    answer_start, question_start = start_token_ids(fixture_tokenizer)
    vocab = Vocabulary(
        size=len(fixture_tokenizer),
        pad_token_id=fixture_tokenizer.pad_token_id,
        eos_token_id=fixture_tokenizer.eos_token_id,
        answer_start_token_id=answer_start,
        question_start_token_id=question_start,
    )
    model = IGJAQAPModule(backbone=str(pretrained_dir), dropout_rate=0.0, vocab=asdict(vocab))
    model.configure_model()

    saved = T5ForConditionalGeneration.from_pretrained(pretrained_dir).state_dict()
    loaded = model.core.backbone.state_dict()
    assert loaded.keys() == saved.keys()
    for name, tensor in saved.items():
        torch.testing.assert_close(loaded[name], tensor, rtol=0, atol=0, msg=name)
    assert model.core.backbone.config.dropout_rate == 0.0


def test_cli_trains_and_tests_a_pretrained_directory(pretrained_dir, fixture_tokenizer, tmp_path):
    run_dir = tmp_path / "run"
    cli = run_lightning_cli(
        [
            "fit",
            "-c",
            str(PROFILE),
            "-c",
            str(MODEL),
            "--model.init_args.backbone",
            str(pretrained_dir),
            "--model.init_args.backbone_size",
            "null",
            "--model.init_args.meteor",
            "none",
            "--trainer.max_epochs",
            "40",
            "--trainer.check_val_every_n_epoch",
            "40",
            "--trainer.log_every_n_steps",
            "1",
            "--trainer.default_root_dir",
            str(run_dir),
        ]
    )

    assert cli.model.core.backbone.config.d_model == D_MODEL
    assert cli.model.hparams.vocab["size"] == len(fixture_tokenizer)
    (metrics_path,) = run_dir.rglob("metrics.json")
    metrics = json.loads(metrics_path.read_text())
    assert metrics["global_step"] == 40
    assert {"test/question/bleu4", "test/answer/rougeL"} <= metrics.keys()
    with (metrics_path.parent / "metrics.csv").open() as handle:
        losses = [float(row["train/loss"]) for row in csv.DictReader(handle) if row["train/loss"]]
    assert losses[-1] < 0.5 * losses[0], losses
