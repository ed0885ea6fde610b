"""A two-cell sweep on the fixtures: runs, skips on re-run, resumes after being killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from experiments import sweep

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def conf(tiny_conf):
    return tiny_conf()


def sweep_args(conf: Path, results: Path, *extra: str) -> list[str]:
    return [
        "table5",
        "--profile",
        "tiny",
        "--datasets",
        "squad",
        "--models",
        "igja_qap,igja_qap_no_gate",
        "--conf-dir",
        str(conf),
        "--results-dir",
        str(results),
        *extra,
    ]


def test_two_cells_run_then_skip(conf, tmp_path, capsys):
    results = tmp_path / "results"
    assert sweep.main(sweep_args(conf, results)) == 0
    for model in ("igja_qap", "igja_qap_no_gate"):
        record = json.loads(
            (results / "tiny" / "squad" / model / "seed0" / "metrics.json").read_text()
        )
        assert record["steps"] == 8 and record["seed"] == 0 and record["resumed"] is False
        assert {"test/question/bleu1", "test/answer/rougeL"} <= set(record["metrics"])
        assert record["evaluation"]["question"]["protocol"] == "example"
        assert set(record["floors"]["shuffled"]) == {"answer", "question"}
        assert record["floors"]["constant"]["question"]["text"].endswith("?")
        assert "trainer:" in record["config"] and record["device"] == "cpu"
        # The balance diagnostics ran for these two-task models (the CLI adds the callback).
        csv_header = next(Path(record["run_dir"]).glob("metrics.csv")).read_text().splitlines()[0]
        assert "balance/grad_cosine" in csv_header and "balance/grad_norm_ratio" in csv_header
    table = (results / "tiny" / "table5.md").read_text()
    assert "| SQuAD | Ours-gate | 1 |" in table and "| SQuAD | IGJA-QAP | 1 |" in table
    assert (results / "tiny" / "table5.tex").exists()
    err = capsys.readouterr().err
    assert "[sweep 1/2] squad/igja_qap_no_gate/seed0" in err

    started = time.monotonic()
    assert sweep.main(sweep_args(conf, results)) == 0
    assert time.monotonic() - started < 30
    assert err.count("done, skipped") == 0
    assert capsys.readouterr().err.count("done, skipped") == 2


# Kills a training subprocess and resumes it: fault injection (make test, not make test-fast).
@pytest.mark.faults
def test_killed_cell_resumes_from_its_checkpoint(conf, tmp_path):
    results = tmp_path / "results"
    args = sweep_args(conf, results, "--set", "trainer.max_steps=400", "--models", "igja_qap")
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments.sweep", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cell = results / "tiny" / "squad" / "igja_qap" / "seed0"
    deadline = time.monotonic() + 240
    try:
        while not list(cell.glob("run/**/checkpoints/last.ckpt")):
            assert process.poll() is None, "the sweep ended before writing a checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 240 s"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not (cell / "metrics.json").exists()

    killed_at = torch.load(next(cell.glob("run/**/checkpoints/last.ckpt")), weights_only=True)
    assert killed_at["global_step"] < 40
    resume = sweep_args(conf, results, "--set", "trainer.max_steps=40", "--models", "igja_qap")
    assert sweep.main(resume) == 0
    record = json.loads((cell / "metrics.json").read_text())
    assert record["resumed"] is True
    assert record["steps"] == 40


def test_dry_run_states_a_model_file_s_own_budget(conf, tmp_path, capsys):
    args = ["table2", "--profile", "tiny", "--datasets", "squad", "--models", "deepnqg,t5_qg",
            "--conf-dir", str(conf), "--results-dir", str(tmp_path), "--dry-run"]  # fmt: skip
    assert sweep.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    (deepnqg,) = [line for line in lines if "squad/deepnqg/seed0" in line]
    assert "its own budget: 15 epochs at batch 64" in deepnqg
    (t5_qg,) = [line for line in lines if "squad/t5_qg/seed0" in line]
    assert "own budget" not in t5_qg


@pytest.mark.parametrize(("profile", "expected"), [("tiny", True), ("offline", False)])
def test_data_dir_reaches_every_cell_except_offline_ones(profile, expected, conf, tmp_path,
                                                         monkeypatch):  # fmt: skip
    seen = {}

    def fake_run_sweep(cells, profile, results, conf_dir, overrides):
        seen["overrides"] = overrides
        return []

    monkeypatch.setattr(sweep, "run_sweep", fake_run_sweep)
    args = ["table2", "--profile", profile, "--datasets", "squad", "--models", "t5_qg",
            "--conf-dir", str(conf), "--results-dir", str(tmp_path),
            "--data-dir", str(tmp_path / "squad"), "--set", "trainer.max_steps=3"]  # fmt: skip
    sweep.main(args)
    wanted = f"data.path={(tmp_path / 'squad').resolve()}"
    assert (wanted in seen["overrides"]) is expected
    assert "trainer.max_steps=3" in seen["overrides"]


def test_pair_metrics_set_on_the_sweep_reach_its_tables(conf, tmp_path, tiny_scorer_dir):
    results = tmp_path / "results"
    args = sweep_args(conf, results, "--set", f"pair_metrics.bertscore_model={tiny_scorer_dir}",
                      "--set", "pair_metrics.bertscore_layer=2")  # fmt: skip
    args[args.index("igja_qap,igja_qap_no_gate")] = "igja_qap"
    assert sweep.main(args) == 0

    record = json.loads(
        (results / "tiny" / "squad" / "igja_qap" / "seed0" / "metrics.json").read_text()
    )
    value = record["metrics"]["test/pair/qa_aligned_f1"]
    table = (results / "tiny" / "table5.md").read_text()
    assert "| Dataset | Model | QA-aligned F1 |" in table
    assert f"| SQuAD | IGJA-QAP | {value:.1f} |" in table
