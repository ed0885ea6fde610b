"""Baselines whose losses cannot be balanced refuse ``loss_balancing`` other than ``model``
with a clear ValueError, by the time the model is configured (before any training step)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from baselines.qa2qg import QA2QGModule
from baselines.t5_a2qg import T5A2QGModule
from baselines.t5_e2e import T5E2EModule
from baselines.t5_mpqg import T5MPQGModule
from qapgen.models.base import Vocabulary

# Ids need only fit the vocabulary: no text is encoded here.
VOCAB = asdict(Vocabulary(64, 0, 1, 2, 3))

# T5-E2E: one sequence, no per-task losses; T5-A2QG: two stages with no shared parameters;
# QA2QG: three task losses; T5-MPQG: its phase schedule decides which loss is optimised.
UNBALANCEABLE = [T5E2EModule, T5A2QGModule, QA2QGModule, T5MPQGModule]


def construct_and_configure(model_class, **kwargs):
    model = model_class(backbone_size="tiny", meteor="none", vocab=VOCAB, **kwargs)
    model.configure_model()
    return model


@pytest.mark.parametrize("model_class", UNBALANCEABLE, ids=lambda c: c.__name__)
@pytest.mark.parametrize("balancing", ["fixed", "uncertainty", "gradnorm"])
def test_refuses_loss_balancing_with_a_clear_error(model_class, balancing):
    with pytest.raises(ValueError, match=r"loss_balancing must be 'model'"):
        construct_and_configure(model_class, loss_balancing=balancing)


@pytest.mark.parametrize("model_class", UNBALANCEABLE, ids=lambda c: c.__name__)
def test_configures_with_the_models_own_combination(model_class):
    model = construct_and_configure(model_class, loss_balancing="model")
    assert model.balancer is not None
