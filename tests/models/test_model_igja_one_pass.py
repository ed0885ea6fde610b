"""IGJA-QAP's training pass: one shared-decoder call over [answer; question] equals the
two separate passes that generation makes, β equals the eager kernel's cross-attention,
and the masks it is built from are what they claim."""

import pytest
import torch
from transformers import T5Config

from qapgen.models.attention_masks import (
    block_causal_attention_mask,
    padding_attention_mask,
)
from qapgen.models.igja_qap import IGJAQAP, label_log_probs, sequence_nll, shift_right, token_nll
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
        answer.hidden_states,
        answer_labels != -100,
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


@pytest.mark.parametrize(
    "switches",
    [{}, {"use_pointer": False}, {"use_gate": False}, {"shared_decoder": False}],
    ids=["full", "no-pointer", "no-gate", "two-decoders"],
)
def test_one_decoder_call_equals_two_passes_with_gradients(switches):
    inputs = batch(seed=3)
    results, gradients = [], []
    for path in ("forward", "two_pass"):
        core = tiny_core(seed=1, **switches)
        if path == "forward":
            out = core(*inputs, return_distributions=True)
            result = {k: getattr(out, k) for k in ("loss", "answer_loss", "question_loss",
                                                    "answer_log_probs", "question_log_probs")}  # fmt: skip
        else:
            result = two_pass(core, *inputs)
        result["loss"].backward()
        results.append(result)
        gradients.append({n: p.grad for n, p in core.named_parameters() if p.grad is not None})
    for name, value in results[1].items():
        torch.testing.assert_close(results[0][name], value, msg=name)
    assert gradients[0].keys() == gradients[1].keys()
    for name, grad in gradients[1].items():
        torch.testing.assert_close(gradients[0][name], grad, msg=name)


def test_copy_attention_equals_the_eager_kernels_last_layer_head_mean():
    core = tiny_core(seed=2)
    input_ids, attention_mask, answer_labels, _ = batch(seed=4)
    decoder_inputs = shift_right(answer_labels, ANSWER_START, 0)
    encoder_states = core.encode(input_ids, attention_mask)
    core.backbone.decoder(  # the probe records this call
        input_ids=decoder_inputs,
        encoder_hidden_states=encoder_states,
        encoder_attention_mask=padding_attention_mask(attention_mask, core.backbone.config),
    )
    beta = core.copy_probe.copy_attention_of(attention_mask)
    core.backbone.decoder.set_attn_implementation("eager")
    eager = core.backbone.decoder(
        input_ids=decoder_inputs,
        encoder_hidden_states=encoder_states,
        encoder_attention_mask=attention_mask,
        output_attentions=True,
    )
    expected = eager.cross_attentions[-1].mean(dim=1)  # (B, T, N)
    torch.testing.assert_close(beta, expected)
    assert torch.all(beta[1, :, 6:] == 0)  # the second input's padding


def test_block_causal_mask_hand_written():
    mask = block_causal_attention_mask((2, 3), T5Config(), torch.device("cpu"))
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0],
            [1, 1, 0, 0, 0],
            [0, 0, 1, 0, 0],
            [0, 0, 1, 1, 0],
            [0, 0, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert mask.dtype == torch.bool and mask.shape == (1, 1, 5, 5)
    assert torch.equal(mask[0, 0], expected)


def test_eager_kernels_get_additive_masks():
    config = T5Config()
    config._attn_implementation = "eager"
    mask = padding_attention_mask(torch.tensor([[1, 1, 0]]), config)
    assert mask.shape == (1, 1, 1, 3) and mask.dtype == torch.float32
    assert mask[0, 0, 0, :2].tolist() == [0.0, 0.0]
    assert mask[0, 0, 0, 2] == torch.finfo(torch.float32).min
