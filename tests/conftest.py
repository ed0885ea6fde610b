"""Shared test fixtures: isolated caches, a tokenizer trained once on the fixtures, and a
model trained through `qapgen fit` with the overfit profile (shortened), once per session."""

from __future__ import annotations

import os
from pathlib import Path

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


REPOSITORY = Path(__file__).resolve().parent.parent

# Enough to get a checkpoint, a metrics.json and a model that emits varied text; the full
# profile (300 epochs) memorises the fixtures but takes a minute.
FIT_EPOCHS = 3


@pytest.fixture(scope="session")
def overfit_checkpoint(tmp_path_factory) -> Path:
    import torch

    from qapgen.cli.lightning import run_lightning_cli

    root = tmp_path_factory.mktemp("overfit-run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # session scope runs before the one-thread fixture
    try:
        run_lightning_cli(
            [
                "fit",
                "-c",
                str(REPOSITORY / "conf/profile/overfit.yaml"),
                "-c",
                str(REPOSITORY / "conf/model/igja_qap.yaml"),
                "--trainer.default_root_dir",
                str(root),
                "--trainer.max_epochs",
                str(FIT_EPOCHS),
                "--trainer.enable_checkpointing",
                "true",
                # the default checkpoint is saved after validation
                "--trainer.check_val_every_n_epoch",
                str(FIT_EPOCHS),
                "--model.init_args.meteor",
                "none",
                # the profile's warm-up spans its 400 steps; over these 3 a shorter one
                # trains the model into emitting varied, context-dependent text
                "--model.init_args.warmup_steps",
                "20",
                "--data.cache_dir",
                str(root / "cache"),
                "--wandb",
                "disabled",
            ]
        )
    finally:
        torch.set_num_threads(threads)
    (checkpoint,) = root.rglob("*.ckpt")
    return checkpoint


@pytest.fixture(scope="session")
def exported_model(overfit_checkpoint, tmp_path_factory) -> Path:
    from qapgen.export import export_model

    return export_model(overfit_checkpoint, tmp_path_factory.mktemp("export") / "model")


SCORER_WORDS = (
    "question answer : , ? . the a of is in what who where which capital city country river "
    "paris france rome italy london england king queen war year"
).split()


@pytest.fixture(scope="session")
def tiny_scorer_dir(tmp_path_factory):
    """A random-init two-layer BERT and its word-level tokenizer ([CLS] text [SEP]) saved as a
    local folder: a BERTScore model that needs no download."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    vocabulary = {word: i for i, word in enumerate(dict.fromkeys([*specials, *SCORER_WORDS]))}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        unk_token="[UNK]",
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocabulary),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    folder = tmp_path_factory.mktemp("tiny-scorer")
    wrapped.save_pretrained(str(folder))
    BertModel(config).save_pretrained(str(folder))
    return folder
