"""IGJA-QAP core: losses (eq. 14, both reductions), generators, padding, decoder sharing, caching,
bf16 and the ablation switches."""

import pytest
import torch
from torch.nn import functional as F
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from qapgen.models.backbone import load_backbone, vocabulary_logits
from qapgen.models.igja_qap import IGJAQAP, label_log_probs, sequence_nll, token_nll
from qapgen.models.sequences import shift_right

VOCAB = 40
ANSWER_START, QUESTION_START = VOCAB - 1, VOCAB - 2
MAX_ANSWER, MAX_QUESTION = 6, 7


def tiny_core(seed=0, backbone=None, family="t5", **switches):
    torch.manual_seed(seed)
    if backbone is None:
        backbone = load_backbone(None, size="tiny", family=family, vocab_size=VOCAB)
    core = IGJAQAP(
        backbone,
        answer_start_token_id=ANSWER_START,
        question_start_token_id=QUESTION_START,
        max_answer_length=MAX_ANSWER,
        max_question_length=MAX_QUESTION,
        gate_heads=4,
        **switches,
    )
    return core.eval()


def batch(seed=0):
    """Two examples with ragged inputs, answers and questions (-100 padded, ending with </s>=1)."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(2, 30, (2, 8), generator=generator)
    input_ids[0, -1] = 1
    input_ids[1, 5] = 1
    input_ids[1, 6:] = 0
    attention_mask = (torch.arange(8)[None, :] < torch.tensor([[8], [6]])).long()
    answer_labels = torch.randint(2, 30, (2, 4), generator=generator)
    answer_labels[0, -1] = 1
    answer_labels[1, 2], answer_labels[1, 3] = 1, -100
    question_labels = torch.randint(2, 30, (2, 5), generator=generator)
    question_labels[0, 3], question_labels[0, 4] = 1, -100
    question_labels[1, -1] = 1
    return input_ids, attention_mask, answer_labels, question_labels


def _encoder_cache(core):
    config = core.backbone.config
    return EncoderDecoderCache(DynamicCache(config=config), DynamicCache(config=config))


def test_shift_right_starts_with_the_task_token_and_replaces_padding():
    labels = torch.tensor([[5, 6, 1, -100], [7, 1, -100, -100]])
    expected = torch.tensor([[9, 5, 6, 1], [9, 7, 1, 0]])
    torch.testing.assert_close(shift_right(labels, 9, 0), expected)


def _label_terms(log_probs, labels):
    """-log p(label) at every non-pad position, row by row (a list of lists)."""
    return [
        [-log_probs[b, t, labels[b, t]] for t in range(labels.size(1)) if labels[b, t] != -100]
        for b in range(labels.size(0))
    ]


@pytest.mark.parametrize("reduction", ["sequence", "token"])
def test_loss_is_answer_plus_question_loss_computed_independently(reduction):
    core = tiny_core(loss_reduction=reduction)
    input_ids, attention_mask, answer_labels, question_labels = batch()
    out = core(input_ids, attention_mask, answer_labels, question_labels, return_distributions=True)

    def token_mean(log_probs, labels):
        return torch.stack([term for row in _label_terms(log_probs, labels) for term in row]).mean()

    def sequence_mean(log_probs, labels):
        return torch.stack(
            [torch.stack(row).sum() for row in _label_terms(log_probs, labels)]
        ).mean()

    answer_token = token_mean(out.answer_log_probs, answer_labels)
    question_token = token_mean(out.question_log_probs, question_labels)
    answer_sequence = sequence_mean(out.answer_log_probs, answer_labels)
    question_sequence = sequence_mean(out.question_log_probs, question_labels)
    # both reductions of both tasks are reported whatever the loss uses
    torch.testing.assert_close(out.answer_loss, answer_token)
    torch.testing.assert_close(out.question_loss, question_token)
    torch.testing.assert_close(out.answer_sequence_loss, answer_sequence)
    torch.testing.assert_close(out.question_sequence_loss, question_sequence)
    expected = (
        answer_sequence + question_sequence
        if reduction == "sequence"
        else answer_token + question_token
    )
    torch.testing.assert_close(out.loss, expected)  # eq. 14, no λ
    torch.testing.assert_close(out.answer_log_probs.exp().sum(-1), torch.ones(2, 4))
    torch.testing.assert_close(out.question_log_probs.exp().sum(-1), torch.ones(2, 5))


def test_sequence_loss_weights_each_sequence_by_its_length():
    """Hand-computed: rows of 2 and 1 tokens with -log p = 1, 2 | 3 give (1+2+3)/2 = 3 per
    sequence against (1+2+3)/3 = 2 per token."""
    log_probs = torch.full((2, 2, 4), -torch.inf)
    log_probs[0, 0, 2], log_probs[0, 1, 1], log_probs[1, 0, 3] = -1.0, -2.0, -3.0
    labels = torch.tensor([[2, 1], [3, -100]])
    picked = label_log_probs(log_probs, labels)
    torch.testing.assert_close(sequence_nll(picked, labels), torch.tensor(3.0))
    torch.testing.assert_close(token_nll(picked, labels), torch.tensor(2.0))


def test_unknown_readings_are_rejected():
    with pytest.raises(ValueError, match="loss_reduction"):
        tiny_core(loss_reduction="mean")
    with pytest.raises(ValueError, match="gate_fusion"):
        tiny_core(gate_fusion="add")


def test_separate_generators_start_as_the_backbone_head_and_train_apart():
    separate = tiny_core()
    tied = tiny_core(separate_generators=False)
    assert tied.answer_head is None and tied.question_head is None
    assert not any("_head" in name for name, _ in tied.named_parameters())
    heads = (separate.answer_head, separate.question_head)
    assert heads[0].weight is not heads[1].weight
    for head in heads:
        assert head.weight.data_ptr() != separate.backbone.lm_head.weight.data_ptr()
        torch.testing.assert_close(head.bias, torch.zeros(VOCAB))
    # the same seed: at initialisation both readings give the same distributions
    inputs = batch()
    torch.testing.assert_close(separate(*inputs).loss, tied(*inputs).loss)
    hidden = torch.randn(2, 3, separate.backbone.config.d_model)
    for head in heads:
        torch.testing.assert_close(head(hidden), vocabulary_logits(separate.backbone, hidden))

    # each task's loss reaches its own generator only
    separate.train()
    out = separate(*inputs)
    out.question_loss.backward(retain_graph=True)
    assert separate.answer_head.weight.grad is None
    assert separate.question_head.weight.grad.abs().sum() > 0
    separate.zero_grad(set_to_none=True)
    out.answer_loss.backward()
    assert separate.question_head.weight.grad is None
    assert separate.answer_head.bias.grad.abs().sum() > 0


def test_separate_generators_freeze_an_untied_backbone_head():
    """T5 v1.1 has its own LM head (transformers 4.x builds it untied); with two generators
    nothing reads it, and DDP rejects a trainable parameter that no loss reaches."""
    torch.manual_seed(0)
    backbone = load_backbone(None, size="tiny", vocab_size=VOCAB)
    backbone.lm_head.weight = torch.nn.Parameter(backbone.lm_head.weight.detach().clone())
    core = tiny_core(backbone=backbone)
    assert not core.backbone.lm_head.weight.requires_grad
    assert core.backbone.shared.weight.requires_grad
    core(*batch()).loss.backward()
    assert all(p.grad is not None for name, p in core.named_parameters() if p.requires_grad), (
        "every trainable parameter is reached"
    )


def test_without_pointer_and_gate_the_losses_are_plain_t5_losses():
    """An independent path: T5ForConditionalGeneration's own forward with our start tokens."""
    core = tiny_core(use_pointer=False, use_gate=False)
    input_ids, attention_mask, answer_labels, question_labels = batch()
    out = core(input_ids, attention_mask, answer_labels, question_labels, return_distributions=True)
    for labels, start, loss in [
        (answer_labels, ANSWER_START, out.answer_loss),
        (question_labels, QUESTION_START, out.question_loss),
    ]:
        decoder_ids = shift_right(labels, start, 0)
        reference = core.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_ids,
            labels=labels,
        )
        torch.testing.assert_close(loss, reference.loss)


