"""Atomic writes: whole or not at all, beside the target, never through a link; outputs
that are inputs or that exist are refused."""

from __future__ import annotations

import errno
import os

import pytest

from qapgen.atomic_files import (
    TEMP_PREFIX,
    FileWriteError,
    OutputExistsError,
    OutputIsInputError,
    atomic_folder,
    atomic_open,
    atomic_write_text,
    check_output,
    remove_stale_temporaries,
)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic_open(target) as handle:
            handle.write("new, but only half")
            raise RuntimeError("half-way")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_a_full_disk_is_one_error_naming_the_file(tmp_path, monkeypatch):
    target = tmp_path / "table.md"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileWriteError) as failure:
        atomic_write_text(target, "x" * 1000)
    assert (
        str(failure.value) == f"cannot write {target}: no space left on device; nothing was changed"
    )
    assert failure.value.errno == errno.ENOSPC
    assert not target.exists() and os.listdir(tmp_path) == []


def test_a_read_only_folder_is_one_error_naming_the_file(tmp_path, monkeypatch):
    import tempfile

    def read_only(*args, **kwargs):  # root writes anywhere: the filesystem says no instead
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(
        FileWriteError, match=r"cannot write .*out\.txt: .*read-only or not writable"
    ):
        atomic_write_text(tmp_path / "out.txt", "x")
    assert not (tmp_path / "out.txt").exists()


def test_the_rename_replaces_a_link_instead_of_writing_through_it(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("the user's file")
    link = tmp_path / "out" / "README.md"
    link.parent.mkdir()
    link.symlink_to(outside)
    atomic_write_text(link, "card")
    assert outside.read_text() == "the user's file"
    assert not link.is_symlink() and link.read_text() == "card"


def test_a_folder_is_replaced_whole_once_complete(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "stale.txt").write_text("from an older export")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as staging:
            (staging / "model.safetensors").write_bytes(b"1")
            raise RuntimeError("failed half-way")
    assert sorted(os.listdir(target)) == ["stale.txt"]
    with atomic_folder(target) as staging:
        (staging / "model.safetensors").write_bytes(b"1")
    assert sorted(os.listdir(target)) == ["model.safetensors"]
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_existing_outputs_need_overwrite_and_inputs_are_never_outputs(tmp_path):
    source = tmp_path / "doc.txt"
    source.write_text("text")
    with pytest.raises(OutputIsInputError, match="is also an input"):
        check_output(source, overwrite=True, inputs=[source])
    with pytest.raises(OutputIsInputError, match="holds an input"):
        check_output(tmp_path, overwrite=True, inputs=[source])
    with pytest.raises(OutputExistsError, match="--overwrite"):
        check_output(source, overwrite=False)
    assert check_output(source, overwrite=True) == source
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_output(empty, overwrite=False) == empty  # an empty folder is a fine target
    assert check_output(tmp_path / "new.jsonl", overwrite=False) == tmp_path / "new.jsonl"


def test_leftovers_of_killed_writers_are_recognised_and_removed(tmp_path):
    (tmp_path / f"{TEMP_PREFIX}last.ckpt-abc").write_bytes(b"partial")
    (tmp_path / f"{TEMP_PREFIX}export-def").mkdir()
    (tmp_path / "last.ckpt").write_bytes(b"whole")
    removed = remove_stale_temporaries(tmp_path)
    assert len(removed) == 2 and os.listdir(tmp_path) == ["last.ckpt"]


def test_a_checkpoint_save_clears_what_a_killed_save_of_it_left(tmp_path):
    import torch

    from qapgen.checkpoint_io import AtomicCheckpointIO

    (tmp_path / f"{TEMP_PREFIX}last.ckpt-killed").write_bytes(b"partial")
    (tmp_path / f"{TEMP_PREFIX}other.ckpt-busy").write_bytes(b"another target's")
    AtomicCheckpointIO().save_checkpoint({"global_step": 3}, tmp_path / "last.ckpt")
    assert sorted(os.listdir(tmp_path)) == [f"{TEMP_PREFIX}other.ckpt-busy", "last.ckpt"]
    assert AtomicCheckpointIO().load_checkpoint(tmp_path / "last.ckpt") == {"global_step": 3}
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["global_step"] == 3
