"""A copy of conf/ with a tiny CPU profile on the fixtures, for sweep-style runs in tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

TINY_PROFILE = """
seed_everything: 0
test_after_fit: true
trainer:
  accelerator: cpu
  devices: 1
  max_steps: 8
  check_val_every_n_epoch: 1
  log_every_n_steps: 1
  enable_progress_bar: false
  enable_model_summary: false
  callbacks:
    - class_path: lightning.pytorch.callbacks.ModelCheckpoint
      init_args: {save_last: true, save_top_k: 0, every_n_train_steps: 2}
data:
  path: fixtures
  tokenizer: train
  tokenizer_vocab_size: 400
  batch_size: 8
  eval_batch_size: 16
  limit_examples: 8
model:
  init_args:
    backbone_size: tiny
    optimizer: adamw
    lr: 1.0e-3
    num_beams: 2
    meteor: none
"""


def build_tiny_conf(folder: Path, trainer: dict | None = None, model: dict | None = None) -> Path:
    """``folder/conf``: the project's conf/ plus ``profile/tiny.yaml``, the profile above with
    the given trainer and model.init_args values laid over it."""
    profile = yaml.safe_load(TINY_PROFILE)
    profile["trainer"].update(trainer or {})
    profile["model"]["init_args"].update(model or {})
    conf = folder / "conf"
    shutil.copytree(ROOT / "conf", conf)
    (conf / "profile" / "tiny.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return conf


@pytest.fixture
def tiny_conf(tmp_path):
    """Builds ``tmp_path/conf`` (see ``build_tiny_conf``)."""

    def build(trainer: dict | None = None, model: dict | None = None) -> Path:
        return build_tiny_conf(tmp_path, trainer, model)

    return build


@pytest.fixture(scope="module")
def module_tiny_conf(tmp_path_factory) -> Path:
    """The tiny profile's conf/, once per test module: for runs that several tests compare."""
    return build_tiny_conf(tmp_path_factory.mktemp("tiny"))
