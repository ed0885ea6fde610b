"""The prepared-data and tokenizer caches: written whole, checked on read, rebuilt when
corrupt with one line on stderr."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qapgen.atomic_files import TEMP_PREFIX
from qapgen.data.cache import TOKENIZER_MANIFEST
from qapgen.data.datamodule import QAPDataModule
from qapgen.data.fixtures import fixture_path
from qapgen.data.prepare import load_prepared, prepare

WARNING = r"^qapgen: warning: {what} cache entry (?P<entry>\S+) is corrupt \((?P<why>.+)\); rebuilding it$"


def only_entry(folder: Path) -> Path:
    (entry,) = [p for p in folder.iterdir() if not p.name.startswith(TEMP_PREFIX)]
    return entry


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def keep_ten_rows(path: Path) -> None:
    pq.write_table(pq.read_table(path).slice(0, 10), path)


def shout_questions(path: Path) -> None:
    """Rewrite a split as a valid parquet file of as many rows, with other questions."""
    table = pq.read_table(path)
    index = table.schema.get_field_index("question")
    shouted = pa.array([q.upper() for q in table.column("question").to_pylist()])
    pq.write_table(table.set_column(index, "question", shouted), path)


def replace_with_a_file(entry: Path) -> None:
    shutil.rmtree(entry)
    entry.write_text("not a cache entry")


def break_record_of_rows(entry: Path) -> None:
    meta = json.loads((entry / "meta.json").read_text())
    meta["splits"]["train"]["rows"] = "many"
    (entry / "meta.json").write_text(json.dumps(meta))


CORRUPTIONS = {
    "truncated-parquet": (lambda e: truncate(e / "train.parquet"), "train.parquet is not a readable parquet"),
    "empty-meta": (lambda e: (e / "meta.json").write_text(""), "meta.json is not valid JSON"),
    "invalid-meta": (lambda e: (e / "meta.json").write_text("{\"dataset\": "), "meta.json is not valid JSON"),
    "meta-not-an-object": (lambda e: (e / "meta.json").write_text("[]"), "meta.json is not a JSON object"),
    "meta-without-row-counts": (break_record_of_rows, "no row count for train.parquet"),
    "missing-meta": (lambda e: (e / "meta.json").unlink(), "meta.json is missing"),
    "missing-split": (lambda e: (e / "test.parquet").unlink(), "test.parquet is missing"),
    "ten-of-the-rows": (lambda e: keep_ten_rows(e / "train.parquet"), r"train.parquet holds 10 rows, meta.json records \d+"),
    "same-rows-other-text": (lambda e: shout_questions(e / "val.parquet"), "val.parquet does not match its recorded sha256"),
    "a-file-in-its-place": (replace_with_a_file, "it is not a folder"),
}  # fmt: skip


@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_a_corrupt_prepared_entry_is_rebuilt_with_one_line(corruption, isolated_cache, capsys):
    first = prepare("squad", fixture_path("squad"))
    entry = only_entry(isolated_cache / "prepared")
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["splits"]["train"]["rows"] == len(first.splits["train"]) > 10
    damage, why = CORRUPTIONS[corruption]
    damage(entry)
    capsys.readouterr()

    again = prepare("squad", fixture_path("squad"))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    warning = re.match(WARNING.format(what="prepared-data"), lines[0])
    assert warning and warning["entry"] == str(entry) and re.search(why, warning["why"])
    assert {n: [r.to_dict() for r in s] for n, s in again.splits.items()} == {
        n: [r.to_dict() for r in s] for n, s in first.splits.items()
    }
    assert load_prepared(entry).dropped == first.dropped  # the entry is whole again
    assert only_entry(isolated_cache / "prepared") == entry
    prepare("squad", fixture_path("squad"))
    assert capsys.readouterr().err == ""


def test_a_failed_write_leaves_no_entry(isolated_cache, monkeypatch):
    calls = []

    def fail_on_the_second(table, where, **kwargs):
        calls.append(where)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return original(table, where, **kwargs)

    original = pq.write_table
    monkeypatch.setattr(pq, "write_table", fail_on_the_second)
    with pytest.raises(OSError, match="no space left on device; nothing was changed"):
        prepare("squad", fixture_path("squad"))
    assert list((isolated_cache / "prepared").iterdir()) == []


def tokenizer_module(cache: Path) -> QAPDataModule:
    module = QAPDataModule(
        dataset="squad", path="fixtures", tokenizer="words", tokenizer_vocab_size=300,
        cache_dir=str(cache),
    )  # fmt: skip
    module.prepare_data()
    return module


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda folder: truncate(folder / "tokenizer.json"), "tokenizer.json does not match"),
        (lambda folder: (folder / "tokenizer.json").unlink(), "tokenizer.json is missing"),
        (lambda folder: (folder / TOKENIZER_MANIFEST).unlink(), f"{TOKENIZER_MANIFEST} is missing"),
    ],
    ids=["broken-tokenizer-json", "missing-tokenizer-json", "no-manifest"],
)
def test_a_corrupt_tokenizer_entry_is_rebuilt_with_one_line(damage, why, tmp_path, capsys):
    first = tokenizer_module(tmp_path / "cache").tokenizer
    folder = only_entry(tmp_path / "cache" / "tokenizers")
    assert first.name_or_path == str(folder)  # where it lives, not where it was built
    damage(folder)
    capsys.readouterr()

    again = tokenizer_module(tmp_path / "cache").tokenizer
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and f"tokenizer cache entry {folder} is corrupt ({why}" in lines[0]
    assert lines[0].endswith("; rebuilding it")
    text = "Who ran the mill for forty years?"
    assert again(text).input_ids == first(text).input_ids
    tokenizer_module(tmp_path / "cache")
    assert capsys.readouterr().err == ""
