"""On one CUDA device: every model of the zoo trains in bf16 and generates, and the DDP and
FSDP hardware configs train on a single device. `pytest -m gpu` (make gpu-check) runs them;
elsewhere they are skipped."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from zoo_testing import CONF, fit_overfit

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

MODEL_CONFIGS = sorted((CONF / "model").glob("*.yaml"))
# A few bf16 steps on the fixtures, then the test: beam search and every metric but METEOR.
SHORT_GPU_RUN = (
    "--trainer.accelerator", "gpu",
    "--trainer.devices", "1",
    "--trainer.precision", "bf16-mixed",
    "--trainer.max_steps", "4",
    "--trainer.check_val_every_n_epoch", "1",
    "--trainer.limit_val_batches", "1",
    "--model.init_args.meteor", "none",
    "--wandb", "disabled",
)  # fmt: skip


def _finite_test_metrics(metrics: dict) -> dict:
    values = {k: v for k, v in metrics.items() if k.startswith("test/")}
    assert values, "the run logged no test metrics"
    assert all(math.isfinite(v) for v in values.values() if isinstance(v, float)), values
    return values


@pytest.mark.parametrize("model_yaml", MODEL_CONFIGS, ids=[p.stem for p in MODEL_CONFIGS])
def test_every_model_trains_in_bf16_and_generates_on_one_gpu(model_yaml: Path, tmp_path: Path):
    metrics = fit_overfit(model_yaml, tmp_path, *SHORT_GPU_RUN)
    values = _finite_test_metrics(metrics)
    # Generation ran: each task the model has was scored on generated text.
    assert any(k.endswith("/bleu4") for k in values)
    assert next(tmp_path.rglob("test.jsonl")).stat().st_size > 0


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_multi_gpu_hardware_configs_train_on_one_device(strategy: str, tmp_path: Path):
    metrics = fit_overfit(
        CONF / "model" / "igja_qap.yaml",
        tmp_path,
        "--hardware", strategy,
        *SHORT_GPU_RUN,
    )  # fmt: skip
    _finite_test_metrics(metrics)
