"""CSV cells that a spreadsheet would run are written as text; sheets saved by Excel read."""

from __future__ import annotations

import csv

import pytest

from qapgen.spreadsheet import SpreadsheetError, neutralise_cell, read_rows, safe_row


@pytest.mark.parametrize("text", ["=1+1", "+1", "-2", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_starts_are_neutralised_and_restored(tmp_path, text):
    assert neutralise_cell(text) == "'" + text
    path = tmp_path / "sheet.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "question"])
        writer.writerow(safe_row(["item-1", text]))
    assert [row for _, row in read_rows(path)] == [{"item": "item-1", "question": text}]


def test_plain_text_and_numbers_are_untouched():
    assert neutralise_cell("What is 1+1?") == "What is 1+1?"
    assert neutralise_cell(3) == 3


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_excel_saved_sheets_read_with_a_bom_and_any_separator(tmp_path, separator):
    path = tmp_path / "answers.csv"
    text = separator.join(["item", "q1"]) + "\r\n" + separator.join(["item-1", "Yes"]) + "\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert list(read_rows(path)) == [(2, {"item": "item-1", "q1": "Yes"})]


def test_a_cp1252_sheet_is_one_error_naming_the_row(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_bytes("item,q1\nitem-1,caf\u00e9\n".encode("cp1252"))
    with pytest.raises(SpreadsheetError, match=r"answers\.csv row 2: not UTF-8"):
        list(read_rows(path))
