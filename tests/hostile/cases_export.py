"""Hostile cases for ``qapgen export`` and for loading a model: code in a checkpoint's
pickle, damaged checkpoints and exports, untrusted class paths, outputs over user files."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import torch
from hostile.corpus import Case
from hostile.faults import disk_full_at

PAYLOAD_MARKER = "payload-ran"


class _RunsAShellCommand:
    """Pickles as a call to os.system: what a malicious checkpoint holds."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def malicious_checkpoint(path: Path) -> None:
    """A checkpoint whose unpickling would create PAYLOAD_MARKER beside it."""
    payload = _RunsAShellCommand(path.parent / PAYLOAD_MARKER)
    torch.save({"state_dict": {}, "hyper_parameters": {"x": payload}}, path)


def truncated_checkpoint(path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, buffer)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def zip_that_is_not_a_checkpoint(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a checkpoint")


def export_folder_naming(class_path: str):
    def write(path: Path) -> None:
        path.mkdir()
        config = {
            "format": "qapgen-export",
            "version": 1,
            "class_path": class_path,
            "hparams": {"vocab": {"tokenizer": "tokenizer", "size": 10}},
        }
        (path / "config.json").write_text(json.dumps(config))

    return write


USER_README = "# my notes\n"


def _only(folder: Path, names: list[str]) -> None:
    """The case folder holds exactly ``names`` (no temporary left beside them)."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def cases() -> list[Case]:
    code = "`qapgen generate --model x.ckpt` and `qapgen export x.ckpt out` run a pickle's payload"
    return [
        Case(
            "export/malicious-checkpoint",
            ("export", "evil.ckpt", "out"),
            {"evil.ckpt": malicious_checkpoint},
            message=r"evil\.ckpt: refused: the checkpoint asks to run posix\.system",
            absent=(PAYLOAD_MARKER, "out"),
            issue=code,
        ),
        Case(
            "export/generate-with-malicious-checkpoint",
            ("generate", "--model", "evil.ckpt", "--input", "doc.txt", "--no-progress"),
            {"evil.ckpt": malicious_checkpoint, "doc.txt": "Paris is in France."},
            message=r"refused: the checkpoint asks to run posix\.system",
            absent=(PAYLOAD_MARKER,),
            issue=code,
        ),
        Case(
            "export/truncated-checkpoint",
            ("export", "half.ckpt", "out"),
            {"half.ckpt": truncated_checkpoint},
            message=r"half\.ckpt: not a readable checkpoint",
            absent=("out",),
            issue="a truncated last.ckpt gives a traceback",
        ),
        Case(
            "export/empty-checkpoint",
            ("export", "empty.ckpt", "out"),
            {"empty.ckpt": b""},
            message=r"empty\.ckpt: not a readable checkpoint",
            absent=("out",),
            issue="a truncated last.ckpt gives a traceback",
        ),
        Case(
            "export/zip-that-is-not-a-checkpoint",
            ("export", "other.ckpt", "out"),
            {"other.ckpt": zip_that_is_not_a_checkpoint},
            message=r"other\.ckpt: not a readable checkpoint",
            absent=("out",),
            issue="a truncated last.ckpt gives a traceback",
        ),
        Case(
            "export/missing-checkpoint",
            ("export", "nothing.ckpt", "out"),
            message=r"nothing\.ckpt: no such checkpoint file",
            absent=("out",),
            issue="missing file: one line",
        ),
        Case(
            "export/over-a-users-folder",
            ("export", "{checkpoint}", "mine"),
            {"mine/README.md": USER_README, "mine/config.json": "{}"},
            message=r"export folder mine already exists .*--overwrite",
            unchanged=("mine/README.md", "mine/config.json"),
            issue="`export` into an existing folder replaces the user's README.md and config.json",
        ),
        Case(
            "export/through-a-link-out-of-the-folder",
            ("export", "{checkpoint}", "out", "--overwrite"),
            {
                "elsewhere/README.md": USER_README,
                "out/README.md": lambda path: path.symlink_to(
                    path.parent.parent / "elsewhere/README.md"
                ),
            },
            exit_code=0,
            unchanged=("elsewhere/README.md",),
            issue="`export` ... following symlinks",
        ),
        Case(
            "export/into-the-checkpoint-folder",
            ("export", "run/last.ckpt", "run", "--overwrite"),
            {"run/last.ckpt": lambda path: path.write_bytes(b"\x00")},
            exit_code=1,
            message=r"export folder run holds an input",
            unchanged=("run/last.ckpt",),
            issue="output paths equal to an input are refused",
        ),
        Case(
            "export/disk-full",
            ("export", "{checkpoint}", "mine", "--overwrite"),
            {"mine/README.md": USER_README},
            message=r"cannot write mine\S*: no space left on device; nothing was changed",
            unchanged=("mine/README.md",),
            fault=disk_full_at("qapgen.export.save_safetensors_model"),
            check=lambda folder, out, err: _only(folder, ["mine"]),
            issue="every write is atomic: on a full disk the old export stays whole",
        ),
        Case(
            "export/generate-with-an-untrusted-class-path",
            ("generate", "--model", "model", "--input", "doc.txt", "--no-progress"),
            {"model": export_folder_naming("this.Model"), "doc.txt": "Paris is in France."},
            message=r"class path 'this\.Model' is outside .* refused before importing it",
            issue="a class_path outside the project is imported before the subclass check",
        ),
        Case(
            "export/generate-with-a-broken-export-config",
            ("generate", "--model", "model", "--input", "doc.txt", "--no-progress"),
            {"model/config.json": '{"format": "qapgen-export", ', "doc.txt": "Paris is in France."},
            message=r"config\.json: not valid JSON",
            issue="tracebacks instead of one line",
        ),
    ]
