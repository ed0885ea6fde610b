"""Pointer network (eqs 2-7) against explicit computations on small tensors."""

import pytest
import torch
from torch.nn import functional as F

from qapgen.models.copy_attention import copy_attention
from qapgen.models.pointer import (
    PointerGenerator,
    copy_mass_at_inputs,
    log_of_probabilities,
)


def copy_distribution(beta, source_ids, vocab_size):
    """eqs 5-6 over the whole vocabulary, the reference the pointer's sparse form is
    checked against: P_co, β scattered onto the input tokens' ids (B, T, V)."""
    batch, steps, length = beta.shape
    index = source_ids[:, None, :].expand(batch, steps, length)
    return beta.new_zeros(batch, steps, vocab_size).scatter_add_(2, index, beta)


def test_copy_mass_at_inputs_hand_computed():
    """ids [7, 3, 7, 1], β (0.1, 0.2, 0.3, 0.4): id 7 collects 0.1 + 0.3 at both of its
    positions (eq. 5), the others their own attention."""
    beta = torch.tensor([[[0.1, 0.2, 0.3, 0.4]]])
    source_ids = torch.tensor([[7, 3, 7, 1]])
    same_id, gamma, index = copy_mass_at_inputs(beta, source_ids)
    torch.testing.assert_close(gamma, torch.tensor([[[0.4, 0.2, 0.4, 0.4]]]))
    assert index.tolist() == [[[7, 3, 7, 1]]]
    assert same_id[0].int().tolist() == [[1, 0, 1, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]]


def test_copy_distribution_hand_computed_with_repeated_tokens():
    # input ids [7, 3, 7, 1]: id 7 occurs twice, so it collects β_0 + β_2 (eq. 5)
    beta = torch.tensor([[[0.1, 0.2, 0.3, 0.4]]])
    source_ids = torch.tensor([[7, 3, 7, 1]])
    p_copy = copy_distribution(beta, source_ids, vocab_size=9)
    expected = torch.zeros(1, 1, 9)
    expected[0, 0, 7] = 0.4
    expected[0, 0, 3] = 0.2
    expected[0, 0, 1] = 0.4
    torch.testing.assert_close(p_copy, expected)


def test_copy_distribution_matches_explicit_loop():
    torch.manual_seed(0)
    batch, steps, length, vocab = 3, 4, 6, 5  # vocab < length forces repeats
    beta = torch.rand(batch, steps, length).softmax(-1)
    source_ids = torch.randint(0, vocab, (batch, length))
    expected = torch.zeros(batch, steps, vocab)
    for b in range(batch):
        for step in range(steps):
            for t in range(vocab):
                expected[b, step, t] = sum(
                    beta[b, step, i] for i in range(length) if source_ids[b, i] == t
                )
    torch.testing.assert_close(copy_distribution(beta, source_ids, vocab), expected)


def test_copy_attention_hand_computed():
    """One head of width 1, keys 0, ln 3 and a padded key: scores are q·k unscaled (T5),
    so β = softmax(0, ln 3) = (1/4, 3/4) over the real keys and 0 on padding."""
    queries = torch.tensor([[[1.0]]])  # (B=1, T=1, H·k=1)
    keys = torch.tensor([[[0.0], [3.0**0.0 * torch.log(torch.tensor(3.0)).item()], [9.0]]])
    beta = copy_attention(queries, keys, torch.tensor([[1, 1, 0]]), num_heads=1)
    torch.testing.assert_close(beta, torch.tensor([[[0.25, 0.75, 0.0]]]))


def test_copy_attention_is_the_mean_over_heads_of_each_heads_softmax():
    torch.manual_seed(0)
    queries, keys = torch.randn(2, 3, 8), torch.randn(2, 5, 8)  # 2 heads of 4
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    beta = copy_attention(queries, keys, mask, num_heads=2)
    for b in range(2):
        real = int(mask[b].sum())
        heads = [
            (queries[b, :, h * 4 : (h + 1) * 4] @ keys[b, :real, h * 4 : (h + 1) * 4].T).softmax(-1)
            for h in range(2)
        ]
        torch.testing.assert_close(beta[b, :, :real], (heads[0] + heads[1]) / 2)
        assert torch.all(beta[b, :, real:] == 0)
    # keys as a decoder cache holds them, (B, H, N, k), give the same β
    cached = keys.view(2, 5, 2, 4).transpose(1, 2)
    torch.testing.assert_close(copy_attention(queries, cached, mask, num_heads=2), beta)


def _pointer_inputs(seed=0, batch=2, steps=3, length=5, d_model=8, vocab=11):
    generator = torch.Generator().manual_seed(seed)
    return {
        "vocab_logits": torch.randn(batch, steps, vocab, generator=generator),
        "decoder_states": torch.randn(batch, steps, d_model, generator=generator),
        "beta": torch.rand(batch, steps, length, generator=generator).softmax(-1),
        "encoder_states": torch.randn(batch, length, d_model, generator=generator),
        "source_ids": torch.randint(0, vocab, (batch, length), generator=generator),
    }


