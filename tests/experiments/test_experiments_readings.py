"""The readings study on the fixtures: each variant's readings reach its run, and the export
holds every cell's metrics and curves, a table beside the floors and a figure."""

from __future__ import annotations

import json

import pytest
import yaml

from experiments import readings


@pytest.fixture
def conf(tiny_conf):
    # two validations in six steps: the curves have two points
    return tiny_conf(
        trainer={"max_steps": 6, "val_check_interval": 3, "check_val_every_n_epoch": None},
        model={"optimizer": "adafactor", "lr": 1.0e-2},
    )


def test_every_igja_variant_states_all_three_readings():
    for variant in readings.VARIANTS:
        if variant.model == "igja_qap":
            assert set(variant.readings) == {"gate_fusion", "separate_generators", "loss_reduction"}
    names = [variant.name for variant in readings.VARIANTS]
    assert len(names) == len(set(names))


def test_two_variants_run_and_export(conf, tmp_path, capsys):
    results, out = tmp_path / "results", tmp_path / "out"
    args = ["--profile", "tiny", "--conf-dir", str(conf), "--results-dir", str(results)]
    args += ["--out", str(out), "--variants", "igja_replace,igja_residual_token_loss"]
    assert readings.main(args) == 0

    for name, fusion, reduction in (
        ("igja_replace", "replace", "sequence"),
        ("igja_residual_token_loss", "residual", "token"),
    ):
        record = json.loads((out / name / "metrics.json").read_text())
        assert record["variant"] == name and record["model"] == "igja_qap"
        # the variant's readings reached the resolved config of its run
        init_args = yaml.safe_load(record["config"])["model"]["init_args"]
        assert init_args["gate_fusion"] == fusion and init_args["loss_reduction"] == reduction
        assert init_args["separate_generators"] is True
        # two validations (steps 3 and 6), per-task losses among the curves
        assert [step for step, _ in record["validation"]["val/question_loss"]] == [2, 5]
        assert len(record["validation"]["val/answer/bleu1"]) == 2
        assert {"test/question/bleu1", "test/question_loss"} <= set(record["metrics"])

    table = (out / "table.md").read_text()
    assert "| igja_replace |" in table and "| igja_residual_token_loss |" in table
    assert "shuffled igja_replace predictions" in table and "constant:" in table
    assert (out / "curves.png").stat().st_size > 0

    # export-only over every variant: the ones not run say so, nothing is trained
    assert readings.main([*args[:-2], "--export-only"]) == 0
    table = (out / "table.md").read_text()
    assert "| t5_qg | not run |" in table and "| igja_replace | " in table


def test_unknown_variant_is_refused(capsys):
    assert readings.main(["--variants", "igja_nonsense", "--export-only"]) == 2
    assert "igja_nonsense" in capsys.readouterr().err


def test_the_info_qap_study_runs_its_conditioning_variants(conf, tmp_path):
    results, out = tmp_path / "results", tmp_path / "out"
    args = ["--study", "info_qap", "--profile", "tiny", "--conf-dir", str(conf)]
    args += ["--results-dir", str(results), "--out", str(out), "--variants", "info_qap_untagged"]
    assert readings.main(args) == 0
    record = json.loads((out / "info_qap_untagged" / "metrics.json").read_text())
    init_args = yaml.safe_load(record["config"])["model"]["init_args"]
    assert record["model"] == "info_qap" and init_args["answer_conditioning"] == "none"
    table = (out / "table.md").read_text()
    assert table.startswith("# Info-QAP answer conditioning")
    assert "| info_qap_untagged |" in table
