"""Scaffolding shared by the model-zoo tests: fixture batches, tiny models, and the overfit
profile (instantiating a model YAML under it, and fitting through `qapgen fit`).

Importable from any test as `zoo_testing` (pyproject adds `tests` to pytest's pythonpath).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from qapgen.cli.lightning import QAPLightningCLI
from qapgen.cli.main import main
from qapgen.data.datamodule import Collator, EncodedExample, QAPDataModule, fixture_path
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


def overfit_profile() -> dict:
    """The overfit profile's YAML, parsed."""
    return yaml.safe_load(OVERFIT_PROFILE.read_text())


def instantiate_with_overfit_profile(model_yaml: Path, root: Path, *extra_args: str):
    """The CLI (not run) for `model_yaml` under the overfit profile, writing under `root`."""
    return QAPLightningCLI(
        model_class=QAPModule,
        subclass_mode_model=True,
        datamodule_class=QAPDataModule,
        parser_kwargs={"parser_mode": "omegaconf"},
        run=False,
        args=[
            "-c", str(OVERFIT_PROFILE),
            "-c", str(model_yaml),
            "--trainer.default_root_dir", str(root),
            *extra_args,
        ],
    )  # fmt: skip


def fit_overfit(model_yaml: Path, root: Path, *overrides: str) -> dict:
    """Runs `qapgen fit` on `model_yaml` under the overfit profile (then `overrides`) with
    its output under `root`, and returns the run's metrics.json."""
    main(["fit", "-c", str(OVERFIT_PROFILE), "-c", str(model_yaml),
          "--trainer.default_root_dir", str(root), *overrides])  # fmt: skip
    return json.loads(next(root.rglob("metrics.json")).read_text())
