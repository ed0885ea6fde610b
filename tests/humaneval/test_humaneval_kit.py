"""Human-evaluation kit: blinded export, and Table 4 + kappa from a hand-made answer sheet."""

from __future__ import annotations

import csv
import json

import pytest

from qapgen.cli.main import main
from qapgen.humaneval.kit import cohen_kappa


def predictions(path, tag):
    rows = [
        {
            "id": f"ex{i}",
            "context": f"context {i}",
            "gold_question": f"gold q {i}?",
            "gold_answer": f"gold a {i}",
            "predicted_question": f"{tag} q {i}?",
            "predicted_answer": f"{tag} a {i}",
        }
        for i in range(6)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_cohen_kappa_by_hand():
    # p_o = 4/6; rater1 Yes 3/6, rater2 Yes 3/6 -> p_e = 0.5; kappa = (2/3 - 1/2) / (1/2) = 1/3
    a = ["Yes", "Yes", "Yes", "No", "No", "No"]
    b = ["Yes", "Yes", "No", "Yes", "No", "No"]
    assert cohen_kappa(a, b) == pytest.approx(1 / 3)
    assert cohen_kappa(a, a) == pytest.approx(1.0)


def test_export_blinds_and_score_gives_table4(tmp_path, capsys):
    a = predictions(tmp_path / "a.jsonl", "sysA")
    b = predictions(tmp_path / "b.jsonl", "sysB")
    out = tmp_path / "form"
    assert (
        main(
            [
                "humaneval",
                "export",
                "--system",
                "onestop",
                str(a),
                "--system",
                "igja",
                str(b),
                "--n",
                "4",
                "--seed",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((out / "form.csv").open()))
    assert len(rows) == 12  # 4 examples x (2 systems + gold)
    assert "system" not in rows[0] and all(not r["q1_grammatical"] for r in rows)
    key = json.loads((out / "key.json").read_text())
    assert sorted(v["system"] for v in key["items"].values()).count("gold") == 4
    page = (out / "form.html").read_text()
    assert page.count("<section") == 12 and "saveCsv" in page

    # Rater 1 says Yes to everything; rater 2 says No to the system "onestop" only.
    for rater, no_for in (("r1", None), ("r2", "onestop")):
        with (tmp_path / f"{rater}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["item", "q1_grammatical", "q2_relevant", "q3_different"])
            for item, entry in key["items"].items():
                value = "No" if entry["system"] == no_for else "Yes"
                writer.writerow([item, value, value, value])
    capsys.readouterr()
    assert (
        main(
            [
                "humaneval",
                "score",
                "--key",
                str(out / "key.json"),
                "--rater",
                str(tmp_path / "r1.csv"),
                "--rater",
                str(tmp_path / "r2.csv"),
                "--format",
                "json",
            ]
        )
        == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert scores["table4"]["onestop"]["q2_relevant"] == {"Yes": 50.0, "No": 50.0}
    assert scores["table4"]["igja"]["q1_grammatical"] == {
        "Yes": 100.0,
        "No": 0.0,
        "Understandable": 0.0,
    }
    # rater1 all Yes; rater2 No on 4 of 12: p_o = 8/12, p_e = (12*8)/144 = 2/3 -> kappa 0
    assert scores["kappa"]["q1_grammatical"] == pytest.approx(0.0)


def test_bad_answer_sheet_names_row_and_column(tmp_path, capsys):
    a = predictions(tmp_path / "a.jsonl", "A")
    b = predictions(tmp_path / "b.jsonl", "B")
    out = tmp_path / "form"
    main(
        [
            "humaneval",
            "export",
            "--system",
            "a",
            str(a),
            "--system",
            "b",
            str(b),
            "--n",
            "2",
            "--out",
            str(out),
        ]
    )
    sheet = tmp_path / "bad.csv"
    rows = list(csv.DictReader((out / "form.csv").open()))
    with sheet.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "q1_grammatical", "q2_relevant", "q3_different"])
        writer.writerow([rows[0]["item"], "Maybe", "Yes", "Yes"])
    assert main(["humaneval", "score", "--key", str(out / "key.json"), "--rater", str(sheet)]) == 1
    err = capsys.readouterr().err
    assert "row 2" in err and "q1_grammatical" in err and "'Maybe'" in err
