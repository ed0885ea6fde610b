"""``qapgen evaluate``: agreement with pycocoevalcap, output formats, input errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.rouge.rouge import Rouge

from qapgen.cli.main import main

JSON_KEYS = {"bleu1", "bleu2", "bleu3", "bleu4", "rougeL", "meteor", "meteor_nltk", "n", "protocol"}


def write_predictions(path: Path, hypotheses, references, contexts=None) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for index, (hypothesis, refs) in enumerate(zip(hypotheses, references, strict=True)):
            record = {"id": f"ex{index}", "prediction": hypothesis, "references": refs}
            if contexts is not None:
                record["context"] = contexts[index]
            handle.write(json.dumps(record) + "\n")
    return path


def run_json(capsys, *args) -> dict:
    assert main(["evaluate", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("seed", [4242, 8080])
def test_evaluate_agrees_with_pycocoevalcap_on_unseen_pairs(
    seed, tmp_path, capsys, require_java, coco_meteor, make_pairs, to_coco
):
    hypotheses, references = make_pairs(seed, 250)
    path = write_predictions(tmp_path / "p.jsonl", hypotheses, references)
    result = run_json(capsys, "--predictions", str(path), "--no-meteor-nltk")

    gts, res = to_coco(hypotheses, references)
    (bleu1, *_), _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge_l, _ = Rouge().compute_score(gts, res)
    meteor, _ = coco_meteor.compute_score(gts, res)
    assert result["bleu1"] == pytest.approx(100 * bleu1, abs=0.1)
    assert result["rougeL"] == pytest.approx(100 * rouge_l, abs=0.1)
    assert result["meteor"] == pytest.approx(100 * meteor, abs=0.1)
    assert JSON_KEYS <= result.keys() and result["meteor_nltk"] is None
    assert (result["n"], result["protocol"]) == (250, "example")


def test_evaluate_grouped_protocol(tmp_path, capsys):
    path = write_predictions(
        tmp_path / "p.jsonl",
        ["who wrote hamlet ?", "when was hamlet written ?"],
        [["when was hamlet written ?"], ["who wrote hamlet ?"]],
        contexts=["Hamlet was written around 1600."] * 2,
    )
    args = ("--predictions", str(path), "--meteor", "none", "--no-meteor-nltk")
    grouped = run_json(capsys, *args, "--protocol", "grouped")
    assert (grouped["n"], grouped["protocol"], grouped["rougeL"]) == (1, "grouped", 100.0)
    assert run_json(capsys, *args)["rougeL"] < 60


def test_evaluate_prints_a_table(tmp_path, capsys):
    path = write_predictions(tmp_path / "p.jsonl", ["what is it ?"], [["what is this ?"]])
    assert (
        main(["evaluate", "--predictions", str(path), "--meteor", "none", "--no-meteor-nltk"]) == 0
    )
    table = capsys.readouterr().out
    assert "protocol example: 1 scored of 1 examples" in table
    assert "BLEU-1" in table and "ROUGE-L" in table
    assert "METEOR 1.5          -" in table  # skipped, shown as such, never another value


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 2: not valid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"prediction": "a", "references": ["a"]}', "line 2: field 'id'"),
        ('{"id": 2, "references": ["a"]}', "line 2: field 'prediction'"),
        ('{"id": 2, "prediction": "a", "references": []}', "line 2: field 'references'"),
        ('{"id": 2, "prediction": "a", "references": "a"}', "line 2: field 'references'"),
        ('{"id": 2, "prediction": "a", "references": [""]}', "line 2: field 'references'"),
        ('{"id": 1, "prediction": "a", "references": ["a"]}', "line 2: field 'id' '1' repeats line 1"),
        ("null", "line 2: expected a JSON object, got null"),
        ('"a"', "line 2: expected a JSON object, got a string"),
        ('{"id": true, "prediction": "a", "references": ["a"]}', "line 2: field 'id' must be a string or an integer, got a boolean"),
        ('{"id": null, "prediction": "a", "references": ["a"]}', "line 2: field 'id' must be a string or an integer, got null"),
        ('{"id": 2, "prediction": null, "references": ["a"]}', "line 2: field 'prediction' must be a string, got null"),
        ('{"id": 2, "prediction": 7, "references": ["a"]}', "line 2: field 'prediction' must be a string, got a number"),
        ('{"id": 2, "prediction": "a", "references": ["a", null]}', "line 2: field 'references'"),
        ("[" * 100_000 + "]" * 100_000, "line 2: not readable JSON: nested deeper than"),
        ('{"id": ' + "7" * 5000 + "}", "line 2: not readable JSON (Exceeds the limit"),
    ],
)  # fmt: skip
def test_evaluate_names_the_bad_line_and_field(tmp_path, capsys, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": 1, "prediction": "a", "references": ["a"]}\n' + line + "\n")
    assert main(["evaluate", "--predictions", str(path), "--meteor", "none"]) == 1
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_evaluate_user_errors(tmp_path, capsys):
    assert main(["evaluate", "--predictions", str(tmp_path / "missing.jsonl")]) == 1
    assert "no such file" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["evaluate", "--predictions", str(empty)]) == 1
    assert "no predictions" in capsys.readouterr().err
    no_context = write_predictions(tmp_path / "p.jsonl", ["a"], [["a"]])
    assert main(["evaluate", "--predictions", str(no_context), "--protocol", "grouped"]) == 1
    assert "field 'context'" in capsys.readouterr().err


def test_evaluate_reports_missing_java_as_one_line(tmp_path, capsys, monkeypatch):
    from qapgen.metrics import Meteor15, scoring

    missing = Meteor15(java=str(tmp_path / "no-such-java"))
    monkeypatch.setattr(scoring.meteor_java, "shared_meteor", lambda: missing)
    path = write_predictions(tmp_path / "p.jsonl", ["a"], [["a"]])
    assert main(["evaluate", "--predictions", str(path), "--no-meteor-nltk"]) == 1
    error = capsys.readouterr().err
    assert "needs Java" in error and "--meteor none" in error and error.count("\n") == 1


def test_evaluate_runs_as_a_module(tmp_path):
    path = write_predictions(tmp_path / "p.jsonl", ["Who wrote it?"], [["who wrote it ?"]])
    completed = subprocess.run(
        [sys.executable, "-m", "qapgen.cli.main", "evaluate", "--predictions", str(path),
         "--meteor", "none", "--no-meteor-nltk", "--format", "json"],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["bleu1"] == pytest.approx(100.0) and result["meteor"] is None


def test_evaluate_defaults_report_both_meteors_apart(tmp_path, capsys, require_java):
    from qapgen.metrics import WordNetUnavailableError, load_wordnet

    try:
        load_wordnet()
    except WordNetUnavailableError as error:
        pytest.skip(f"no WordNet for nltk's METEOR: {error}")
    path = write_predictions(tmp_path / "p.jsonl", ["Who wrote it?"], [["who wrote the play ?"]])
    result = run_json(capsys, "--predictions", str(path))
    assert result["meteor"] is not None and result["meteor_nltk"] is not None
    assert result["meteor"] != result["meteor_nltk"]
    assert set(result["implementations"]) == {"bleu", "rougeL", "meteor", "meteor_nltk"}


def test_evaluate_reads_unicode_and_rejects_other_encodings(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    record = {"id": 1, "prediction": "où est\u2028la ville ?", "references": ["où est la ville ?"]}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    args = ["--predictions", str(path), "--meteor", "none", "--no-meteor-nltk"]
    assert run_json(capsys, *args)["bleu1"] == pytest.approx(100.0)
    path.write_bytes(b'{"id": 1, "prediction": "\xe9", "references": ["a"]}\n')
    assert main(["evaluate", *args]) == 1
    assert "not UTF-8" in capsys.readouterr().err


def test_evaluate_reads_a_run_predictions_file(tmp_path, capsys):
    import json as _json

    from qapgen.cli.main import main as _main

    rows = [
        {
            "id": "a",
            "context": "c1",
            "gold_question": "what is it ?",
            "gold_answer": "x",
            "predicted_question": "what is it ?",
            "predicted_answer": "y",
        },
        {
            "id": "b",
            "context": "c2",
            "gold_question": "who came ?",
            "gold_answer": "z",
            "predicted_question": "who came ?",
            "predicted_answer": "z",
        },
    ]
    path = tmp_path / "test.jsonl"
    path.write_text("\n".join(_json.dumps(r) for r in rows) + "\n")
    assert (
        _main(
            [
                "evaluate",
                "--predictions",
                str(path),
                "--task",
                "question",
                "--format",
                "json",
                "--meteor",
                "none",
                "--no-meteor-nltk",
            ]
        )
        == 0
    )
    assert _json.loads(capsys.readouterr().out)["bleu1"] == pytest.approx(100.0)
    assert (
        _main(
            [
                "evaluate",
                "--predictions",
                str(path),
                "--task",
                "answer",
                "--format",
                "json",
                "--meteor",
                "none",
                "--no-meteor-nltk",
            ]
        )
        == 0
    )
    assert _json.loads(capsys.readouterr().out)["bleu1"] < 100.0


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"predicted_question": None, "gold_question": "who ?"}, "field 'predicted_question' must be a string, got null"),
        ({"predicted_question": "who ?", "gold_question": None}, "field 'gold_question' must be a non-empty string"),
        ({"predicted_question": "who ?", "gold_question": 3}, "field 'gold_question' must be a non-empty string"),
        ({"gold_question": "who ?"}, "field 'predicted_question' missing"),
    ],
)  # fmt: skip
def test_a_run_predictions_row_names_its_own_fields(tmp_path, capsys, row, message):
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({"id": "a", "context": "c", **row}) + "\n")
    args = ["--predictions", str(path), "--task", "question", "--meteor", "none"]
    assert main(["evaluate", *args]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert f"test.jsonl, line 1: {message}" in line


def test_other_encodings_and_a_folder_are_one_line_naming_the_file(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_bytes(json.dumps({"id": 1, "prediction": "café", "references": ["a"]},
                                ensure_ascii=False).encode("cp1252") + b"\n")  # fmt: skip
    args = ["--meteor", "none", "--no-meteor-nltk"]
    assert main(["evaluate", "--predictions", str(path), *args]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert f"file {path}: not UTF-8: byte 0xe9 at offset 28 (line 1)" in line
    assert "Windows-1252" in line
    assert main(["evaluate", "--predictions", str(tmp_path), *args]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{tmp_path}: is a folder" in line


def test_evaluate_without_java_on_path_says_how_to_fix_it(tmp_path, capsys, monkeypatch):
    path = write_predictions(tmp_path / "p.jsonl", ["a"], [["a"]])
    empty = tmp_path / "bin-without-java"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["evaluate", "--predictions", str(path), "--no-meteor-nltk"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "METEOR 1.5 needs Java, and 'java' was not found on PATH" in line
    assert "default-jre-headless" in line and "pass --meteor none" in line
    assert "unexpected" not in line
