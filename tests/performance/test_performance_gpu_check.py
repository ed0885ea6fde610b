"""`make gpu-check` rehearsed on CPU: the same steps at tiny sizes on the SQuAD fixtures, so
that the one GPU run a session may get never meets a rotted script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import gpu_check
from qapgen.cli.main import main as qapgen_main


def test_bench_claims_read_the_issue_lines_off_the_benchmark():
    bench = {
        "train": {
            "hf_baseline_bs16": {"samples_per_s": 100.0, "mfu": 0.1},
            "t5_qg_bs16": {"samples_per_s": 300.0, "mfu": 0.2},
            "t5_qg_bs16_compiled": {"samples_per_s": 450.0, "mfu": 0.3},
            "t5_qg_bs128": {"samples_per_s": 900.0, "mfu": 0.41},
            "igja_qap_bs16": {"samples_per_s": 260.0, "mfu": 0.25},
        },
        "eval": {"igja_qap_squad_test": {"seconds": 21.5, "items": 4009, "meteor": "none"}},
    }
    assert gpu_check.bench_claims(bench) == {
        "t5_qg_over_hf_samples_per_s": 4.5,  # the compiled entry is the better one
        "igja_qap_over_hf_samples_per_s": 2.6,
        "t5_qg_large_batch_mfu": 0.41,  # the largest batch that fitted, not batch 16
        "igja_qap_test_seconds": 21.5,
        "igja_qap_test_items": 4009,
        "igja_qap_test_meteor": "none",
    }


@pytest.mark.rehearsal
def test_gpu_check_rehearses_every_step_on_cpu_and_its_predictions_score(tmp_path: Path):
    out = tmp_path / "out"
    assert gpu_check.main(["run", "--rehearse", "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    # What comes back from the GPU machine: at most 8 files, `tee`'s log.txt included.
    assert len(files) <= 7, files
    summary = json.loads((out / "summary.json").read_text())
    assert summary["missing_modules"] == []
    assert summary["gpu_tests"]["rc"] == 0
    assert summary["bench"]["rc"] == 0
    assert summary["bench"]["claims"]["igja_qap_test_items"] == 16
    for model in gpu_check.MODELS:
        assert summary["training"][model]["rc"] == 0, summary["training"][model]["log_tail"]
        assert (
            summary["training"][model]["metrics"]["global_step"] == gpu_check.REHEARSAL_TRAIN_STEPS
        )
        assert (out / f"{model}-test.jsonl").stat().st_size > 0
    assert "(CPU rehearsal)" in (out / "summary.md").read_text()

    prepared = tmp_path / "prepared"
    assert qapgen_main(["data", "prepare", "--dataset", "squad", "--path", "fixtures",
                        "--out", str(prepared)]) == 0  # fmt: skip
    results = tmp_path / "results"
    record = gpu_check.score_folder(out, prepared, results, meteor="none")
    for model in gpu_check.MODELS:
        question = record["models"][model]["question"]
        assert set(question["scores"]) == {"bleu1", "bleu4", "rougeL"}
        assert question["constant_floor"]["text"]
        assert "shuffled_floor" in question
    assert record["run"]["rehearsal"] is True
    assert "| igja_qap | answer |" in (results / "scores.md").read_text()
