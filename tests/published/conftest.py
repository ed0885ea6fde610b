"""Tiny random-init seq2seq checkpoints saved as published QG checkpoints are: a T5 folder
whose tokenizer knows the format's added tokens (<hl>, <sep>)."""

from __future__ import annotations

import pytest
import torch
from transformers import T5ForConditionalGeneration

from qapgen.models.backbone import random_init_config


@pytest.fixture(scope="session")
def tiny_checkpoint(fixture_tokenizer, tmp_path_factory):
    """A folder holding a tiny T5 and a tokenizer with <hl> and <sep> added, as lmqg's and
    patil-suraj's checkpoints ship them."""
    tokenizer = fixture_tokenizer.__class__.from_pretrained(fixture_tokenizer.name_or_path)
    tokenizer.add_tokens(["<hl>", "<sep>"], special_tokens=True)
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(random_init_config("tiny", vocab_size=len(tokenizer)))
    folder = tmp_path_factory.mktemp("published-checkpoint")
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