def test_padding_changes_nothing():
    core = tiny_core()
    input_ids, attention_mask, answer_labels, question_labels = batch()
    reference = core(
        input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
    )

    def pad(tensor, value):
        return F.pad(tensor, (0, 2), value=value)

    padded = core(
        pad(input_ids, 0),
        pad(attention_mask, 0),
        pad(answer_labels, -100),
        pad(question_labels, -100),
        return_distributions=True,
    )
    torch.testing.assert_close(padded.answer_loss, reference.answer_loss)
    torch.testing.assert_close(padded.question_loss, reference.question_loss)
    torch.testing.assert_close(padded.answer_log_probs[:, :4], reference.answer_log_probs)
    torch.testing.assert_close(padded.question_log_probs[:, :5], reference.question_log_probs)


def test_labels_longer_than_the_gate_allows_are_rejected():
    core = tiny_core()
    input_ids, attention_mask, answer_labels, question_labels = batch()
    too_long = F.pad(answer_labels, (0, MAX_ANSWER), value=-100)
    with pytest.raises(ValueError, match="max_answer_length"):
        core(input_ids, attention_mask, too_long, question_labels)


def test_shared_decoder_is_one_module_and_two_decoders_are_separate_copies():
    shared = tiny_core()
    assert shared.question_decoder is shared.answer_decoder
    assert shared.separate_question_decoder is None
    names = [name for name, _ in shared.named_parameters()]
    assert len(names) == len(set(names))

    separate = tiny_core(shared_decoder=False)
    answer_params = dict(separate.answer_decoder.named_parameters())
    question_params = dict(separate.question_decoder.named_parameters())
    assert answer_params.keys() == question_params.keys()
    for name, param in answer_params.items():
        assert param is not question_params[name]
        assert param.data_ptr() != question_params[name].data_ptr()
        torch.testing.assert_close(param, question_params[name])  # a copy at init
    assert sum(p.numel() for p in separate.parameters()) - sum(
        p.numel() for p in shared.parameters()
    ) == sum(p.numel() for p in separate.question_decoder.parameters())


