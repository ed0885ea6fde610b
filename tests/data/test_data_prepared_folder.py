"""`qapgen data prepare --out FOLDER`, and training from that folder without the sources:
the folder is checked against the request, only read, and never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qapgen.cli.main import main
from qapgen.data.datamodule import QAPDataModule
from qapgen.data.fixtures import fixture_path
from qapgen.data.prepare import (
    PreparedFolderError,
    PrepareOptions,
    is_prepared_folder,
    prepare,
)


def prepare_folder(tmp_path: Path, capsys, *flags: str) -> Path:
    """The SQuAD fixtures prepared into a new folder by `qapgen data prepare --out`."""
    out = tmp_path / "prepared" / "squad"
    argv = ["data", "prepare", "--dataset", "squad", "--path", "fixtures", "--out", str(out)]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache"), *flags]) == 0
    prepared = prepare("squad", fixture_path("squad"), use_cache=False)
    counts = ", ".join(f"{name} {len(records)}" for name, records in prepared.splits.items())
    assert capsys.readouterr().out == f"{out}: {counts}\n"
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))}


def test_the_folder_gives_the_records_the_sources_give_and_is_only_read(tmp_path, capsys):
    folder = prepare_folder(tmp_path, capsys)
    assert is_prepared_folder(folder) and is_prepared_folder(str(folder))
    assert not is_prepared_folder(fixture_path("squad"))
    assert not is_prepared_folder(folder / "meta.json")
    before = snapshot(folder)
    cache = tmp_path / "other-cache"

    loaded = prepare("squad", folder, cache_dir=cache)
    sources = prepare("squad", fixture_path("squad"), use_cache=False)
    assert loaded.splits == sources.splits
    assert (loaded.dropped, loaded.repaired) == (sources.dropped, sources.repaired)
    assert loaded.source_records == sources.source_records
    assert loaded.options == json.loads(json.dumps(sources.options))
    assert snapshot(folder) == before  # read, not rebuilt
    assert not cache.exists()  # and not copied into the cache


def test_a_data_module_trains_from_the_folder(tmp_path, capsys):
    folder = prepare_folder(tmp_path, capsys)
    module = QAPDataModule(
        dataset="squad",
        path=str(folder),
        tokenizer="train",
        tokenizer_vocab_size=600,
        batch_size=4,
        cache_dir=str(tmp_path / "cache-2"),
    )
    module.prepare_data()
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["input_ids"].shape[0] == 4
    assert len(module.prepared.splits["train"]) == 60


def test_other_options_are_refused_naming_the_folder_and_the_option(tmp_path, capsys):
    folder = prepare_folder(tmp_path, capsys)
    before = snapshot(folder)
    with pytest.raises(PreparedFolderError) as caught:
        prepare("squad", folder, PrepareOptions(segmenter="pysbd"))
    message = str(caught.value)
    assert isinstance(caught.value, ValueError) and "\n" not in message
    assert str(folder) in message
    assert "segmenter='punkt', but segmenter='pysbd' was asked for" in message
    assert "qapgen data prepare --dataset squad --path SOURCE --segmenter pysbd --out" in message

    # Through the command line: one line, exit status 1, nothing written.
    argv = ["data", "stats", "--dataset", "squad", "--path", str(folder), "--segmenter", "pysbd"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "segmenter='pysbd'" in err and str(folder) in err
    assert snapshot(folder) == before


def test_another_dataset_or_version_is_refused(tmp_path, capsys):
    folder = prepare_folder(tmp_path, capsys)
    with pytest.raises(PreparedFolderError, match=r"holds dataset 'squad', but 'coqa' was asked"):
        prepare("coqa", folder)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "version": 1}))
    with pytest.raises(PreparedFolderError, match=r"holds preparation version 1, but this qapgen"):
        prepare("squad", folder)


def test_a_tampered_folder_is_refused_and_left_as_it_is(tmp_path, capsys):
    folder = prepare_folder(tmp_path, capsys)
    train = folder / "train.parquet"
    table = pq.read_table(train)
    index = table.schema.get_field_index("question")
    shouted = pa.array([q.upper() for q in table.column("question").to_pylist()])
    pq.write_table(table.set_column(index, "question", shouted), train)
    tampered = snapshot(folder)
    with pytest.raises(PreparedFolderError) as caught:
        prepare("squad", folder)
    message = str(caught.value)
    assert message.startswith(f"prepared-data folder {folder} is corrupt (")
    assert "train.parquet does not match its recorded sha256" in message
    assert "qapgen data prepare --dataset squad" in message
    assert snapshot(folder) == tampered  # never rebuilt

    (folder / "meta.json").write_text("{")
    with pytest.raises(PreparedFolderError, match=r"is corrupt \(meta.json is"):
        prepare("squad", folder)


def test_out_onto_an_existing_path_is_refused_and_leaves_it_untouched(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    argv = ["data", "prepare", "--dataset", "squad", "--path", "fixtures", "--out", str(mine)]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and f"--out {mine} already exists" in captured.err
    assert snapshot(mine) == {"notes.txt": b"keep me"}
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # refused before preparing
