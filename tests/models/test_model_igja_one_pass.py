"""IGJA-QAP's training pass: one shared-decoder call over [answer; question] equals the
two separate passes that generation makes, β equals the eager kernel's cross-attention,
and the masks it is built from are what they claim."""

import pytest
import torch
from transformers import T5Config

from qapgen.models.attention_masks import padding_attention_mask, segment_causal_attention_mask
from qapgen.models.igja_qap import IGJAQAP, label_log_probs, sequence_nll, token_nll
from qapgen.models.segment_packing import PackedSegments, packed_width
from qapgen.models.sequences import shift_right
from tests.models.test_model_igja_qap import ANSWER_START, QUESTION_START, batch, tiny_core


def two_pass(core: IGJAQAP, input_ids, attention_mask, answer_labels, question_labels):
    """Losses and distributions from the generation path's two separate decoder passes."""
    encoder_states = core.encode(input_ids, attention_mask)
    answer = core.decode_answer(
        shift_right(answer_labels, ANSWER_START, 0), encoder_states, attention_mask, input_ids
    )
    question = core.decode_question(
        shift_right(question_labels, QUESTION_START, 0),
        encoder_states,
        attention_mask,
        core.remember_answer(answer.hidden_states, answer_labels != -100),
    )
    answer_picked = label_log_probs(answer.log_probs, answer_labels)
    question_picked = label_log_probs(question.log_probs, question_labels)
    return {
        "loss": sequence_nll(answer_picked, answer_labels)
        + sequence_nll(question_picked, question_labels),
        "answer_loss": token_nll(answer_picked, answer_labels),
        "question_loss": token_nll(question_picked, question_labels),
        "answer_log_probs": answer.log_probs,
        "question_log_probs": question.log_probs,
    }


# BART decodes the answer and the question in two calls (its positions are absolute): its
# training pass must still equal the generation path's.
@pytest.mark.parametrize("family", ["t5", "bart"])
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "padded-width"])
@pytest.mark.parametrize(
    "switches",
    [{}, {"use_pointer": False}, {"use_gate": False}, {"shared_decoder": False}],
    ids=["full", "no-pointer", "no-gate", "two-decoders"],
)
def test_one_decoder_call_equals_two_passes_with_gradients(switches, packed, family):
    inputs = batch(seed=3)
    width = packed_width(inputs[2], inputs[3]) if packed else None
    assert not packed or width < inputs[2].size(1) + inputs[3].size(1)  # packing saves
    results, gradients = [], []
    for path in ("forward", "two_pass"):
        core = tiny_core(seed=1, family=family, **switches)
        if path == "forward":
            out = core(*inputs, decoder_width=width, return_distributions=True)
            result = {k: getattr(out, k) for k in ("loss", "answer_loss", "question_loss",
                                                    "answer_log_probs", "question_log_probs")}  # fmt: skip
        else:
            result = two_pass(core, *inputs)
        result["loss"].backward()
        results.append(result)
        gradients.append({n: p.grad for n, p in core.named_parameters() if p.grad is not None})
    real = {"answer_log_probs": inputs[2] != -100, "question_log_probs": inputs[3] != -100}
    for name, value in results[1].items():
        # packed, a padding slot reads some other position's state: only real ones compare
        if name in real:
            value, results[0][name] = value[real[name]], results[0][name][real[name]]
        torch.testing.assert_close(results[0][name], value, msg=name)
    assert gradients[0].keys() == gradients[1].keys()
    for name, grad in gradients[1].items():
        torch.testing.assert_close(gradients[0][name], grad, msg=name)


@pytest.mark.parametrize("family", ["t5", "bart"])
def test_copy_attention_equals_the_eager_kernels_last_layer_head_mean(family):
    core = tiny_core(seed=2, family=family)
    input_ids, attention_mask, answer_labels, _ = batch(seed=4)
    decoder_inputs = shift_right(answer_labels, ANSWER_START, 0)
    encoder_states = core.encode(input_ids, attention_mask)
    core.backbone.get_decoder()(  # the probe records this call
        input_ids=decoder_inputs,
        encoder_hidden_states=encoder_states,
        encoder_attention_mask=padding_attention_mask(attention_mask, core.backbone.config),
    )
    beta = core.copy_probe.copy_attention_of(attention_mask)
    core.backbone.get_decoder().set_attn_implementation("eager")
    eager = core.backbone.get_decoder()(
        input_ids=decoder_inputs,
        encoder_hidden_states=encoder_states,
        encoder_attention_mask=attention_mask,
        output_attentions=True,
    )
    expected = eager.cross_attentions[-1].mean(dim=1)  # (B, T, N)
    torch.testing.assert_close(beta, expected)
    assert torch.all(beta[1, :, 6:] == 0)  # the second input's padding


def test_segment_causal_mask_hand_written():
    segment = torch.tensor([[0, 0, 1, 1, 1], [0, 1, 1, 2, 2]])
    mask = segment_causal_attention_mask(segment, T5Config())
    first = [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 1, 1, 1],
    ]
    second = [
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 1, 1],
    ]
    assert mask.dtype == torch.bool and mask.shape == (2, 1, 5, 5)
    assert torch.equal(mask[:, 0], torch.tensor([first, second], dtype=torch.bool))


def test_packing_hand_written():
    """Answers [a1 a2 </s>], [b1 </s> -]; questions [x1 </s>], [y1 y2 </s>]: packed rows
    [a1 a2 </s> x1 </s>] and [b1 </s> y1 y2 </s>], width 5 instead of 3 + 3."""
    answers = torch.tensor([[11, 12, 1], [21, 1, -100]])
    questions = torch.tensor([[31, 1, -100], [41, 42, 1]])
    width = packed_width(answers, questions)
    packing = PackedSegments.of(answers, questions, width)
    assert width == 5
    assert packing.segment.tolist() == [[0, 0, 0, 1, 1], [0, 0, 1, 1, 1]]
    packed = packing.pack(answers.clamp_min(0), questions.clamp_min(0), pad=0)
    assert packed.tolist() == [[11, 12, 1, 31, 1], [21, 1, 41, 42, 1]]
    states = packed[..., None].float()  # (B, W, 1): each position's own id
    assert packing.first_of(states)[..., 0][answers != -100].tolist() == [11, 12, 1, 21, 1]
    assert packing.second_of(states)[..., 0][questions != -100].tolist() == [31, 1, 41, 42, 1]
    wider = PackedSegments.of(answers, questions, 7)  # any wider width pads after each row
    assert wider.pack(answers.clamp_min(0), questions.clamp_min(0), 0)[:, 5:].tolist() == [
        [0, 0],
        [0, 0],
    ]


def test_eager_kernels_get_additive_masks():
    config = T5Config()
    config._attn_implementation = "eager"
    mask = padding_attention_mask(torch.tensor([[1, 1, 0]]), config)
    assert mask.shape == (1, 1, 1, 3) and mask.dtype == torch.float32
    assert mask[0, 0, 0, :2].tolist() == [0.0, 0.0]
    assert mask[0, 0, 0, 2] == torch.finfo(torch.float32).min
