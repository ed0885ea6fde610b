"""The IGJA-QAP model YAMLs: the paper model and its three ablations, each differing from the
full model only in what it ablates. That each composes with every profile and memorises the
overfit set is the zoo contract (tests/baselines/test_baseline_zoo_contract.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODEL_CONFIGS = sorted((ROOT / "conf" / "model").glob("igja_qap*.yaml"))


def test_the_paper_model_and_its_three_ablations_have_configs():
    assert {path.stem for path in MODEL_CONFIGS} >= {
        "igja_qap",
        "igja_qap_no_gate",
        "igja_qap_two_decoders",
        "igja_qap_no_pointer",
    }


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
