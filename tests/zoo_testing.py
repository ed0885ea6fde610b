"""Scaffolding shared by the model-zoo tests: fixture batches, tiny models, and the configs
(instantiating or printing a composed config, and fitting under the overfit profile through
`qapgen fit`).

Importable from any test as `zoo_testing` (pyproject adds `tests` to pytest's pythonpath).
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from qapgen.cli.lightning import run_lightning_cli
from qapgen.cli.main import main
from qapgen.data.datamodule import Collator, EncodedExample, fixture_path
from qapgen.data.features import IGNORE_INDEX, encode_features
from qapgen.data.prepare import prepare
from qapgen.data.records import QARecord
from qapgen.data.tokenizer import start_token_ids
from qapgen.models.base import QAPModule, Vocabulary

CONF = Path(__file__).resolve().parents[1] / "conf"
OVERFIT_PROFILE = CONF / "profile" / "overfit.yaml"
# Short enough for the fixtures' longest context, answer and question to fit whole.
FIXTURE_LIMITS = {"source": 128, "answer": 16, "question": 32}
# What every tiny model is built with unless a test says otherwise: the tiny backbone,
# no METEOR scorer (it needs Java), and two beams so beam search is exercised.
TINY_INIT_ARGS = {"backbone_size": "tiny", "meteor": "none", "num_beams": 2}


def fixture_records(count: int = 4) -> list[QARecord]:
    """The first `count` records of the SQuAD fixtures' training split."""
    return prepare("squad", fixture_path("squad")).splits["train"][:count]


def fixture_batch(tokenizer, features, records=None, count: int = 4) -> dict:
    """A collated batch of `features` for `records` (default: the first `count` fixtures)."""
    if records is None:
        records = fixture_records(count)
    rows, _ = encode_features(records, features, tokenizer, FIXTURE_LIMITS)
    examples = [EncodedExample(r, f) for r, f in zip(records, rows, strict=True)]
    return Collator(features, tokenizer.pad_token_id)(examples)


def tiny_vocab(tokenizer) -> dict:
    """The `vocab` init argument (a Vocabulary as a dict) that matches `tokenizer`."""
    answer_start, question_start = start_token_ids(tokenizer)
    vocab = Vocabulary(
        len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, answer_start, question_start
    )
    return asdict(vocab)


def tiny_model(model_class: type[QAPModule], tokenizer, **init_args) -> QAPModule:
    """`model_class` with seeded weights, built for `tokenizer`, in eval mode.

    `init_args` add to or override TINY_INIT_ARGS.
    """
    torch.manual_seed(0)
    model = model_class(**{**TINY_INIT_ARGS, **init_args}, vocab=tiny_vocab(tokenizer))
    model.configure_model()
    model.tokenizer = tokenizer
    return model.eval()


def token_cross_entropy(model, batch, labels, start_token_id: int) -> torch.Tensor:
    """Teacher-forced token cross-entropy of `model.backbone` on `labels` (B, T), decoding
    from `start_token_id`. Written out by hand, not with `seq2seq_loss`, so that a test can
    check a model's loss against a reference that shares no code with it."""
    decoder_inputs = torch.cat([torch.full_like(labels[:, :1], start_token_id), labels[:, :-1]], 1)
    decoder_inputs[decoder_inputs == IGNORE_INDEX] = model.tokenizer.pad_token_id
    logits = model.backbone(
        input_ids=batch["input_ids"],
        attention_mask=batch["input_attention_mask"],
        decoder_input_ids=decoder_inputs,
    ).logits  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)


def instantiate(*configs: Path, root: Path):
    """What `qapgen fit -c CONFIG ...` builds (model, DataModule, trainer), without fitting,
    writing under `root`."""
    args = [arg for config in configs for arg in ("-c", str(config))]
    return run_lightning_cli([*args, "--trainer.default_root_dir", str(root)], run=False)


def printed_config(*args: str) -> dict:
    """The config `--print_config` prints for the CLI arguments `args`, parsed: what a run
    would be built from, with nothing instantiated (so no GPU, hub or weights are needed)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.raises(SystemExit) as exit_info:
        run_lightning_cli([*args, "--print_config"], run=False)
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(printed.getvalue())


def fit_overfit(model_yaml: Path, root: Path, *overrides: str) -> dict:
    """Runs `qapgen fit` on `model_yaml` under the overfit profile (then `overrides`) with
    its output under `root`, and returns the run's metrics.json (the one the run wrote)."""
    exit_code = main(["fit", "-c", str(OVERFIT_PROFILE), "-c", str(model_yaml),
                      "--trainer.default_root_dir", str(root), *overrides])  # fmt: skip
    assert exit_code == 0
    (metrics_path,) = root.rglob("metrics.json")
    return json.loads(metrics_path.read_text())


def save_bare_checkpoint(model: QAPModule, tokenizer, class_path: str, folder: Path) -> Path:
    """`model` saved as a checkpoint that names `class_path` and a saved copy of `tokenizer`
    (what `qapgen.export.load_model` reads), without training: `folder/model.ckpt`."""
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    hparams = dict(model.hparams)
    hparams["vocab"] = {**hparams["vocab"], "tokenizer": str(folder / "tokenizer")}
    path = folder / "model.ckpt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": {**hparams, "_class_path": class_path},
        },
        path,
    )
    return path


def fit_briefly(root: Path, model_yaml: str, *overrides: str, epochs: int = 2) -> Path:
    """`qapgen fit` of conf/model/`model_yaml`.yaml under the overfit profile for `epochs`
    (validating and testing once, METEOR off), output under `root`; returns its checkpoint."""
    run_lightning_cli(
        [
            "fit",
            "-c", str(OVERFIT_PROFILE),
            "-c", str(CONF / "model" / f"{model_yaml}.yaml"),
            "--model.init_args.meteor", "none",
            "--trainer.max_epochs", str(epochs),
            "--trainer.check_val_every_n_epoch", str(epochs),
            "--trainer.default_root_dir", str(root),
            *overrides,
        ]
    )  # fmt: skip
    (checkpoint,) = root.rglob("*.ckpt")
    return checkpoint
