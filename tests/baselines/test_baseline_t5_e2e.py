"""T5-E2E: the target is "answer <extra_id_2> question"; the output is split at the first
separator (none: all answer, empty question)."""

from __future__ import annotations

import pytest
import torch

from baselines.t5_e2e import SEPARATOR_TOKEN, T5E2EModule, split_log_probs, split_pair
from qapgen.data.features import IGNORE_INDEX
from qapgen.models.seq2seq import seq2seq_loss
from zoo_testing import fixture_batch, fixture_records, tiny_model


def test_target_is_answer_separator_question(fixture_tokenizer):
    records = fixture_records()
    batch = fixture_batch(fixture_tokenizer, T5E2EModule.data_features, records)
    separator = fixture_tokenizer.convert_tokens_to_ids(SEPARATOR_TOKEN)
    for record, labels in zip(records, batch["pair_labels"].tolist(), strict=True):
        answer = fixture_tokenizer(record.answer)["input_ids"][:-1]  # without </s>
        question = fixture_tokenizer(record.question)["input_ids"]  # with </s>
        assert [t for t in labels if t != IGNORE_INDEX] == [*answer, separator, *question]


@pytest.mark.parametrize(
    ("ids", "answer", "question"),
    [
        ([5, 6, 9, 7, 8, 1, 0], [5, 6], [7, 8, 1, 0]),
        ([5, 6, 1, 0], [5, 6, 1, 0], []),  # no separator: all answer, no question
        ([9, 7, 1], [], [7, 1]),  # separator first: empty answer
        ([5, 9, 7, 9, 8, 1], [5], [7, 9, 8, 1]),  # the first separator splits
    ],
)
def test_split_pair_at_the_first_separator(ids, answer, question):
    assert split_pair(ids, separator_id=9) == (answer, question)


def test_a_sequence_score_splits_at_the_first_separator():
    separator = 9
    ids = torch.tensor([[5, separator, 6, 1, 0], [5, 6, 1, 0, 0]])
    token_log_probs = torch.tensor([[-1.0, -0.5, -2.0, -0.25, 0.0], [-1.0, -2.0, -3.0, 0.0, 0.0]])
    answers, questions = split_log_probs(ids, token_log_probs, separator)
    # the separator closes the answer; the question is the rest, up to </s>
    assert answers == [-1.5, -6.0] and questions == [-2.25, 0.0]


def test_parse_pairs_decodes_both_parts_and_handles_a_missing_separator(fixture_tokenizer):
    model = tiny_model(T5E2EModule, fixture_tokenizer)
    tokenize = fixture_tokenizer.convert_tokens_to_ids
    answer = fixture_tokenizer("northern coast")["input_ids"][:-1]
    question = fixture_tokenizer("Where is it?")["input_ids"]
    complete = [*answer, tokenize(SEPARATOR_TOKEN), *question]
    truncated = [*answer, 1]
    width = max(len(complete), len(truncated))
    ids = torch.tensor([row + [0] * (width - len(row)) for row in (complete, truncated)])
    assert model.parse_pairs(ids) == {
        "answer": ["northern coast", "northern coast"],
        "question": ["Where is it?", ""],
    }


def test_loss_is_seq2seq_over_the_pair_from_the_answer_start_token(fixture_tokenizer):
    model = tiny_model(T5E2EModule, fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    expected = seq2seq_loss(
        model.backbone,
        batch["input_ids"],
        batch["input_attention_mask"],
        batch["pair_labels"],
        model.vocab.answer_start_token_id,
    )
    losses = model.compute_losses(batch)
    torch.testing.assert_close(losses["loss"], expected)
