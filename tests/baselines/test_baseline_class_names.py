"""One class-name pattern across the zoo (``<Model>Module``), with the names the T5 baselines
had before the rename still importable and loadable from stored checkpoints."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
import yaml

from qapgen.export import load_model
from qapgen.models.base import QAPModule
from zoo_testing import CONF, save_bare_checkpoint, tiny_model

RENAMED = {
    "baselines.t5_qg": ("T5QG", "T5QGModule"),
    "baselines.t5_qa": ("T5QA", "T5QAModule"),
    "baselines.t5_a2qg": ("T5A2QG", "T5A2QGModule"),
    "baselines.t5_e2e": ("T5E2E", "T5E2EModule"),
    "baselines.t5_mpqg": ("T5MPQG", "T5MPQGModule"),
    "baselines.qa2qg": ("QA2QG", "QA2QGModule"),
}


@pytest.mark.parametrize(
    "model_yaml", sorted((CONF / "model").glob("*.yaml")), ids=lambda p: p.stem
)
def test_every_model_config_names_a_module_class(model_yaml):
    class_path = yaml.safe_load(model_yaml.read_text())["model"]["class_path"]
    module_name, _, class_name = class_path.rpartition(".")
    assert class_name.endswith("Module"), class_path
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, QAPModule) and cls.__name__ == class_name


@pytest.mark.parametrize("module_name", sorted(RENAMED))
def test_the_old_class_name_is_the_same_class(module_name):
    old, new = RENAMED[module_name]
    module = importlib.import_module(module_name)
    assert getattr(module, old) is getattr(module, new)


def test_a_checkpoint_that_names_the_old_class_loads(fixture_tokenizer, tmp_path: Path):
    model = tiny_model(importlib.import_module("baselines.t5_qg").T5QGModule, fixture_tokenizer)
    checkpoint = save_bare_checkpoint(model, fixture_tokenizer, "baselines.t5_qg.T5QG", tmp_path)

    loaded = load_model(checkpoint)

    assert type(loaded.model).__name__ == "T5QGModule"
    assert loaded.class_path == "baselines.t5_qg.T5QG"
    for name, weight in model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], weight)
