"""Hostile cases for the sweep (``python -m experiments.sweep``, behind ``make
reproduce-*``): bad arguments, damaged records and checkpoints, a second sweep at once."""

from __future__ import annotations

import fcntl
import io
import json
import shutil
from pathlib import Path

import torch
import yaml
from hostile.corpus import Case
from hostile.faults import disk_full_at_checkpoint_save

REPOSITORY = Path(__file__).resolve().parents[2]
CELL = "results/tiny/squad/t5_qg/seed0"
# Four steps of a tiny T5-QG on eight fixture examples, checkpointing every two.
TINY_PROFILE = {
    "seed_everything": 0,
    "test_after_fit": True,
    "trainer": {
        "accelerator": "cpu",
        "devices": 1,
        "max_steps": 4,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "callbacks": [
            {
                "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                "init_args": {"save_last": True, "save_top_k": 0, "every_n_train_steps": 2},
            }
        ],
    },
    "data": {
        "path": "fixtures",
        "tokenizer": "train",
        "tokenizer_vocab_size": 400,
        "batch_size": 8,
        "eval_batch_size": 16,
        "limit_examples": 8,
    },
    "model": {"init_args": {"backbone_size": "tiny", "num_beams": 1, "meteor": "none"}},
}
SWEEP = ("table2", "--profile", "tiny", "--datasets", "squad", "--models", "t5_qg",
         "--conf-dir", "conf", "--results-dir", "results")  # fmt: skip

# Locks held for the rest of the session by the case that needs a sweep already running
# (flock conflicts between two open files, even in one process).
_held_locks: list[io.TextIOWrapper] = []


def tiny_conf(path: Path) -> None:
    shutil.copytree(REPOSITORY / "conf", path)
    (path / "profile" / "tiny.yaml").write_text(yaml.safe_dump(TINY_PROFILE))


def truncated_last_checkpoint(path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"global_step": 2, "state_dict": {"w": torch.zeros(1000)}}, buffer)
    path.write_bytes(buffer.getvalue()[:700])


def finished_record(path: Path) -> None:
    record = {"dataset": "squad", "model": "t5_qg", "seed": 0, "metrics": {}, "floors": {}}
    path.write_text(json.dumps(record)[:40])  # cut short, as a kill or a full disk leaves it


def lock_held_by_another_sweep(path: Path) -> None:
    handle = path.open("a+")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write("pid 12345 on another-host, since 10:00:00")
    handle.flush()
    _held_locks.append(handle)


def first_checkpoint_whole(folder: Path, out: str, err: str) -> None:
    """The step-2 checkpoint survived the failed step-4 write whole, with nothing beside it."""
    (last,) = (folder / CELL).glob("run/**/checkpoints/last.ckpt")
    assert torch.load(last, weights_only=True)["global_step"] == 2
    assert not list((folder / CELL).rglob(".qapgen-tmp-*"))


def cases() -> list[Case]:
    resume = (
        "a truncated `last.ckpt` or cell `metrics.json`: every later rerun of the cell fails on it"
    )
    return [
        Case(
            "sweep/unknown-table",
            ("table9",),
            entry="sweep",
            exit_code=2,
            message=r"invalid choice: 'table9'",
            issue="tracebacks instead of one line",
        ),
        Case(
            "sweep/seeds-that-are-not-numbers",
            ("table2", "--seeds", "one,two", "--dry-run"),
            entry="sweep",
            exit_code=2,
            message=r"comma list of int values, got 'one,two'",
            issue="tracebacks instead of one line",
        ),
        Case(
            "sweep/no-matching-cells",
            ("table2", "--models", "no_such_model", "--dry-run"),
            entry="sweep",
            exit_code=2,
            message=r"no cells of table2 match",
            issue="every failure is one line",
        ),
        Case(
            "sweep/unknown-profile",
            ("table2", "--profile", "no-such-profile"),
            entry="sweep",
            exit_code=2,
            message=r"no profile .*no-such-profile\.yaml",
            issue="every failure is one line",
        ),
        Case(
            "sweep/override-without-a-value",
            ("table2", "--set", "trainer.max_steps", "--dry-run"),
            entry="sweep",
            exit_code=2,
            message=r"--set wants KEY=VALUE, got 'trainer\.max_steps'",
            issue="silent acceptance",
        ),
        Case(
            "sweep/a-second-sweep-on-the-same-results",
            SWEEP,
            {"conf": tiny_conf, "results/tiny/.sweep.lock": lock_held_by_another_sweep},
            entry="sweep",
            exit_code=2,
            message=r"\.sweep\.lock is held by a running sweep \(pid 12345 on another-host",
            absent=(CELL,),
            issue="two sweeps on one results folder both train the same cell with no lock or warning",
        ),
        Case(
            "sweep/disk-full-during-a-checkpoint-write",
            SWEEP,
            {"conf": tiny_conf},
            entry="sweep",
            exit_code=1,
            message=r"cell failed: cannot write \S+/last\.ckpt: no space left on device",
            fault=disk_full_at_checkpoint_save(2),
            check=first_checkpoint_whole,
            issue="on a full disk, `last.ckpt` is left partial and every later rerun of the cell fails on it",
        ),
        Case(
            "sweep/damaged-metrics-when-rendering",
            (*SWEEP, "--render-only"),
            {"conf": tiny_conf, f"{CELL}/metrics.json": finished_record},
            entry="sweep",
            exit_code=0,
            reports=(r"metrics\.json is damaged",),
            unchanged=(f"{CELL}/metrics.json",),
            issue="a truncated cell `metrics.json` makes the table rendering crash",
        ),
        Case(
            "sweep/damaged-metrics-and-checkpoint-rerun",
            SWEEP,
            {
                "conf": tiny_conf,
                f"{CELL}/metrics.json": finished_record,
                f"{CELL}/run/lightning_logs/version_0/checkpoints/last.ckpt": truncated_last_checkpoint,
            },
            entry="sweep",
            exit_code=0,
            reports=(
                r"metrics\.json: not valid JSON .*moved aside to metrics\.json\.corrupt, rerunning",
                r"last\.ckpt: not a readable checkpoint.*moved aside to last\.ckpt\.corrupt",
            ),
            check=lambda folder, out, err: json.loads((folder / CELL / "metrics.json").read_text()),
            issue=resume,
        ),
    ]
