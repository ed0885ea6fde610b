"""The kit's files under hostile use: an export never replaced unasked or half-way, form
cells that are formulas, raters' sheets as Excel saves them, a sheet from another export."""

from __future__ import annotations

import csv
import errno
import json
from contextlib import contextmanager

import pytest

from qapgen.atomic_files import TEMP_PREFIX
from qapgen.cli.main import main
from qapgen.humaneval import kit
from qapgen.humaneval.kit import HumanEvalError, export_forms, read_answers, read_key
from qapgen.spreadsheet import read_rows


def write_predictions(path, tag, count=6, **overrides):
    rows = [
        {
            "id": f"ex{i}",
            "context": f"context {i}",
            "gold_question": f"gold q {i}?",
            "gold_answer": f"gold a {i}",
            "predicted_question": overrides.get("question", f"{tag} q {i}?"),
            "predicted_answer": f"{tag} a {i}",
        }
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def systems(tmp_path):
    return {
        "a": write_predictions(tmp_path / "a.jsonl", "A"),
        "b": write_predictions(tmp_path / "b.jsonl", "B"),
    }


def export_cli(systems, out, *extra):
    argv = ["humaneval", "export", "--out", str(out), "--n", "3", *extra]
    for name, path in systems.items():
        argv += ["--system", name, str(path)]
    return main(argv)


def fill_in(form_csv, path, *, separator=",", bom=False, value="Yes"):
    """A rater's sheet made from form.csv, every answer ``value``, saved as a spreadsheet
    would (Excel: a BOM and, in some locales, ';' between cells)."""
    rows = [row for _, row in read_rows(form_csv)]
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle, delimiter=separator)
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow([*list(row.values())[:4], value, value, value])
    return path


def test_an_export_is_not_replaced_without_overwrite(tmp_path, systems, capsys):
    out = tmp_path / "form"
    assert export_cli(systems, out, "--seed", "1") == 0
    before = {name: (out / name).read_bytes() for name in ("form.csv", "form.html", "key.json")}
    capsys.readouterr()

    assert export_cli(systems, out, "--seed", "2") == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and err.count("\n") == 1
    assert {name: (out / name).read_bytes() for name in before} == before

    assert export_cli(systems, out, "--seed", "2", "--overwrite") == 0
    assert (out / "key.json").read_bytes() != before["key.json"]
    assert not list(out.glob(f"{TEMP_PREFIX}*"))


def test_a_sheet_of_a_replaced_export_is_refused_not_scored(tmp_path, systems, capsys):
    out = tmp_path / "form"
    assert export_cli(systems, out, "--seed", "1") == 0
    old_sheet = fill_in(out / "form.csv", tmp_path / "r1.csv")
    assert export_cli(systems, out, "--seed", "2", "--overwrite") == 0
    with pytest.raises(HumanEvalError, match="unknown item .* a sheet from another export"):
        read_answers(old_sheet, read_key(out / "key.json"))


def test_the_same_form_gets_the_same_item_names(tmp_path, systems):
    first = export_forms(systems, tmp_path / "one", n=3, seed=5)
    second = export_forms(systems, tmp_path / "two", n=3, seed=5)
    assert first.paths["key"].read_text() == second.paths["key"].read_text()


def test_a_failed_write_leaves_the_earlier_export_whole(tmp_path, systems, monkeypatch):
    out = tmp_path / "form"
    export_forms(systems, out, n=3, seed=1)
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    real_open = kit.atomic_open

    @contextmanager
    def full_disk_on_the_form(path, *args, **kwargs):
        with real_open(path, *args, **kwargs) as handle:
            if path.name == "form.csv":
                raise OSError(errno.ENOSPC, "No space left on device")
            yield handle

    monkeypatch.setattr(kit, "atomic_open", full_disk_on_the_form)
    with pytest.raises(OSError, match="cannot write .*form.csv: no space left"):
        export_forms(systems, out, n=3, seed=2, overwrite=True)
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_form_cells_that_are_formulas_are_neutralised_and_read_back(tmp_path):
    formula = '=HYPERLINK("http://evil.example","click")'
    systems = {
        "a": write_predictions(tmp_path / "a.jsonl", "A", question=formula),
        "b": write_predictions(tmp_path / "b.jsonl", "B", question="-1 + 2?"),
    }
    export = export_forms(systems, tmp_path / "form", n=2, include_gold=False)
    with export.paths["csv"].open(newline="", encoding="utf-8") as handle:
        raw = {row["question"] for row in csv.DictReader(handle)}
    assert raw == {"'" + formula, "'-1 + 2?"}
    assert {row["question"] for _, row in read_rows(export.paths["csv"])} == {formula, "-1 + 2?"}


@pytest.mark.parametrize(
    ("separator", "bom"), [(",", True), (";", True), (";", False), ("\t", False)]
)
def test_a_sheet_saved_by_excel_scores_as_the_original(tmp_path, systems, separator, bom):
    export = export_forms(systems, tmp_path / "form", n=3, seed=1)
    key = read_key(export.paths["key"])
    plain = read_answers(fill_in(export.paths["csv"], tmp_path / "plain.csv", value="No"), key)
    excel = fill_in(
        export.paths["csv"], tmp_path / "excel.csv", separator=separator, bom=bom, value="No"
    )
    assert read_answers(excel, key) == plain
    assert set(plain) == set(key["items"])


def test_export_says_what_it_sampled_and_left_out(tmp_path):
    systems = {
        "a": write_predictions(tmp_path / "a.jsonl", "A", count=5),
        "b": write_predictions(tmp_path / "b.jsonl", "B", count=3),
    }
    export = export_forms(systems, tmp_path / "form", n=10)
    assert export.lines() == [
        "3 examples sampled of 3 that every system predicted: 9 items (a + b + gold)",
        "asked for 10 examples, only 3 are shared",
        "2 examples predicted by only some systems left out",
    ]
