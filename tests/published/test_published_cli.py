"""``qapgen evaluate-model`` end to end: a tiny checkpoint saved in each supported format is
run over the SQuAD fixtures' test split and scored with qapgen's protocol."""

from __future__ import annotations

import json

import pytest
import torch

from qapgen.cli.main import main
from qapgen.published.formats import FORMATS, parse_pairs, parse_questions

NO_METEOR = ("--meteor", "none", "--no-meteor-nltk")


def evaluate_model(capsys, *args: str) -> dict:
    argv = ["evaluate-model", "--data", "fixtures", "--limit", "6", *NO_METEOR, "--json", *args]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_checkpoint_in_each_format_is_scored_end_to_end(name, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "outputs.jsonl"
    result = evaluate_model(
        capsys, "--model", str(tiny_checkpoint), "--format", name, "--num-beams", "2",
        "--max-new-tokens", "12", "--predictions-out", str(out),
    )  # fmt: skip

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    checkpoint_format = FORMATS[name]
    assert all(row["source"].startswith(checkpoint_format.prefix) for row in rows)
    assert result["counts"]["records"] == 6
    if checkpoint_format.output == "question":
        scored = 6 - result["counts"]["skipped_answer_not_in_context"]
        assert result["question"]["n"] == len(rows) == scored
        assert 0.0 <= result["question"]["bleu1"] <= 100.0
    else:
        # Every output part is a scored question or a counted rejection.
        parsed = [
            parse_pairs(row["output"])
            if name == "lmqg-qag"
            else (parse_questions(row["output"]), 0)
            for row in rows
        ]
        assert result["counts"]["contexts"] == len(rows)
        assert result["counts"]["questions_generated"] == sum(len(p) for p, _ in parsed)
        if name == "lmqg-qag":
            assert result["counts"]["output_parts_not_a_pair"] == sum(r for _, r in parsed)
    assert "beam search, 2 beams" in result["decoding"]


def test_pair_formats_report_qa_aligned_scores_with_a_bertscore_model(
    tiny_checkpoint, tiny_scorer_dir, capsys
):
    result = evaluate_model(
        capsys, "--model", str(tiny_checkpoint), "--format", "lmqg-qag", "--num-beams", "1",
        "--max-new-tokens", "8", "--bertscore-model", str(tiny_scorer_dir), "--bertscore-layer", "2",
    )  # fmt: skip
    assert 0.0 <= result["pairs"]["qa_aligned_f1"] <= 100.0
    assert result["pairs"]["contexts"] == result["counts"]["contexts"]


def test_the_table_labels_both_meteors(tiny_checkpoint, capsys):
    argv = ["evaluate-model", "--data", "fixtures", "--limit", "3", "--meteor", "none"]
    assert (
        main([*argv, "--model", str(tiny_checkpoint), "--format", "lmqg-qg", "--num-beams", "1"])
        == 0
    )
    table = capsys.readouterr().out
    assert "METEOR 1.5" in table and "METEOR (nltk)" in table
    assert "(lmqg-qg) on squad test (paper split)" in table


def test_a_missing_checkpoint_folder_is_one_line(capsys, tmp_path):
    argv = ["evaluate-model", "--data", "fixtures", *NO_METEOR, "--format", "lmqg-qg"]
    assert main([*argv, "--model", str(tmp_path / "nothing")]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "no such checkpoint folder" in error


def test_an_existing_predictions_file_is_not_overwritten(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "mine.jsonl"
    out.write_text("precious\n")
    argv = ["evaluate-model", "--data", "fixtures", *NO_METEOR, "--format", "lmqg-qg"]
    assert main([*argv, "--model", str(tiny_checkpoint), "--predictions-out", str(out)]) == 1
    assert out.read_text() == "precious\n"


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_cuda_without_cuda_is_refused_in_one_line(tiny_checkpoint, capsys):
    argv = ["evaluate-model", "--data", "fixtures", *NO_METEOR, "--format", "lmqg-qg"]
    assert main([*argv, "--model", str(tiny_checkpoint), "--device", "cuda"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "CUDA is not available" in error
