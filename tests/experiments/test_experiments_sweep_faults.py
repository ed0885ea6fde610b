"""A sweep survives what the disk and the user do to it: a full disk during a checkpoint
write, a damaged checkpoint or metrics file, a second sweep on the same results folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hostile.faults import disk_full_at_checkpoint_save

from experiments import sweep
from qapgen.atomic_files import TEMP_PREFIX

CELL = ("squad", "igja_qap", "seed0")


# Fault injection trains real (tiny) cells: run by `make test`, left out of `make test-fast`.
pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def conf(module_tiny_conf):
    return module_tiny_conf


def sweep_args(conf: Path, results: Path, *extra: str) -> list[str]:
    return ["table5", "--profile", "tiny", "--datasets", "squad", "--models", "igja_qap",
            "--conf-dir", str(conf), "--results-dir", str(results), *extra]  # fmt: skip


def cell_dir(results: Path) -> Path:
    return results.joinpath("tiny", *CELL)


def tracebacks(err: str) -> int:
    """Tracebacks printed by the sweep (not the logging module's own reports of writing to a
    stream that pytest's capture has since closed)."""
    return err.count("Traceback (most recent call last)") - err.count("--- Logging error ---")


def comparable(record: dict) -> dict:
    """A cell's test metrics and floors, without the wall-clock ones."""
    metrics = {
        k: v for k, v in record["metrics"].items() if "seconds" not in k and "_per_s" not in k
    }
    return {"metrics": metrics, "floors": record["floors"], "steps": record["steps"]}


@pytest.fixture(scope="module")
def uninterrupted(conf, tmp_path_factory) -> dict:
    """The cell run once without faults. A module fixture starts before the per-test ones,
    so it sets what they would: one torch thread (the sums' order, hence the last digits of
    the losses, depends on it) and a cache of its own."""
    results = tmp_path_factory.mktemp("uninterrupted")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("QAPGEN_CACHE_DIR", str(results / "cache"))
            assert sweep.main(sweep_args(conf, results)) == 0
    finally:
        torch.set_num_threads(threads)
    return comparable(json.loads((cell_dir(results) / "metrics.json").read_text()))


def test_a_disk_that_fills_during_a_checkpoint_write_then_frees_finishes_as_if_uninterrupted(
    conf, tmp_path, monkeypatch, capsys, uninterrupted
):
    results = tmp_path / "results"
    with monkeypatch.context() as patch:
        calls = disk_full_at_checkpoint_save(2)(patch)  # the step-4 checkpoint
        assert sweep.main(sweep_args(conf, results)) == 1
    assert calls[0] == 2
    cell = cell_dir(results)
    status = json.loads((cell / "status.json").read_text())
    assert "no space left on device" in status["reason"] and "last.ckpt" in status["reason"]
    (last,) = cell.glob("run/**/checkpoints/last.ckpt")
    # The step-2 checkpoint is whole (the failed write never replaced it) and nothing of the
    # failed write is left behind.
    assert torch.load(last, weights_only=True)["global_step"] == 2
    assert not list(cell.rglob(f"{TEMP_PREFIX}*"))
    err = capsys.readouterr().err
    failure_lines = [line for line in err.splitlines() if "no space left" in line]
    assert len(failure_lines) == 1 and tracebacks(err) == 0

    assert sweep.main(sweep_args(conf, results)) == 0  # space is back
    record = json.loads((cell / "metrics.json").read_text())
    assert record["resumed"] is True
    assert comparable(record) == uninterrupted


def test_a_truncated_checkpoint_is_set_aside_and_the_cell_restarts(
    conf, tmp_path, capsys, uninterrupted
):
    results = tmp_path / "results"
    assert sweep.main(sweep_args(conf, results)) == 0
    cell = cell_dir(results)
    (last,) = cell.glob("run/**/checkpoints/last.ckpt")
    last.write_bytes(last.read_bytes()[:1000])
    (cell / "metrics.json").unlink()  # the cell was killed before it finished
    capsys.readouterr()

    assert sweep.main(sweep_args(conf, results)) == 0
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "moved aside" in line]
    assert "last.ckpt: not a readable checkpoint" in line and tracebacks(err) == 0
    assert last.with_name("last.ckpt.corrupt").exists()
    assert comparable(json.loads((cell / "metrics.json").read_text())) == uninterrupted


def test_a_damaged_metrics_file_is_set_aside_and_the_cell_reruns(conf, tmp_path, capsys):
    results = tmp_path / "results"
    assert sweep.main(sweep_args(conf, results)) == 0
    metrics = cell_dir(results) / "metrics.json"
    finished = comparable(json.loads(metrics.read_text()))
    metrics.write_text(metrics.read_text()[:100])
    capsys.readouterr()

    # Rendering alone does not crash on it: the cell's row says what is wrong.
    assert sweep.main(sweep_args(conf, results, "--render-only")) == 0
    table = (results / "tiny" / "table5.md").read_text()
    assert "metrics.json is damaged" in table

    assert sweep.main(sweep_args(conf, results)) == 0
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "moved aside" in line]
    assert "metrics.json: not valid JSON" in line
    assert metrics.with_name("metrics.json.corrupt").exists()
    # It resumed from the finished run's last checkpoint: only the test ran again.
    assert comparable(json.loads(metrics.read_text())) == finished


def test_a_second_sweep_on_the_same_results_folder_refuses_in_one_line(conf, tmp_path, capsys):
    results = tmp_path / "results"
    with sweep.results_lock(results / "tiny"):
        assert sweep.main(sweep_args(conf, results)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2  # the profile line, then the refusal
    assert (
        err[-1].startswith("[sweep] error: ")
        and ".sweep.lock is held by a running sweep" in err[-1]
    )
    assert not cell_dir(results).exists()
