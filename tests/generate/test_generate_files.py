"""What generate reads and writes under hostile use: folders holding things that are not
text, text in an old Windows encoding, JSONL nested to exhaustion, and CSV output that a
spreadsheet would run as formulas."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from qapgen.cli.main import main
from qapgen.generate import InputError, read_documents
from qapgen.generate.readers import (
    BROKEN_LINK,
    LINK_OUT,
    LINK_TO_FOLDER,
    NOT_TEXT,
    NOT_TXT,
    SPECIAL,
    UNREADABLE,
    ReadReport,
    decode_text,
    folder_files,
    parse_jsonl,
)
from qapgen.spreadsheet import read_rows

TEXT = "Paris is in France.\n"


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A folder with two readable texts and one of every entry that must be skipped."""
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside.txt").write_text("a private note\n")
    (folder / "a.txt").write_text(TEXT)
    (folder / "sub" / "B.TXT").write_text(TEXT)
    (folder / "notes.pdf").write_bytes(b"%PDF")
    (folder / "gone.txt").symlink_to("removed.txt")
    (folder / "private.txt").symlink_to(tmp_path / "outside.txt")
    (folder / "elsewhere").symlink_to(tmp_path / "outside")
    (folder / "again").symlink_to("sub")
    (folder / "pipe.txt").symlink_to("sub/fifo.txt")
    os.mkfifo(folder / "sub" / "fifo.txt")
    return folder


def test_a_folder_lists_its_txt_files_and_counts_every_entry_left_out(corpus):
    skipped = Counter()
    files = folder_files(corpus, skipped)
    assert [f.relative_to(corpus).as_posix() for f in files] == ["a.txt", "sub/B.TXT"]
    assert skipped == {
        NOT_TXT: 1,
        BROKEN_LINK: 1,
        LINK_OUT: 2,  # a file and a folder outside
        LINK_TO_FOLDER: 1,
        SPECIAL: 2,  # the FIFO, and the link to it
    }


def test_unreadable_binary_and_empty_files_in_a_folder_are_counted_not_fatal(tmp_path, monkeypatch):
    folder = tmp_path / "texts"
    folder.mkdir()
    for name, data in {
        "a.txt": TEXT.encode(),
        "empty.txt": b"",
        "blank.txt": b" \n\t",
        "photo.txt": bytes(range(256)) * 4,
        "locked.txt": TEXT.encode(),
    }.items():
        (folder / name).write_bytes(data)
    read_bytes = Path.read_bytes

    def locked(path):
        if path.name == "locked.txt":  # the tests may run as root, for whom chmod is no lock
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", locked)
    report = ReadReport()
    documents = list(read_documents(folder, report=report))
    assert [d.id for d in documents] == ["a.txt"]
    assert report.empty_documents == 2
    assert report.skipped == {NOT_TEXT: 1, UNREADABLE: 1}


def test_a_single_unreadable_file_is_one_error(tmp_path, monkeypatch):
    path = tmp_path / "locked.txt"
    path.write_text(TEXT)

    def locked(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", locked)
    with pytest.raises(InputError, match=r"locked\.txt: cannot read \(Permission denied\)"):
        list(read_documents(path))


def test_windows_1252_text_is_read_as_such_and_counted():
    text = "The caf\u00e9 \u2013 \u201cLe Proc\u00e8s\u201d \u2013 costs 5\u20ac.\n"
    report = ReadReport()
    assert decode_text(text.encode("cp1252"), "x", report) == text
    assert report.windows_1252_documents == 1 and report.undecodable_bytes == 0


def test_damaged_utf8_keeps_its_good_characters_and_counts_the_bad_bytes():
    report = ReadReport()
    decoded = decode_text("Caf\u00e9 culture in Paris: ".encode() + b"\xe9t\xe9", "x", report)
    assert decoded == "Caf\u00e9 culture in Paris: \ufffdt\ufffd"
    assert report.undecodable_bytes == 2 and report.windows_1252_documents == 0


def test_control_characters_are_not_taken_for_windows_1252():
    report = ReadReport()
    decoded = decode_text(b"\x01\x02\x03\xe9 text \x1b[0m" * 50, "x", report)
    assert "\ufffd" in decoded
    assert report.windows_1252_documents == 0 and report.undecodable_bytes == 50


def test_jsonl_nested_beyond_the_recursion_limit_is_an_input_error():
    line = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InputError, match=r"x\.jsonl, line 2: not readable JSON: nested deeper"):
        list(parse_jsonl('{"text": "ok"}\n' + line, "x.jsonl"))


def test_csv_output_neutralises_formulas_and_reads_back_as_written(
    capsys, exported_model, tmp_path
):
    source = tmp_path / "docs.jsonl"
    formula = '=HYPERLINK("http://evil.example","click")'
    source.write_text(
        json.dumps({"id": formula, "text": "The Normans gave their name to Normandy."}) + "\n"
    )
    output = tmp_path / "pairs.csv"
    argv = ["generate", "--no-progress", "--model", str(exported_model), "--input", str(source)]
    assert main([*argv, "--format", "csv", "--output", str(output)]) == 0, capsys.readouterr()
    raw = output.read_text(encoding="utf-8")
    assert f"'{formula}".replace('"', '""') in raw
    rows = [row for _, row in read_rows(output)]
    assert rows and {row["document"] for row in rows} == {formula}


def test_an_existing_output_is_replaced_only_with_overwrite(capsys, exported_model, tmp_path):
    source = tmp_path / "doc.txt"
    source.write_text("The Normans gave their name to Normandy.\n")
    output = tmp_path / "pairs.jsonl"
    output.write_text("mine\n")
    argv = ["generate", "--no-progress", "--model", str(exported_model), "--input", str(source)]
    assert main([*argv, "--output", str(output)]) == 1
    assert "already exists" in capsys.readouterr().err and output.read_text() == "mine\n"
    assert main([*argv, "--output", str(output), "--overwrite"]) == 0
    assert output.read_text() != "mine\n"
    assert main(argv) == 0 and capsys.readouterr().out  # stdout still streams
