"""T5-QG: context -> question only, plain seq2seq loss, and it learns through `qapgen fit`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from baselines.t5_qg import T5QG
from qapgen.cli.lightning import QAPLightningCLI
from qapgen.cli.main import main
from qapgen.data.datamodule import Collator, EncodedExample, QAPDataModule, fixture_path
from qapgen.data.features import IGNORE_INDEX, encode_features
from qapgen.data.prepare import prepare
from qapgen.data.tokenizer import start_token_ids
from qapgen.models.base import QAPModule, Vocabulary

CONF = Path(__file__).resolve().parents[2] / "conf"
MODEL_YAML = CONF / "model" / "t5_qg.yaml"
# 120 steps memorise the 16 overfit examples; validation is skipped because test scores
# the same 16 examples right after fit.
OVERFIT_OVERRIDES = ["--trainer.max_epochs", "120", "--trainer.limit_val_batches", "0"]


def fixture_batch(tokenizer, features, count=4):
    records = prepare("squad", fixture_path("squad")).splits["train"][:count]
    limits = {"source": 128, "answer": 16, "question": 32}
    rows, _ = encode_features(records, features, tokenizer, limits)
    examples = [EncodedExample(r, f) for r, f in zip(records, rows, strict=True)]
    return Collator(features, tokenizer.pad_token_id)(examples)


def tiny_model(tokenizer):
    answer_start, question_start = start_token_ids(tokenizer)
    vocab = Vocabulary(
        len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, answer_start, question_start
    )
    torch.manual_seed(0)
    model = T5QG(backbone_size="tiny", meteor="none", num_beams=2, vocab=asdict(vocab))
    model.configure_model()
    model.tokenizer = tokenizer
    return model.eval()


def test_reads_the_context_and_produces_only_questions(fixture_tokenizer):
    model = tiny_model(fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    assert "answer_labels" not in batch  # the gold answer is never an input or a target
    outputs = model.generate_batch(batch)
    assert model.tasks == ("question",)
    assert set(outputs) == {"question"}
    assert len(outputs["question"]) == 4 and all(
        isinstance(text, str) for text in outputs["question"]
    )


def test_loss_is_token_cross_entropy_from_the_question_start_token(fixture_tokenizer):
    model = tiny_model(fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    labels = batch["question_labels"]

    def cross_entropy(start_token_id):
        decoder_inputs = torch.cat(
            [torch.full_like(labels[:, :1], start_token_id), labels[:, :-1]], 1
        )
        decoder_inputs[decoder_inputs == IGNORE_INDEX] = fixture_tokenizer.pad_token_id
        logits = model.backbone(
            input_ids=batch["input_ids"],
            attention_mask=batch["input_attention_mask"],
            decoder_input_ids=decoder_inputs,
        ).logits
        return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)

    losses = model.compute_losses(batch)
    expected = cross_entropy(model.vocab.question_start_token_id)
    torch.testing.assert_close(losses["loss"], expected)
    torch.testing.assert_close(losses["question_loss"], expected)
    assert not torch.isclose(losses["loss"], cross_entropy(model.vocab.answer_start_token_id))


def test_config_instantiates_with_the_overfit_profile(tmp_path):
    cli = QAPLightningCLI(
        model_class=QAPModule,
        subclass_mode_model=True,
        datamodule_class=QAPDataModule,
        parser_kwargs={"parser_mode": "omegaconf"},
        run=False,
        args=[
            "-c", str(CONF / "profile" / "overfit.yaml"),
            "-c", str(MODEL_YAML),
            "--trainer.default_root_dir", str(tmp_path),
        ],
    )  # fmt: skip
    assert type(cli.model) is T5QG
    profile = yaml.safe_load((CONF / "profile" / "overfit.yaml").read_text())
    assert cli.model.hparams.backbone_size == profile["model"]["init_args"]["backbone_size"]


@pytest.mark.learnability
def test_memorises_the_overfit_set_through_generation(tmp_path):
    main(["fit", "-c", str(CONF / "profile" / "overfit.yaml"), "-c", str(MODEL_YAML),
          "--trainer.default_root_dir", str(tmp_path), *OVERFIT_OVERRIDES])  # fmt: skip
    metrics = json.loads(next(tmp_path.rglob("metrics.json")).read_text())
    assert metrics["test/question/meteor"] >= 90.0
    assert "test/answer/meteor" not in metrics
