"""Hostile cases for ``qapgen fit`` (the Lightning CLI): untrusted class paths, bad
settings and data, damaged or malicious checkpoints to resume from."""

from __future__ import annotations

from hostile.cases_export import PAYLOAD_MARKER, malicious_checkpoint, truncated_checkpoint
from hostile.corpus import Case
from hostile.faults import disk_full_at_checkpoint_save

OVERFIT = ("fit", "-c", "{conf}/profile/overfit.yaml", "-c", "{conf}/model/t5_qg.yaml")
QUIET = ("--trainer.default_root_dir", "run", "--wandb", "disabled")


def marker_module(path):
    """A module that, when imported, creates PAYLOAD_MARKER: what `class_path` must not import."""
    path.write_text(
        "from pathlib import Path\n"
        f"Path(__file__).with_name({PAYLOAD_MARKER!r}).write_text('imported')\n"
        "class Model:\n    pass\n"
    )


def broken_tokenizer_cache(path):
    """The tokenizer cache the overfit profile trains, with its tokenizer.json cut short."""
    from qapgen.data.datamodule import QAPDataModule

    data = QAPDataModule(
        dataset="squad", path="fixtures", tokenizer="train", tokenizer_vocab_size=600,
        limit_examples=16, cache_dir=str(path),
    )  # fmt: skip
    data.prepare_data()
    (tokenizer,) = path.glob("tokenizers/*/tokenizer.json")
    tokenizer.write_text(tokenizer.read_text()[:200])


def no_partial_checkpoint(folder, out, err) -> None:
    """Neither a partial checkpoint nor a temporary file is left, in the run or in /tmp."""
    assert not list(folder.rglob("*.ckpt")), list(folder.rglob("*.ckpt"))
    assert not list(folder.rglob(".qapgen-tmp-*"))


def cases() -> list[Case]:
    importing = "a YAML `class_path: this.Anything` imports the named module before the check"
    return [
        Case(
            "fit/yaml-class-path-outside-the-project",
            (*OVERFIT, "-c", "model.yaml", *QUIET),
            {
                "model.yaml": "model:\n  class_path: payload_module.Model\n",
                "payload_module.py": marker_module,
            },
            exit_code=2,
            message=r"model\.yaml: model\.class_path: class path 'payload_module\.Model' is outside",
            absent=(PAYLOAD_MARKER,),
            env={"PYTHONPATH": "{case}"},
            issue=importing,
        ),
        Case(
            "fit/argument-class-path-outside-the-project",
            (*OVERFIT, "--model.class_path", "this.Anything", *QUIET),
            exit_code=2,
            message=r"--model\.class_path: class path 'this\.Anything' is outside",
            issue=importing,
        ),
        Case(
            "fit/shorthand-class-path-outside-the-project",
            (*OVERFIT, "--model", "this.Anything", *QUIET),
            exit_code=2,
            message=r"Importing 'this\.Anything' is not allowed",
            issue=importing,
        ),
        Case(
            "fit/unknown-setting",
            (*OVERFIT, "--model.init_args.no_such_setting", "3", *QUIET),
            exit_code=2,
            message=r"no_such_setting",
            issue="every `qapgen fit` failure ends a 70-line traceback",
        ),
        Case(
            "fit/missing-config-file",
            ("fit", "-c", "nowhere.yaml", *QUIET),
            exit_code=2,
            message=r"nowhere\.yaml",
            issue="every `qapgen fit` failure ends a 70-line traceback",
        ),
        Case(
            "fit/missing-data-path",
            (*OVERFIT, "--data.path", "no-such-folder", *QUIET),
            message=r"no-such-folder does not exist",
            issue="every `qapgen fit` failure ends a 70-line traceback",
        ),
        Case(
            "fit/broken-tokenizer-cache",
            (
                *OVERFIT,
                *QUIET,
                "--data.cache_dir",
                "cache",
                "--trainer.max_epochs",
                "1",
                "--trainer.check_val_every_n_epoch",
                "1",
                "--model.init_args.meteor",
                "none",
            ),
            {"cache": broken_tokenizer_cache},
            exit_code=0,
            reports=(
                r"qapgen: warning: tokenizer cache entry \S+ is corrupt \(.*\); rebuilding it",
            ),
            issue="a corrupted prepared-data cache (broken `tokenizer.json`): the cache never repairs itself",
        ),  # fmt: skip
        Case(
            "fit/disk-full-during-a-checkpoint-write",
            (
                *OVERFIT,
                *QUIET,
                "--trainer.max_epochs",
                "2",
                "--trainer.check_val_every_n_epoch",
                "2",
                "--model.init_args.meteor",
                "none",
            ),
            exit_code=1,
            message=r"cannot write \S+\.ckpt: no space left on device; nothing was changed",
            fault=disk_full_at_checkpoint_save(1),
            check=no_partial_checkpoint,
            issue="on a full disk, `last.ckpt` is left partial (the temp file is written in /tmp)",
        ),  # fmt: skip
        Case(
            "fit/resume-from-a-malicious-checkpoint",
            (*OVERFIT, "--ckpt_path", "evil.ckpt", *QUIET),
            {"evil.ckpt": malicious_checkpoint},
            message=r"evil\.ckpt: refused: the checkpoint asks to run posix\.system",
            absent=(PAYLOAD_MARKER,),
            issue="checkpoints load with weights_only=True everywhere",
        ),
        Case(
            "fit/resume-from-a-truncated-checkpoint",
            (*OVERFIT, "--ckpt_path", "half.ckpt", *QUIET),
            {"half.ckpt": truncated_checkpoint},
            message=r"half\.ckpt: not a readable checkpoint",
            issue="a truncated last.ckpt: every later rerun fails on it",
        ),
    ]
