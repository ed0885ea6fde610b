"""Every IGJA-QAP model YAML composes with the overfit profile and instantiates (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qapgen.cli.lightning import run_lightning_cli
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.igja_qap_module import IGJAQAPModule

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "conf" / "profile" / "overfit.yaml"
MODEL_CONFIGS = sorted((ROOT / "conf" / "model").glob("igja_qap*.yaml"))


@pytest.fixture(autouse=True)
def no_pytest_arguments(monkeypatch):
    """The CLI gets its arguments as a list; pytest's own in sys.argv would only draw a warning."""
    monkeypatch.setattr("sys.argv", ["qapgen"])


def test_the_paper_model_and_its_three_ablations_have_configs():
    assert {path.stem for path in MODEL_CONFIGS} >= {
        "igja_qap",
        "igja_qap_no_gate",
        "igja_qap_two_decoders",
        "igja_qap_no_pointer",
    }


@pytest.mark.parametrize("config", MODEL_CONFIGS, ids=lambda path: path.stem)
def test_model_config_instantiates_with_the_overfit_profile(config, tmp_path):
    cli = run_lightning_cli(
        ["-c", str(PROFILE), "-c", str(config), "--trainer.default_root_dir", str(tmp_path)],
        run=False,
    )
    declared = yaml.safe_load(config.read_text())["model"]["init_args"]
    profile = yaml.safe_load(PROFILE.read_text())

    assert isinstance(cli.model, IGJAQAPModule)
    assert isinstance(cli.datamodule, QAPDataModule)
    for name, value in {**profile["model"]["init_args"], **declared}.items():
        assert cli.model.hparams[name] == value, name
    # the CLI links the generation limits to the DataModule's truncation limits
    assert cli.model.hparams.max_answer_length == profile["data"]["max_answer_length"]
    assert cli.model.hparams.max_question_length == profile["data"]["max_question_length"]
    assert cli.trainer.max_epochs == profile["trainer"]["max_epochs"]
    assert cli.config["test_after_fit"] is True


ABLATED = {
    "igja_qap_no_gate": "use_gate",
    "igja_qap_two_decoders": "shared_decoder",
    "igja_qap_no_pointer": "use_pointer",
}


@pytest.mark.parametrize("ablation", sorted(ABLATED))
def test_each_ablation_differs_from_the_full_model_only_in_what_it_ablates(ablation):
    def init_args(name):
        path = ROOT / "conf" / "model" / f"{name}.yaml"
        return yaml.safe_load(path.read_text())["model"]["init_args"]

    full, ablated = init_args("igja_qap"), init_args(ablation)
    assert full.keys() == ablated.keys()
    differing = {key for key in full if full[key] != ablated[key]}
    assert differing == {ABLATED[ablation]}
    # the open readings are stated, not left to the class defaults
    assert {"gate_fusion", "separate_generators", "loss_reduction"} <= full.keys()
