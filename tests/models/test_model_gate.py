"""Answer-guided multi-head gate (eqs 8-12) against an explicit per-head loop, and its fusions."""

import math

import pytest
import torch

from qapgen.models.gate import AnswerGuidedGate, fuse_question_states

D_MODEL, HEADS, MAX_Q, MAX_A = 8, 2, 6, 5


def _gate(**kwargs):
    torch.manual_seed(0)
    gate = AnswerGuidedGate(
        D_MODEL, num_heads=HEADS, max_question_length=MAX_Q, max_answer_length=MAX_A, **kwargs
    )
    with torch.no_grad():  # a non-uniform W_g, so that the test sees which column goes where
        gate.answer_mixing.copy_(torch.randn(MAX_Q, MAX_A))
    return gate


def _reference(gate, question, answer, answer_mask, offset=0, sigmoid=False):
    """Eqs 8-12 one head, one question position and one answer position at a time."""
    k = gate.head_dim
    batch, steps, _ = question.shape
    out = torch.zeros(batch, steps, D_MODEL)
    for b in range(batch):
        real = [pos for pos in range(answer.size(1)) if answer_mask[b, pos]]
        for m in range(steps):
            heads = []
            for j in range(HEADS):
                rows = slice(j * k, (j + 1) * k)  # W^Q_j ∈ R^{k×d} is a block of rows
                q = gate.query.weight[rows] @ question[b, m]
                keys = [gate.key.weight[rows] @ answer[b, pos] for pos in real]
                values = [gate.value.weight[rows] @ answer[b, pos] for pos in real]
                scores = torch.stack([q @ key / math.sqrt(k) for key in keys])
                weights = scores.softmax(0)
                heads.append(sum(w * v for w, v in zip(weights, values, strict=True)))
            summary = torch.cat(heads)  # eq. 10
            gate_vector = sum(gate.answer_mixing[offset + m, pos] * answer[b, pos] for pos in real)
            if sigmoid:
                gate_vector = torch.sigmoid(gate_vector)
            out[b, m] = summary * gate_vector  # eq. 12
    return out


def _inputs(seed=1, steps=4, answer_length=4):
    generator = torch.Generator().manual_seed(seed)
    question = torch.randn(2, steps, D_MODEL, generator=generator)
    answer = torch.randn(2, answer_length, D_MODEL, generator=generator)
    mask = torch.ones(2, answer_length, dtype=torch.long)
    mask[1, 2:] = 0  # second answer has 2 real tokens
    return question, answer, mask


@pytest.mark.parametrize("activation", ["identity", "sigmoid"])
def test_gate_matches_per_head_loop(activation):
    gate = _gate(gate_activation=activation)
    question, answer, mask = _inputs()
    expected = _reference(gate, question, answer, mask, sigmoid=activation == "sigmoid")
    torch.testing.assert_close(gate(question, answer, mask), expected)


def test_offset_selects_gate_rows_so_stepwise_equals_full():
    gate = _gate()
    question, answer, mask = _inputs(steps=5)
    full = gate(question, answer, mask)
    stepwise = torch.cat(
        [gate(question[:, m : m + 1], answer, mask, question_offset=m) for m in range(5)], dim=1
    )
    torch.testing.assert_close(stepwise, full)
    torch.testing.assert_close(
        gate(question[:, 2:], answer, mask, question_offset=2),
        _reference(gate, question[:, 2:], answer, mask, offset=2),
    )


def test_answer_padding_changes_nothing():
    gate = _gate()
    question, answer, mask = _inputs(answer_length=3)
    garbage = torch.randn(2, 2, D_MODEL) * 100  # padded states may hold anything
    padded_answer = torch.cat([answer, garbage], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 2, dtype=torch.long)], dim=1)
    torch.testing.assert_close(
        gate(question, padded_answer, padded_mask), gate(question, answer, mask)
    )


def test_lengths_beyond_the_mixing_matrix_are_rejected():
    gate = _gate()
    question, answer, mask = _inputs(answer_length=MAX_A + 1)
    with pytest.raises(ValueError, match="max_answer_length"):
        gate(question, answer, mask)
    question, answer, mask = _inputs(steps=3)
    with pytest.raises(ValueError, match="max_question_length"):
        gate(question, answer, mask, question_offset=MAX_Q - 2)


def test_heads_must_divide_model_width():
    with pytest.raises(ValueError, match="divide"):
        AnswerGuidedGate(10, num_heads=4, max_question_length=3, max_answer_length=3)


def test_residual_fusion_adds_the_gated_answer_to_the_question_state():
    gate = _gate()
    question, answer, mask = _inputs()
    gated = _reference(gate, question, answer, mask)
    torch.testing.assert_close(
        fuse_question_states(question, gate(question, answer, mask), "residual"),
        question + gated,
    )
    torch.testing.assert_close(
        fuse_question_states(question, gate(question, answer, mask), "replace"), gated
    )


def test_unknown_fusion_is_rejected():
    question, answer, mask = _inputs()
    with pytest.raises(ValueError, match="gate_fusion must be one of"):
        fuse_question_states(question, question, "concat")