def test_two_decoders_train_separately():
    # without the gate the question loss reaches the answer decoder through nothing at all
    core = tiny_core(shared_decoder=False, use_gate=False).train()
    input_ids, attention_mask, answer_labels, question_labels = batch()
    core(
        input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
    ).question_loss.backward()
    assert all(p.grad is None for p in core.answer_decoder.block.parameters())
    assert any(p.grad is not None for p in core.question_decoder.parameters())


def test_cached_stepwise_decoding_matches_full_pass():
    core = tiny_core()
    input_ids, attention_mask, answer_labels, question_labels = batch()
    encoder_states = core.encode(input_ids, attention_mask)
    answer_inputs = shift_right(answer_labels, ANSWER_START, 0)
    full_answer = core.decode_answer(answer_inputs, encoder_states, attention_mask, input_ids)
    cache = _encoder_cache(core)
    steps = []
    for t in range(answer_inputs.size(1)):
        step = core.decode_answer(
            answer_inputs[:, t : t + 1],
            encoder_states,
            attention_mask,
            input_ids,
            cache=cache,
            use_cache=True,
        )
        cache = step.cache
        steps.append(step.log_probs)
    torch.testing.assert_close(torch.cat(steps, 1), full_answer.log_probs)

    answer_mask = answer_labels != -100
    question_inputs = shift_right(question_labels, QUESTION_START, 0)
    answer = core.remember_answer(full_answer.hidden_states, answer_mask)
    full_question = core.decode_question(question_inputs, encoder_states, attention_mask, answer)
    cache = _encoder_cache(core)
    steps = []
    for t in range(question_inputs.size(1)):
        step = core.decode_question(
            question_inputs[:, t : t + 1],
            encoder_states,
            attention_mask,
            answer,
            cache=cache,
            use_cache=True,
        )
        cache = step.cache
        steps.append(step.log_probs)
    torch.testing.assert_close(torch.cat(steps, 1), full_question.log_probs)


