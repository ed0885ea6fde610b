"""The real T5 shapes (random init): the paper's gate geometry, a training step and generation."""

import pytest
import torch

from qapgen.models.backbone import load_backbone
from qapgen.models.igja_decoding import generate_pairs
from qapgen.models.igja_qap import IGJAQAP

VOCAB = 32128  # the T5 checkpoints' vocabulary


def shaped_core(size, gate_heads, device="cpu"):
    torch.manual_seed(0)
    backbone = load_backbone(None, size=size, vocab_size=VOCAB)
    core = IGJAQAP(
        backbone,
        answer_start_token_id=32099,  # <extra_id_0>
        question_start_token_id=32098,  # <extra_id_1>
        max_answer_length=16,
        max_question_length=24,
        gate_heads=gate_heads,
    )
    return core.to(device)


def batch(device):
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, 32000, (2, 40), generator=generator)
    input_ids[:, -1] = 1
    answer_labels = torch.randint(3, 32000, (2, 8), generator=generator)
    answer_labels[:, -1] = 1
    question_labels = torch.randint(3, 32000, (2, 14), generator=generator)
    question_labels[:, -1] = 1
    tensors = input_ids, torch.ones_like(input_ids), answer_labels, question_labels
    return [t.to(device) for t in tensors]


@pytest.mark.slow
@pytest.mark.parametrize(("size", "gate_heads"), [("t5-small-shape", 8), ("t5-base-shape", 12)])
def test_real_shapes_train_and_generate_on_cpu(size, gate_heads):
    core = shaped_core(size, gate_heads).train()
    assert core.gate.head_dim == 64  # k = 64 as in the paper
    input_ids, attention_mask, answer_labels, question_labels = batch("cpu")
    out = core(input_ids, attention_mask, answer_labels, question_labels, return_distributions=True)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    core.eval()
    pairs = generate_pairs(
        core, input_ids, attention_mask, num_beams=2, max_answer_length=4, max_question_length=4
    )
    assert pairs.answer_ids.shape[0] == 2 and pairs.question_ids.shape[0] == 2


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_t5_base_shape_bf16_on_gpu():
    core = shaped_core("t5-base-shape", 12, device="cuda").train()
    input_ids, attention_mask, answer_labels, question_labels = batch("cuda")
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        out = core(
            input_ids, attention_mask, answer_labels, question_labels, return_distributions=True
        )
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in core.parameters() if p.grad is not None)
    core.eval()
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        pairs = generate_pairs(core, input_ids, attention_mask, num_beams=4)
    assert pairs.answer_ids.shape[0] == 2
