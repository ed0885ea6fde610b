"""Every shipped YAML parses and instantiates: each data file under each profile, and each
hardware and compile file laid over them (each model file under each profile is the zoo
contract's, tests/baselines/test_baseline_zoo_contract.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qapgen.cli.lightning import run_lightning_cli
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule

CONF = Path(__file__).resolve().parents[2] / "conf"
DATA = sorted((CONF / "data").glob("*.yaml"))
PROFILES = sorted((CONF / "profile").glob("*.yaml"))
MODELS = sorted((CONF / "model").glob("*.yaml"))
OVERLAYS = sorted((CONF / "hardware").glob("*.yaml")) + sorted((CONF / "compile").glob("*.yaml"))
# GPU profiles are instantiated on this CPU machine with the device settings swapped out.
ON_CPU = [
    "--trainer.accelerator",
    "cpu",
    "--trainer.devices",
    "1",
    "--trainer.precision",
    "32-true",
    "--trainer.strategy",
    "auto",
    "--wandb",
    "disabled",
]


def build(tmp_path, *configs: Path, extra: tuple[str, ...] = ()):
    args = [arg for config in configs for arg in ("-c", str(config))]
    return run_lightning_cli(
        [*args, "--trainer.default_root_dir", str(tmp_path), *ON_CPU, *extra], run=False
    )


def test_the_shipped_files_are_all_covered():
    assert {p.stem for p in PROFILES} >= {"offline", "overfit", "scratch-gpu", "paper"}
    assert {p.stem for p in DATA} >= {"squad", "newsqa", "coqa", "squad-dev"}
    assert len(MODELS) == 13


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("data", DATA, ids=lambda p: p.stem)
def test_each_data_file_under_each_profile(tmp_path, data, profile):
    cli = build(tmp_path, data, profile, CONF / "model" / "igja_qap.yaml")
    assert isinstance(cli.datamodule, QAPDataModule)
    assert cli.datamodule.dataset_name in {"squad", "newsqa", "coqa", "qg_squad"}
    assert isinstance(cli.model, QAPModule)
    # The generation limits follow the data's truncation limits (the gate is sized by them).
    assert cli.model.hparams.max_answer_length == cli.datamodule.max_lengths["answer"]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_hardware_and_compile_file_parses_with_a_model(tmp_path, overlay):
    cli = build(
        tmp_path,
        CONF / "data" / "squad.yaml",
        CONF / "profile" / "offline.yaml",
        CONF / "model" / "t5_qg.yaml",
        overlay,
    )
    assert isinstance(cli.model, QAPModule)
