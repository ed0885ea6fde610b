"""Inputs for the generation tests (the trained model is ``overfit_checkpoint`` in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def article(tmp_path) -> Path:
    """A plain-text article: two paragraphs, five sentences, a blank line between."""
    path = tmp_path / "article.txt"
    path.write_text(
        "The Normans gave their name to Normandy, a region in France. They were descended "
        "from Norse raiders.\n\nThe Amazon rainforest covers much of the Amazon basin. "
        "Nine nations share the basin. Brazil holds the largest part.\n",
        encoding="utf-8",
    )
    return path
