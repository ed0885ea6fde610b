"""IGJA-QAP and each ablation memorise the 16 fixture examples through `qapgen fit`.

The whole user path runs: the overfit profile composed with a model YAML, training, test after
fit with beam search, METEOR 1.5 and ``metrics.json``. At corpus level a couple of wrong
predictions out of 16 already drop METEOR to about 60, so >= 90 means exact memorisation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qapgen.cli.main import main

pytestmark = pytest.mark.learnability

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "conf" / "profile" / "overfit.yaml"
VARIANTS = ("igja_qap", "igja_qap_no_gate", "igja_qap_two_decoders", "igja_qap_no_pointer")


@pytest.fixture(autouse=True)
def no_pytest_arguments(monkeypatch):
    """The CLI gets its arguments as a list; pytest's own in sys.argv would only draw a warning."""
    monkeypatch.setattr("sys.argv", ["qapgen"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_overfit_profile_memorises_the_fixtures(variant, tmp_path):
    config = ROOT / "conf" / "model" / f"{variant}.yaml"
    exit_code = main(
        ["fit", "-c", str(PROFILE), "-c", str(config), "--trainer.default_root_dir", str(tmp_path)]
    )

    assert exit_code == 0
    (metrics_path,) = tmp_path.rglob("metrics.json")
    metrics = json.loads(metrics_path.read_text())
    assert metrics["test/question/meteor"] >= 90, metrics
    assert metrics["test/answer/meteor"] >= 90, metrics
    rows = [
        json.loads(line) for line in (metrics_path.parent / "predictions" / "test.jsonl").open()
    ]
    assert len(rows) == 16
