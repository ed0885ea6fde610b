"""T5-QA: context -> answer only, plain seq2seq loss, and it learns through `qapgen fit`."""

from __future__ import annotations

import pytest
import torch

from baselines.t5_qa import T5QAModule
from zoo_testing import (
    CONF,
    fit_overfit,
    fixture_batch,
    instantiate_with_overfit_profile,
    overfit_profile,
    tiny_model,
    token_cross_entropy,
)

MODEL_YAML = CONF / "model" / "t5_qa.yaml"
# 120 steps memorise the 16 overfit examples; validation is skipped because test scores
# the same 16 examples right after fit.
OVERFIT_OVERRIDES = ["--trainer.max_epochs", "120", "--trainer.limit_val_batches", "0"]


def test_reads_the_context_and_produces_only_answers(fixture_tokenizer):
    model = tiny_model(T5QAModule, fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    assert "question_labels" not in batch  # the gold question is never an input or a target
    outputs = model.generate_batch(batch)
    assert model.tasks == ("answer",)
    assert set(outputs) == {"answer"}
    assert len(outputs["answer"]) == 4 and all(isinstance(text, str) for text in outputs["answer"])


def test_loss_is_token_cross_entropy_from_the_answer_start_token(fixture_tokenizer):
    model = tiny_model(T5QAModule, fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    labels = batch["answer_labels"]

    def cross_entropy(start_token_id):
        return token_cross_entropy(model, batch, labels, start_token_id)

    losses = model.compute_losses(batch)
    expected = cross_entropy(model.vocab.answer_start_token_id)
    torch.testing.assert_close(losses["loss"], expected)
    torch.testing.assert_close(losses["answer_loss"], expected)
    assert not torch.isclose(losses["loss"], cross_entropy(model.vocab.question_start_token_id))


def test_config_instantiates_with_the_overfit_profile(tmp_path):
    cli = instantiate_with_overfit_profile(MODEL_YAML, tmp_path)
    assert type(cli.model) is T5QAModule
    profile = overfit_profile()
    assert cli.model.hparams.backbone_size == profile["model"]["init_args"]["backbone_size"]


@pytest.mark.learnability
def test_memorises_the_overfit_set_through_generation(tmp_path):
    metrics = fit_overfit(MODEL_YAML, tmp_path, *OVERFIT_OVERRIDES)
    assert metrics["test/answer/meteor"] >= 90.0
    assert "test/question/meteor" not in metrics
