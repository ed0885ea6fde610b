"""T5-QA (context -> answer) and T5-QG (context -> question): one T5, one task, and a plain
seq2seq loss on that task's target from that task's start token."""

from __future__ import annotations

import pytest
import torch

from baselines.t5_qa import T5QAModule
from baselines.t5_qg import T5QGModule
from zoo_testing import fixture_batch, tiny_model, token_cross_entropy

OTHER_TASK = {"answer": "question", "question": "answer"}


@pytest.mark.parametrize(
    ("model_class", "task"), [(T5QAModule, "answer"), (T5QGModule, "question")], ids=["qa", "qg"]
)
def test_loss_is_token_cross_entropy_from_the_tasks_start_token(
    fixture_tokenizer, model_class, task
):
    model = tiny_model(model_class, fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    labels = batch[f"{task}_labels"]

    def cross_entropy(start_task):
        start_token_id = getattr(model.vocab, f"{start_task}_start_token_id")
        return token_cross_entropy(model, batch, labels, start_token_id)

    losses = model.compute_losses(batch)
    expected = cross_entropy(task)
    torch.testing.assert_close(losses["loss"], expected)
    torch.testing.assert_close(losses[f"{task}_loss"], expected)
    assert not torch.isclose(losses["loss"], cross_entropy(OTHER_TASK[task]))