def test_bf16_autocast_forward_and_backward_have_no_nan():
    core = tiny_core().train()
    input_ids, attention_mask, answer_labels, question_labels = batch()
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = core(
            input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
        )
    assert out.answer_log_probs.dtype == torch.float32
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in core.parameters() if p.grad is not None)


def test_gate_switch_removes_the_answer_from_the_question_path():
    input_ids, attention_mask, answer_labels, question_labels = batch()
    other_answer = answer_labels.clone()
    other_answer[0, 0] = (other_answer[0, 0] + 1) % 30 + 2

    gated = tiny_core()
    assert gated.gate is not None
    changed = gated(
        input_ids, attention_mask, other_answer, question_labels, return_distributions=True
    ).question_log_probs
    original = gated(
        input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
    ).question_log_probs
    assert not torch.allclose(changed[0], original[0])

    ungated = tiny_core(use_gate=False)
    assert ungated.gate is None
    assert not any("gate" in name for name, _ in ungated.named_parameters())
    original = ungated(
        input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
    )
    changed = ungated(
        input_ids, attention_mask, other_answer, question_labels, return_distributions=True
    )
    real = question_labels != -100  # packed, padding slots hold other positions' states
    torch.testing.assert_close(changed.question_log_probs[real], original.question_log_probs[real])
    # and the question head sees h^q directly
    encoder_states = ungated.encode(input_ids, attention_mask)
    hidden = ungated.question_decoder(
        input_ids=shift_right(question_labels, QUESTION_START, 0),
        encoder_hidden_states=encoder_states,
        encoder_attention_mask=attention_mask,
    ).last_hidden_state
    expected = vocabulary_logits(ungated.backbone, hidden).log_softmax(-1)
    torch.testing.assert_close(original.question_log_probs[real], expected[real])


def test_pointer_switch_removes_copying():
    with_pointer = tiny_core()
    assert with_pointer.pointer.switch is not None
    without = tiny_core(use_pointer=False)
    assert without.pointer.switch is None
    assert not any("pointer" in name for name, _ in without.named_parameters())
    input_ids, attention_mask, answer_labels, question_labels = batch()
    out = without(
        input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
    )
    logits = without.backbone(
        input_ids=input_ids,
        attention_mask=attention_mask,
        decoder_input_ids=shift_right(answer_labels, ANSWER_START, 0),
    ).logits
    real = answer_labels != -100  # packed, padding slots hold other positions' states
    torch.testing.assert_close(out.answer_log_probs[real], logits.log_softmax(-1)[real])
    # with the pointer, forcing P_gen = 0 leaves only copy mass: ids absent from the input get none
    with torch.no_grad():
        with_pointer.pointer.switch.weight.zero_()
        with_pointer.pointer.switch.bias.fill_(-1e4)
    copied = with_pointer(
        input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
    ).answer_log_probs
    absent = torch.ones(VOCAB, dtype=torch.bool)
    absent[input_ids[0, attention_mask[0].bool()]] = False
    assert copied[0][:, absent].exp().max() == 0


@pytest.mark.parametrize("shared_decoder", [True, False])
def test_state_dict_round_trip_restores_the_model(shared_decoder):
    """What a Lightning checkpoint relies on: a freshly built core loads the saved weights."""
    trained = tiny_core(seed=0, shared_decoder=shared_decoder)
    with torch.no_grad():
        trained.gate.answer_mixing.add_(1.0)  # differ from any fresh init
        trained.pointer.switch.bias.add_(1.0)
    fresh = tiny_core(seed=1, shared_decoder=shared_decoder)
    fresh.load_state_dict(trained.state_dict())
    input_ids, attention_mask, answer_labels, question_labels = batch()
    torch.testing.assert_close(
        fresh(
            input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
        ).loss,
        trained(
            input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
        ).loss,
    )
