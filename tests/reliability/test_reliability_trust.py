"""Nothing qapgen loads runs code: checkpoints unpickle without code, class paths outside
the trusted packages are refused before import."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from qapgen.export import ModelLoadError, load_model
from qapgen.trust import (
    CorruptCheckpointError,
    UntrustedError,
    check_class_path,
    load_checkpoint,
)


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_whose_pickle_runs_a_command_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": Payload(marker)}}, path)
    # The control: loading it as torch used to (weights_only=False) does run the payload.
    torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UntrustedError, match=r"asks to run posix\.system"):
        load_checkpoint(path)
    with pytest.raises(ModelLoadError, match=r"asks to run posix\.system"):
        load_model(path)
    assert not marker.exists()


def test_paths_in_hyperparameters_load(tmp_path):
    path = tmp_path / "ok.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "hyper_parameters": {"dir": Path("/x")}}, path)
    assert load_checkpoint(path)["hyper_parameters"]["dir"] == Path("/x")


def test_a_truncated_checkpoint_is_corrupt_not_a_crash(tmp_path):
    path = tmp_path / "half.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(CorruptCheckpointError, match=r"half\.ckpt: not a readable checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "class_path",
    ["qapgen.models.igja_qap_module.IGJAQAPModule", "baselines.t5_qg.T5QGModule",
     "lightning.pytorch.callbacks.ModelCheckpoint", "torch.optim.AdamW"],
)  # fmt: skip
def test_trusted_class_paths_pass(class_path):
    assert check_class_path(class_path, "test") == class_path


@pytest.mark.parametrize("class_path", ["this.Anything", "os.system", "qapgenx.Model", "", "a b"])
def test_other_class_paths_are_refused_before_import(class_path):
    with pytest.raises(UntrustedError, match="test: class path"):
        check_class_path(class_path, "test")


def test_a_users_own_package_is_trusted_once_named(monkeypatch):
    with pytest.raises(UntrustedError, match="QAPGEN_TRUSTED_PACKAGES"):
        check_class_path("mylab.models.Mine", "test")
    monkeypatch.setenv("QAPGEN_TRUSTED_PACKAGES", "mylab, other")
    assert check_class_path("mylab.models.Mine", "test") == "mylab.models.Mine"
