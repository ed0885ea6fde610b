"""``compile=True``: a compiled training step equals the eager one, dropout on.

Each check builds the same seeded model twice, eager and compiled, and runs both on the same
batches of two padded widths (two compiled graphs, as length buckets give) from the same
random state, so both draw the same dropout masks; the losses and every gradient must agree.
``make test`` compiles IGJA-QAP (shared and two decoders) with the ``aot_eager`` backend:
dynamo's capture and AOT autograd's forward/backward graphs, which is where stride and graph
break problems show, without code generation. The slow suite compiles every model of the zoo
with ``aot_eager`` and IGJA-QAP and T5-QG with inductor (with its RNG falling back to
torch's, so that dropout masks match; it takes minutes on 2 CPU cores).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import torch
import yaml
from torch._dynamo.utils import counters

from zoo_testing import fixture_batch, tiny_model

pytestmark = pytest.mark.compile

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
DROPOUT = 0.1
# What a model needs to run a step without a Trainer (T5-MPQG's phase length otherwise
# comes from the Trainer's step budget).
WITHOUT_TRAINER = {"t5_mpqg": {"question_phase_steps": 10}}


def model_config(name: str) -> tuple[type, dict]:
    """The LightningModule class and init_args of conf/model/NAME.yaml."""
    model = yaml.safe_load((CONF / f"{name}.yaml").read_text())["model"]
    module, _, class_name = model["class_path"].rpartition(".")
    return getattr(importlib.import_module(module), class_name), model.get("init_args") or {}


def widened(batch: dict, extra: int) -> dict:
    """``batch`` with every id tensor padded by ``extra`` more columns (a second shape)."""
    out = dict(batch)
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() == 2 and not value.is_floating_point():
            pad = -100 if key.endswith("_labels") else 0
            out[key] = torch.nn.functional.pad(value, (0, extra), value=pad)
    return out


def assert_compiled_step_equals_eager(name: str, tokenizer, backend: str) -> None:
    model_class, init_args = model_config(name)
    init_args = {k: v for k, v in init_args.items() if v is not None}
    init_args.update(dropout_rate=DROPOUT, compile_backend=backend, **WITHOUT_TRAINER.get(name, {}))
    models = [
        tiny_model(model_class, tokenizer, **init_args, compile=compiled).train()
        for compiled in (False, True)
    ]
    # IGJA-QAP packs its answers and questions only uncompiled (a data-dependent width);
    # a width of None keeps the eager step at the compiled step's padded layout.
    first = {**fixture_batch(tokenizer, models[0].data_features), "answer_question_width": None}
    counters.clear()
    for step, batch in enumerate((first, widened(first, 3))):
        losses = []
        for model in models:
            torch.manual_seed(step)  # the same dropout masks for both
            losses.append(model._training_losses(batch))
            losses[-1]["loss"].backward()
        for key, value in losses[0].items():
            torch.testing.assert_close(losses[1][key], value, msg=f"{name}: {key}")
    assert counters["stats"]["unique_graphs"] >= 1, "nothing was compiled"
    eager, compiled = models
    for (parameter, p_eager), p_compiled in zip(
        eager.named_parameters(), compiled.parameters(), strict=True
    ):
        if p_eager.grad is None:
            assert p_compiled.grad is None, parameter
            continue
        torch.testing.assert_close(p_compiled.grad, p_eager.grad, msg=f"{name}: {parameter}")


@pytest.mark.parametrize("name", ["igja_qap", "igja_qap_two_decoders"])
def test_compiled_igja_qap_with_dropout_equals_eager(name, fixture_tokenizer):
    assert_compiled_step_equals_eager(name, fixture_tokenizer, "aot_eager")


def test_igja_qap_compiles_without_graph_breaks(fixture_tokenizer):
    """One graph per shape: no break splits the step (a break between graphs is where a
    gradient's layout can differ from what the next graph's backward assumed)."""
    model_class, init_args = model_config("igja_qap")
    model = tiny_model(model_class, fixture_tokenizer, **init_args, dropout_rate=DROPOUT,
                       compile=True, compile_backend="aot_eager").train()  # fmt: skip
    counters.clear()
    model._training_losses(fixture_batch(fixture_tokenizer, model.data_features))
    assert counters["stats"]["unique_graphs"] == 1
    assert not counters["graph_break"], dict(counters["graph_break"])


ZOO = sorted(path.stem for path in CONF.glob("*.yaml"))


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if not n.startswith("igja_qap_two")])
def test_every_model_compiles_with_dropout(name, fixture_tokenizer):
    assert_compiled_step_equals_eager(name, fixture_tokenizer, "aot_eager")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["igja_qap", "t5_qg"])
def test_inductor_step_with_dropout_equals_eager(name, fixture_tokenizer):
    import torch._inductor.config as inductor_config

    with inductor_config.patch(fallback_random=True):
        assert_compiled_step_equals_eager(name, fixture_tokenizer, "inductor")
