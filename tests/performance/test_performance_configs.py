"""conf/hardware/*.yaml parse into the intended Trainer settings and conf/compile/ into the
compiled training step; fp16 is warned about; the CudaPerformance callback is part of every
CLI run."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.cli import LightningArgumentParser
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy
from transformers.models.t5.modeling_t5 import T5Block

from qapgen.cli.lightning import run_lightning_cli
from qapgen.performance import (
    CudaPerformance,
    FP16PrecisionWarning,
    enable_tf32,
    warn_if_fp16,
)

CONF = Path(__file__).resolve().parents[2] / "conf"
HARDWARE_CONFIGS = CONF / "hardware"


def trainer_settings(name: str):
    """The trainer section of conf/hardware/NAME.yaml, with its strategy instantiated (the
    Trainer itself is not: gpu, ddp and fsdp need GPUs)."""
    parser = LightningArgumentParser()
    parser.add_lightning_class_args(L.Trainer, "trainer")
    config = parser.parse_path(HARDWARE_CONFIGS / f"{name}.yaml")
    return parser.instantiate_classes(config).trainer


def test_every_hardware_config_is_tested():
    assert {p.stem for p in HARDWARE_CONFIGS.glob("*.yaml")} == {"cpu", "gpu", "ddp", "fsdp"}
    assert {p.stem for p in (CONF / "compile").glob("*.yaml")} == {"training-step"}


def test_cpu_and_gpu_configs():
    cpu, gpu = trainer_settings("cpu"), trainer_settings("gpu")
    assert (cpu.accelerator, cpu.devices, cpu.precision) == ("cpu", 1, "32-true")
    assert (gpu.accelerator, gpu.devices, gpu.precision) == ("gpu", 1, "bf16-mixed")


def test_ddp_config_uses_every_gpu():
    ddp = trainer_settings("ddp")
    assert (ddp.devices, ddp.precision) == (-1, "bf16-mixed")
    assert isinstance(ddp.strategy, DDPStrategy)
    assert ddp.strategy._ddp_kwargs["find_unused_parameters"] is False


def test_fsdp_config_wraps_t5_blocks():
    fsdp = trainer_settings("fsdp")
    assert isinstance(fsdp.strategy, FSDPStrategy)
    policy = fsdp.strategy.kwargs["auto_wrap_policy"]
    assert policy._module_classes == {T5Block}
    assert fsdp.strategy.kwargs["use_orig_params"] is True
    assert fsdp.precision == "bf16-mixed"


def test_compile_config_through_the_cli(tmp_path):
    cli = run_lightning_cli(
        [
            "-c", str(CONF / "profile" / "offline.yaml"),
            "-c", str(CONF / "compile" / "training-step.yaml"),
            "-c", str(CONF / "model" / "igja_qap.yaml"),
            "--trainer.default_root_dir", str(tmp_path),
        ],
        run=False,
    )  # fmt: skip
    assert cli.model.hparams.compile is True
    assert cli.datamodule.pad_to_buckets == [16, 32, 48, 64, 96, 128]
    assert isinstance(cli.trainer.accelerator, CPUAccelerator)  # the profile's hardware: cpu
    assert any(isinstance(c, CudaPerformance) for c in cli.trainer.callbacks)


@pytest.mark.parametrize(
    ("precision", "warned"),
    [("16-mixed", True), ("16-true", True), (16, True), ("bf16-mixed", False),
     ("bf16-true", False), ("32-true", False), (None, False)],
)  # fmt: skip
def test_fp16_warning(precision, warned):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_if_fp16(precision) is warned
    assert any(issubclass(w.category, FP16PrecisionWarning) for w in caught) is warned


def fake_trainer(precision: str, device: str):
    return SimpleNamespace(
        precision_plugin=SimpleNamespace(precision=precision),
        strategy=SimpleNamespace(root_device=torch.device(device)),
    )


def test_cuda_performance_warns_on_fp16_and_leaves_cpu_numerics_alone():
    before = torch.get_float32_matmul_precision()
    with pytest.warns(FP16PrecisionWarning, match="bf16-mixed"):
        CudaPerformance().setup(fake_trainer("16-mixed", "cpu"), None, "fit")
    assert torch.get_float32_matmul_precision() == before


def test_enable_tf32_sets_the_matmul_precision():
    before = (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32)
    try:
        torch.set_float32_matmul_precision("highest")
        enable_tf32()
        assert torch.get_float32_matmul_precision() == "high"
        assert torch.backends.cuda.matmul.allow_tf32 is True
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cuda.matmul.allow_tf32 = before[1]
