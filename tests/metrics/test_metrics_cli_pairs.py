"""``qapgen evaluate --task pairs``: both tasks' n-gram scores, QA-aligned F1 on BERTScore and
answerability F1 of a pair model's predictions file, with tiny local scorer and QA models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from baselines.qa2qg import QA2QGModule
from qapgen.cli.main import main
from qapgen.metrics.pair_alignment import BertScoreSimilarity, QAPair, qa_aligned_f1
from qapgen.metrics.token_f1 import token_f1
from zoo_testing import fit_briefly, save_bare_checkpoint, tiny_model

ROWS = [
    # Two rows share a sentence, as SQuAD's sentences with two questions do.
    # id, context, gold question, gold answer, predicted question, predicted answer
    ("s1", "Paris is the capital of France .", "what is the capital of france ?", "paris",
     "what is the capital of france ?", "paris"),
    ("s2", "Paris is the capital of France .", "which country is paris in ?", "france",
     "what is the capital of france ?", "paris"),
    ("s3", "Rome is in Italy .", "where is rome ?", "italy", "what is in italy ?", "rome"),
]  # fmt: skip
NO_METEOR = ("--meteor", "none", "--no-meteor-nltk")


@pytest.fixture
def run_predictions(tmp_path) -> Path:
    path = tmp_path / "test.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for row_id, context, gold_q, gold_a, question, answer in ROWS:
            row = {
                "id": row_id,
                "context": context,
                "gold_question": gold_q,
                "gold_answer": gold_a,
                "predicted_question": question,
                "predicted_answer": answer,
            }
            handle.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def qa_checkpoint(fixture_tokenizer, tmp_path) -> Path:
    """An untrained QA2QG saved as a checkpoint that names its class and tokenizer."""
    model = tiny_model(QA2QGModule, fixture_tokenizer)
    return save_bare_checkpoint(model, fixture_tokenizer, "baselines.qa2qg.QA2QGModule", tmp_path)


def evaluate_pairs(capsys, predictions: Path, *args: str) -> dict:
    argv = ["evaluate", "--predictions", str(predictions), "--task", "pairs", *NO_METEOR]
    assert main([*argv, *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_pairs_are_scored_per_task_and_aligned_per_context(
    run_predictions, tiny_scorer_dir, capsys
):
    result = evaluate_pairs(
        capsys, run_predictions, "--bertscore-model", str(tiny_scorer_dir), "--bertscore-layer", "2"
    )

    # The sentence of s1 and s2 has two gold pairs and one generated pair (both rows generate
    # the same, counted once); s3's sentence one of each.
    similarity = BertScoreSimilarity(str(tiny_scorer_dir), num_layers=2)
    expected = qa_aligned_f1(
        [[QAPair("what is the capital of france ?", "paris")], [QAPair("what is in italy ?", "rome")]],
        [
            [QAPair("what is the capital of france ?", "paris"),
             QAPair("which country is paris in ?", "france")],
            [QAPair("where is rome ?", "italy")],
        ],
        similarity,
    )  # fmt: skip
    pairs = result["pairs"]
    assert pairs["qa_aligned_f1"] == pytest.approx(expected.f1)
    assert pairs["qa_aligned_precision"] == pytest.approx(expected.precision)
    assert (pairs["contexts"], pairs["pairs"], pairs["answerability_f1"]) == (2, 3, None)
    assert result["question"]["n"] == result["answer"]["n"] == 3
    assert result["question"]["bleu1"] < 100 and result["answer"]["bleu1"] < 100
    assert "BERTScore precision" in result["implementations"]["qa_aligned"]


def test_answerability_uses_the_qa_models_own_answers(
    run_predictions, qa_checkpoint, fixture_tokenizer, capsys
):
    result = evaluate_pairs(
        capsys, run_predictions, "--bertscore-model", "none", "--qa-model", str(qa_checkpoint)
    )

    from qapgen.export import load_model

    qa = load_model(qa_checkpoint).model
    contexts = [row[1] for row in ROWS]
    questions = [row[4] for row in ROWS]
    qa_answers = qa.answer_questions(contexts, questions)
    expected = 100 * sum(token_f1(a, row[5]) for a, row in zip(qa_answers, ROWS, strict=True)) / 3
    assert result["pairs"]["answerability_f1"] == pytest.approx(expected)
    assert result["pairs"]["qa_aligned_f1"] is None


def test_the_table_shows_both_tasks_and_the_pair_scores(run_predictions, tiny_scorer_dir, capsys):
    argv = ["evaluate", "--predictions", str(run_predictions), "--task", "pairs", *NO_METEOR]
    assert main([*argv, "--bertscore-model", str(tiny_scorer_dir), "--bertscore-layer", "2"]) == 0
    table = capsys.readouterr().out
    assert "3 pairs in 2 contexts" in table
    assert "question   answer" in table
    assert "QA-aligned F1" in table and "answerability F1" in table
    assert "answerability: not scored (pass --qa-model" in table


def test_a_model_that_cannot_answer_questions_is_refused_in_one_line(
    run_predictions, exported_model, capsys
):
    argv = ["evaluate", "--predictions", str(run_predictions), "--task", "pairs", *NO_METEOR]
    code = main([*argv, "--bertscore-model", "none", "--qa-model", str(exported_model)])
    error = capsys.readouterr().err.strip()
    assert code == 1
    assert len(error.splitlines()) == 1
    assert "cannot answer questions" in error


def test_rows_without_a_predicted_answer_are_named(tmp_path, capsys):
    path = tmp_path / "test.jsonl"
    row = {"id": 1, "context": "c", "gold_question": "q ?", "gold_answer": "a"}
    path.write_text(json.dumps({**row, "predicted_question": "q ?"}) + "\n")
    argv = ["evaluate", "--predictions", str(path), "--task", "pairs", *NO_METEOR]
    assert main([*argv, "--bertscore-model", "none"]) == 1
    assert "line 1: field 'predicted_answer' missing" in capsys.readouterr().err


def test_a_fit_with_pair_metrics_logs_them_at_test_time(tiny_scorer_dir, tmp_path):
    fit_briefly(
        tmp_path, "t5_e2e",
        "--pair_metrics.bertscore_model", str(tiny_scorer_dir),
        "--pair_metrics.bertscore_layer", "2",
    )  # fmt: skip

    metrics = json.loads(next(tmp_path.rglob("metrics.json")).read_text())
    assert 0.0 <= metrics["test/pair/qa_aligned_f1"] <= 100.0
    assert "test/pair/answerability_f1" not in metrics