def test_mixture_matches_direct_formula():
    torch.manual_seed(0)
    pointer = PointerGenerator(8)
    inputs = _pointer_inputs()
    log_p_answer = pointer(**inputs)
    # eqs 2-7 written out directly in probability space
    p_voc = inputs["vocab_logits"].softmax(-1)
    context = torch.einsum("btn,bnd->btd", inputs["beta"], inputs["encoder_states"])
    features = torch.cat([inputs["decoder_states"], context], -1)
    p_gen = torch.sigmoid(features @ pointer.switch.weight.T + pointer.switch.bias)
    p_copy = copy_distribution(inputs["beta"], inputs["source_ids"], 11)
    expected = p_gen * p_voc + (1 - p_gen) * p_copy
    torch.testing.assert_close(log_p_answer.exp(), expected)
    assert log_p_answer.dtype == torch.float32


def test_answer_distribution_sums_to_one():
    pointer = PointerGenerator(8)
    log_p_answer = pointer(**_pointer_inputs(seed=3))
    torch.testing.assert_close(log_p_answer.exp().sum(-1), torch.ones(2, 3))


@pytest.mark.parametrize("p_gen", [0.0, 1.0])
def test_forced_switch_reduces_to_one_distribution(p_gen):
    pointer = PointerGenerator(8)
    with torch.no_grad():
        pointer.switch.weight.zero_()
        pointer.switch.bias.fill_(1e4 if p_gen == 1.0 else -1e4)  # σ(±1e4) is exactly 1 / 0 in fp32
    inputs = _pointer_inputs(seed=1)
    p_answer = pointer(**inputs).exp()
    if p_gen == 1.0:
        expected = inputs["vocab_logits"].softmax(-1)
    else:
        expected = copy_distribution(inputs["beta"], inputs["source_ids"], 11)
    torch.testing.assert_close(p_answer, expected)


def test_gradients_are_finite_where_copy_mass_is_zero():
    pointer = PointerGenerator(8)
    inputs = _pointer_inputs(seed=2, vocab=50)  # most ids are absent from the input: P_co = 0
    inputs["vocab_logits"].requires_grad_(True)
    log_p_answer = pointer(**inputs)
    assert torch.isfinite(log_p_answer).all()
    targets = torch.arange(6).view(2, 3) + 40  # ids with zero copy mass
    loss = F.nll_loss(log_p_answer.flatten(0, 1), targets.flatten())
    loss.backward()
    assert torch.isfinite(inputs["vocab_logits"].grad).all()
    assert all(torch.isfinite(p.grad).all() for p in pointer.parameters())


def test_log_of_zero_is_minus_infinity_with_zero_gradient():
    probabilities = torch.tensor([0.0, 0.5], requires_grad=True)
    logs = log_of_probabilities(probabilities)
    assert logs[0] == -torch.inf
    torch.testing.assert_close(logs[1], torch.log(torch.tensor(0.5)))
    logs[1].backward()
    assert torch.isfinite(probabilities.grad).all()


def test_pointer_off_is_vocabulary_softmax_without_switch_parameters():
    pointer = PointerGenerator(8, use_pointer=False)
    assert list(pointer.parameters()) == []
    inputs = _pointer_inputs(seed=4)
    torch.testing.assert_close(pointer(**inputs), inputs["vocab_logits"].log_softmax(-1))


@pytest.mark.parametrize("use_pointer", [True, False])
def test_label_log_probs_equal_the_full_mixture_at_the_labels(use_pointer):
    """The training path (eq. 7 at each label only) against today's full mixture gathered at
    the labels: equal values and equal gradients, padding (-100) excluded."""
    inputs = _pointer_inputs(seed=5, vocab=13)
    labels = torch.randint(0, 13, (2, 3), generator=torch.Generator().manual_seed(6))
    labels[:, 0] = inputs["source_ids"][:, 1]  # a copyable label ...
    labels[1, 2] = -100  # ... and padding
    real = labels != -100
    values, gradients = [], []
    for full in (True, False):
        torch.manual_seed(0)
        pointer = PointerGenerator(8, use_pointer=use_pointer)
        leaves = {k: v.clone().requires_grad_(v.is_floating_point()) for k, v in inputs.items()}
        if full:
            log_p = pointer(**leaves).gather(-1, labels.clamp_min(0)[..., None])[..., 0]
        else:
            log_p = pointer.label_log_probs(**leaves, labels=labels)
        picked = torch.where(real, log_p, 0.0)
        picked.sum().backward()
        values.append(picked)
        grads = [leaves[k].grad for k in ("vocab_logits", "decoder_states", "encoder_states")]
        if use_pointer:
            grads += [leaves["beta"].grad] + [p.grad for p in pointer.parameters()]
        gradients.append(grads)
    torch.testing.assert_close(values[1], values[0])
    for fast, full in zip(gradients[1], gradients[0], strict=True):
        torch.testing.assert_close(fast, full)


@pytest.mark.parametrize("use_pointer", [True, False])
def test_decoding_scores_normalise_to_the_distribution(use_pointer):
    """Beam search's scores (normalise=False) are log P_a up to a per-row constant: their
    log-softmax is log P_a, duplicated input ids and ids absent from the input included."""
    torch.manual_seed(0)
    pointer = PointerGenerator(8, use_pointer=use_pointer)
    inputs = _pointer_inputs(seed=7, vocab=6)  # 5 input positions over 6 ids: repeats
    scores = pointer(**inputs, normalise=False)
    torch.testing.assert_close(scores.log_softmax(-1), pointer(**inputs))
