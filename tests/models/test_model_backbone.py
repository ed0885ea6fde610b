"""Backbone factory: random-init sizes, local checkpoints, clear errors, the head convention."""

import pytest
import torch

from qapgen.models.backbone import (
    BackboneLoadError,
    load_backbone,
    random_init_config,
    vocabulary_logits,
)


def test_tiny_size_is_small_and_uses_the_given_vocabulary():
    model = load_backbone(None, size="tiny", vocab_size=50)
    assert model.config.d_model <= 64 and model.config.num_layers == 2
    assert model.lm_head.out_features == 50
    assert sum(p.numel() for p in model.parameters()) < 100_000


@pytest.mark.parametrize(
    ("size", "d_model", "layers", "heads", "d_ff"),
    [("t5-small-shape", 512, 6, 8, 2048), ("t5-base-shape", 768, 12, 12, 3072)],
)
def test_shape_sizes_are_the_published_t5_configs(size, d_model, layers, heads, d_ff):
    config = random_init_config(size, vocab_size=32128)
    assert (config.d_model, config.num_layers, config.num_decoder_layers) == (
        d_model,
        layers,
        layers,
    )
    assert (config.num_heads, config.d_kv, config.d_ff) == (heads, 64, d_ff)
    assert config.feed_forward_proj == "relu" and config.scale_decoder_outputs


def test_random_init_needs_vocab_size_and_a_known_size():
    with pytest.raises(ValueError, match="vocab_size"):
        load_backbone(None, size="tiny")
    with pytest.raises(ValueError, match="unknown backbone size"):
        load_backbone(None, size="huge", vocab_size=10)


def test_local_save_pretrained_directory_loads_unchanged(tmp_path):
    torch.manual_seed(0)
    original = load_backbone(None, size="tiny", vocab_size=40).eval()
    original.save_pretrained(tmp_path / "tiny-t5")
    loaded = load_backbone(str(tmp_path / "tiny-t5")).eval()
    ids = torch.tensor([[5, 6, 7, 1]])
    labels = torch.tensor([[8, 9, 1]])
    torch.testing.assert_close(
        loaded(input_ids=ids, labels=labels).logits, original(input_ids=ids, labels=labels).logits
    )


def test_missing_local_directory_says_what_to_provide(tmp_path):
    with pytest.raises(BackboneLoadError, match="save_pretrained"):
        load_backbone(str(tmp_path / "absent"))


def test_hub_failure_is_reported_with_the_local_alternative():
    # local_files_only keeps the test offline: the hub lookup fails as it would without a network
    with pytest.raises(BackboneLoadError) as raised:
        load_backbone("qapgen-test/no-such-t5", local_files_only=True)
    message = str(raised.value)
    assert "qapgen-test/no-such-t5" in message and "local" in message.lower()


@pytest.mark.parametrize("tied", [True, False])
def test_vocabulary_logits_follow_the_backbone_convention(tied):
    torch.manual_seed(0)
    model = load_backbone(None, size="tiny", vocab_size=30, tie_word_embeddings=tied).eval()
    assert model.config.scale_decoder_outputs is tied
    ids = torch.tensor([[3, 4, 5, 1]])
    decoder_ids = torch.tensor([[0, 7, 8]])
    outputs = model(input_ids=ids, decoder_input_ids=decoder_ids, output_hidden_states=True)
    hidden = outputs.decoder_hidden_states[-1]
    torch.testing.assert_close(vocabulary_logits(model, hidden), outputs.logits)
