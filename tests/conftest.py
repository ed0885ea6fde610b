"""Shared test fixtures: isolated caches, and a tokenizer trained once on the fixtures."""

from __future__ import annotations

import os

import pytest

# Tests never touch the network: a hub lookup must fail at once, not after retries.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread; more only fight each other on 2 cores."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Each test gets its own qapgen cache and no QAPGEN_DATA_DIR from the environment."""
    cache = tmp_path / "qapgen-cache"
    monkeypatch.setenv("QAPGEN_CACHE_DIR", str(cache))
    monkeypatch.delenv("QAPGEN_DATA_DIR", raising=False)
    return cache


@pytest.fixture(scope="session")
def fixture_tokenizer(tmp_path_factory):
    """A unigram tokenizer trained on the SQuAD fixtures' training split (T5 layout)."""
    from qapgen.data.datamodule import fixture_path
    from qapgen.data.prepare import prepare
    from qapgen.data.tokenizer import train_tokenizer

    cache = tmp_path_factory.mktemp("tokenizer-cache")
    prepared = prepare("squad", fixture_path("squad"), cache_dir=cache)
    texts = [t for r in prepared.splits["train"] for t in (r.context, r.question, r.answer)]
    return train_tokenizer(texts, 600, cache / "tokenizer")
