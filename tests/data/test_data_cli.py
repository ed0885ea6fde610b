"""`qapgen data stats` in-process and as a subprocess, on fixtures and on bad files."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from qapgen.cli.main import main
from qapgen.data.datamodule import fixture_path


def test_stats_json_has_table1_shape(capsys):
    assert (
        main(
            [
                "data",
                "stats",
                "--dataset",
                "squad",
                "--path",
                str(fixture_path("squad")),
                "--format",
                "json",
            ]
        )
        == 0
    )
    stats = json.loads(capsys.readouterr().out)
    assert set(stats["splits"]) == {"train", "val", "test"}
    for entry in stats["splits"].values():
        assert set(entry) == {"count", "avg_context", "avg_question", "avg_answer"}
    assert stats["length_unit"] == "ptb"
    assert stats["all"]["count"] == sum(e["count"] for e in stats["splits"].values())
    assert stats["source_records"] == stats["kept"] + sum(stats["dropped"].values())
    assert stats["dropped"]["segment_has_multiple_qa"] == 8


def test_stats_table_shows_the_paper_beside_ours(capsys):
    assert main(["data", "stats", "--dataset", "coqa", "--path", str(fixture_path("coqa"))]) == 0
    out = capsys.readouterr().out
    assert "Table 1 (coqa)" in out and "108647" in out and "10.60" in out
    # the paper's counts keep CoQA's unanswerable questions; dropping them is an option
    assert "kept 107 of 107" in out and "unanswerable" not in out
    assert main(["data", "stats", "--dataset", "coqa", "--path", str(fixture_path("coqa")),
                 "--coqa-unanswerable", "drop"]) == 0  # fmt: skip
    assert "dropped       1  unanswerable" in capsys.readouterr().out


def test_truncated_file_exits_nonzero_naming_the_problem(tmp_path):
    text = (fixture_path("squad") / "dev-v1.1.json").read_text()
    (tmp_path / "dev-v1.1.json").write_text(text[:5000])
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "qapgen.cli.main",
            "data",
            "stats",
            "--dataset",
            "squad",
            "--path",
            str(tmp_path / "dev-v1.1.json"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "dev-v1.1.json" in lines[0] and "not valid JSON" in lines[0] and "truncated" in lines[0]


def test_missing_path_is_one_line(tmp_path, capsys):
    assert main(["data", "stats", "--dataset", "squad", "--path", str(tmp_path / "none.json")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_path_fixtures_selects_the_projects_fixture_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no ./fixtures here: the word alone names them
    assert main(["data", "stats", "--dataset", "newsqa", "--path", "fixtures",
                 "--format", "json"]) == 0  # fmt: skip
    stats = json.loads(capsys.readouterr().out)
    assert stats["files"] == [str(fixture_path("newsqa") / "combined-newsqa-data-v1.json")]


@pytest.mark.parametrize(
    ("value", "code", "message"),
    [
        ("100,5,5", 1, r"article_split \(100, 5, 5\) asks for 110 articles; the prepared data has \d+$"),
        ("38,5", 2, "--article-split: wants TRAIN,VAL,TEST article counts"),
        ("a,b,c", 2, "--article-split: wants TRAIN,VAL,TEST article counts"),
        ("-1,5,5", 2, "--article-split: wants TRAIN,VAL,TEST article counts"),
        ("0,0,0", 2, "--article-split: wants TRAIN,VAL,TEST article counts"),
    ],
)  # fmt: skip
def test_a_bad_article_split_is_one_line(value, code, message, capsys):
    argv = ["data", "stats", "--dataset", "squad", "--path", "fixtures", f"--article-split={value}"]
    assert main(argv) == code
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert re.search(message, line) and not captured.out


def test_drops_and_repairs_are_printed(tmp_path, capsys):
    context = "One sentence here. " * 1_100  # a line over the window: segmented in pieces
    qas = [
        {"id": "q1", "question": "What?", "answers": [{"text": "One", "answer_start": 0}]},
        {"id": "q2", "question": "  ", "answers": [{"text": "One", "answer_start": 0}]},
    ]
    document = {"data": [{"title": "T", "paragraphs": [{"context": context, "qas": qas}]}]}
    (tmp_path / "dev-v1.1.json").write_text(json.dumps(document))
    argv = ["data", "stats", "--dataset", "squad", "--path", str(tmp_path), "--no-cache"]
    assert main([*argv, "--article-split", "1,0,0"]) == 0
    out = capsys.readouterr().out
    assert "kept 1 of 2 source QA pairs" in out
    assert re.search(r"dropped +1 +empty_question", out)
    assert re.search(r"repaired +1 +contexts_windowed", out)
