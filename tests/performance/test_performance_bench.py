"""bench/bench_train.py: its FLOP count, and a small CPU run that writes every entry the
issue asks for (so that `make bench` cannot rot unnoticed)."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import T5ForConditionalGeneration

from qapgen.models.backbone import random_init_config


@pytest.fixture(scope="module")
def bench():
    from bench import bench_train

    return bench_train


def test_training_flops_count_each_stack_once_per_token(bench):
    backbone = T5ForConditionalGeneration(random_init_config("tiny", vocab_size=50))
    d, ff, layers, heads, buckets = 32, 64, 2, 4, 32
    attention, feed_forward, norm = 4 * d * d, 2 * d * ff, d
    bias, final_norm = buckets * heads, d  # relative position bias: first layer only
    encoder = layers * (attention + feed_forward + 2 * norm) + bias + final_norm
    decoder = layers * (2 * attention + feed_forward + 3 * norm) + bias + final_norm
    head = d * 50
    assert bench.training_flops_per_token(backbone, backbone) == (
        6 * encoder,
        6 * (decoder + head),
    )
    extra = torch.nn.Linear(d, 1)  # e.g. a pointer switch: counted with the target tokens
    model = torch.nn.ModuleDict({"backbone": backbone, "extra": extra})
    assert bench.training_flops_per_token(model, backbone)[1] == 6 * (decoder + head + d + 1)


@pytest.mark.rehearsal
def test_small_cpu_run_writes_every_entry(bench, tmp_path):
    out = tmp_path / "cpu"
    bench.main(["--device", "cpu", "--large-batch", "32", "--eval-items", "8",
                "--generation-items", "8", "--eval-batch-size", "8", "--steps", "1",
                "--ratio-size", "tiny", "--out", str(out)])  # fmt: skip
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["device"] == "cpu"
    for name in ("hf_baseline_bs16", "t5_qg_bs16", "igja_qap_bs16", "t5_qg_bs32"):
        entry = result["train"][name]
        assert entry["samples_per_s"] > 0 and entry["peak_mem_gib"] > 0, name
        assert entry["mfu"] is None  # no bf16 peak for a CPU
    evaluation = result["eval"]
    assert evaluation["igja_qap_squad_test_seconds"] > 0
    assert evaluation["igja_qap_squad_test"]["items"] == 8
    for name in ("hf_generate_beam4", "t5_qg_beam4", "igja_qap_two_stage_beam4"):
        assert evaluation[name]["samples_per_s"] > 0, name
    table = out.with_suffix(".md").read_text()
    assert "| igja_qap_bs32 | 32 |" in table and "IGJA-QAP test" in table
    # the ratios issue 16 asks for, beside the plain HF numbers
    for name in ("igja_qap_over_t5_qg_step", "igja_qap_over_hf_generate",
                 "igja_qap_over_t5_qg_saved_bytes"):  # fmt: skip
        assert result["ratios"][name] > 0, name
    assert result["step_seconds"]["hf"] > 0 and result["saved_mib_per_example"]["hf"] > 0
    assert "activations saved for backward" in table
