"""The trained model the corpus cases that need one use: the session's overfit checkpoint
(tests/conftest.py) and its export, under the names the cases' placeholders give."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hostile_checkpoint(overfit_checkpoint) -> Path:
    return overfit_checkpoint


@pytest.fixture(scope="session")
def hostile_model(exported_model) -> Path:
    return exported_model
