"""Backbone factory: a pretrained seq2seq checkpoint (hub name or local directory) or a random-init
size of a model family.

`load_backbone("t5-base")` is what the paper uses; any `AutoModelForSeq2SeqLM` checkpoint loads
(flan-t5, BART). Offline machines point at a directory written by `save_pretrained`. The named
random-init sizes exist so that every code path runs without weights: `tiny` for millisecond tests,
`mini` for real-data runs on a CPU, `t5-small-shape` / `t5-base-shape` for offline GPU runs at the
real shapes. Families (`BACKBONE_FAMILIES`): `t5` (v1.0: ReLU, decoder outputs scaled before the
tied head, as t5-base), `t5-v1.1` (gated GELU and no scaling, as flan-t5), `bart`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForSeq2SeqLM,
    BartConfig,
    BartForConditionalGeneration,
    PretrainedConfig,
    PreTrainedModel,
    T5Config,
    T5ForConditionalGeneration,
)

# Shared by every random-init size: the original T5 (v1.0) conventions, so that the heads and the
# decoder-output scaling behave exactly as with a `t5-base` checkpoint.
_T5_V1_COMMON: dict[str, Any] = {
    "feed_forward_proj": "relu",
    "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-6,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "decoder_start_token_id": 0,
    "tie_word_embeddings": True,
}

RANDOM_INIT_SIZES: dict[str, dict[str, Any]] = {
    # Small enough that a forward pass takes milliseconds on CPU; 4 heads of 8 so that a gate with
    # 4 heads also divides d_model.
    "tiny": {"d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4},
    # Between the two: what 2 CPU cores train on real data in minutes (the cpu-real profile).
    "mini": {"d_model": 192, "d_kv": 32, "d_ff": 768, "num_layers": 3, "num_heads": 6},
    # Exactly the published t5-small and t5-base shapes.
    "t5-small-shape": {"d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6, "num_heads": 8},
    "t5-base-shape": {"d_model": 768, "d_kv": 64, "d_ff": 3072, "num_layers": 12, "num_heads": 12},
}


# What a family changes in the T5 v1.0 defaults above (T5 v1.1 / flan-t5: gated GELU, and no
# d_model**-0.5 rescaling before the head, which transformers records from tie_word_embeddings).
_T5_V1_1: dict[str, Any] = {"feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}
BACKBONE_FAMILIES = ("t5", "t5-v1.1", "bart")


class BackboneLoadError(OSError):
    """A pretrained backbone could not be loaded (hub download failed or local directory missing)."""


def random_init_config(
    size: str,
    *,
    vocab_size: int,
    family: str = "t5",
    pad_token_id: int = 0,
    eos_token_id: int = 1,
    **overrides: Any,
) -> PretrainedConfig:
    """The config of a named random-init size (a key of `RANDOM_INIT_SIZES`) in a family."""
    if size not in RANDOM_INIT_SIZES:
        raise ValueError(
            f"unknown backbone size {size!r}; choose one of {sorted(RANDOM_INIT_SIZES)}"
        )
    if family not in BACKBONE_FAMILIES:
        raise ValueError(f"unknown backbone family {family!r}; choose one of {BACKBONE_FAMILIES}")
    shape = RANDOM_INIT_SIZES[size]
    if family == "bart":
        return BartConfig(
            vocab_size=vocab_size,
            d_model=shape["d_model"],
            encoder_layers=shape["num_layers"],
            decoder_layers=shape["num_layers"],
            encoder_attention_heads=shape["num_heads"],
            decoder_attention_heads=shape["num_heads"],
            encoder_ffn_dim=shape["d_ff"],
            decoder_ffn_dim=shape["d_ff"],
            max_position_embeddings=1024,
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_id,
            bos_token_id=eos_token_id,
            decoder_start_token_id=eos_token_id,
            **{"dropout": _T5_V1_COMMON["dropout_rate"], **_bart_names(overrides)},
        )
    family_fields = _T5_V1_1 if family == "t5-v1.1" else {}
    fields = {
        **_T5_V1_COMMON,
        **family_fields,
        **shape,
        "vocab_size": vocab_size,
        "pad_token_id": pad_token_id,
        "eos_token_id": eos_token_id,
        **overrides,
    }
    return T5Config(**fields)


def _bart_names(overrides: dict[str, Any]) -> dict[str, Any]:
    """T5's name for dropout (the one override the zoo sets) in BART's spelling."""
    renamed = dict(overrides)
    if "dropout_rate" in renamed:
        renamed["dropout"] = renamed.pop("dropout_rate")
    return renamed


def load_backbone(
    name_or_path: str | None = "t5-base",
    *,
    size: str | None = None,
    family: str = "t5",
    vocab_size: int | None = None,
    pad_token_id: int = 0,
    eos_token_id: int = 1,
    local_files_only: bool = False,
    **config_overrides: Any,
) -> PreTrainedModel:
    """Build the backbone; its config is `model.config`.

    Exactly one source:
    - `name_or_path`: a hub name (`"t5-base"`, `"google/flan-t5-base"`, `"facebook/bart-base"`)
      or a local `save_pretrained` directory of any `AutoModelForSeq2SeqLM` model;
    - `size`: a random-init size from `RANDOM_INIT_SIZES` in `family`; needs `vocab_size` (the
      tokenizer's `len(tokenizer)`) and the tokenizer's pad and end-of-sequence ids.

    `config_overrides` (e.g. `dropout_rate=0.0`) apply to either source.
    Raises `BackboneLoadError` naming what failed and how to use a local copy instead.
    """
    if size is not None:
        if vocab_size is None:
            raise ValueError(f"a random-init backbone (size={size!r}) needs vocab_size")
        config = random_init_config(
            size,
            vocab_size=vocab_size,
            family=family,
            pad_token_id=pad_token_id,
            eos_token_id=eos_token_id,
            **config_overrides,
        )
        if isinstance(config, BartConfig):
            return _without_forced_tokens(BartForConditionalGeneration(config))
        return T5ForConditionalGeneration(config)
    if name_or_path is None:
        raise ValueError("give either name_or_path (hub name or directory) or size")
    if vocab_size is not None:
        raise ValueError("vocab_size applies only to random-init sizes; a checkpoint fixes its own")

    looks_like_path = name_or_path.startswith((".", "/", "~")) or Path(name_or_path).exists()
    if looks_like_path and not Path(name_or_path).expanduser().is_dir():
        raise BackboneLoadError(
            f"backbone directory {name_or_path!r} does not exist; it should hold a seq2seq "
            "checkpoint written by `save_pretrained` (config.json and model weights)"
        )
    source = str(Path(name_or_path).expanduser()) if looks_like_path else name_or_path
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=local_files_only)
        renamed = _bart_names(config_overrides) if config.model_type == "bart" else config_overrides
        for key, value in renamed.items():
            setattr(config, key, value)
        model = AutoModelForSeq2SeqLM.from_pretrained(
            source, config=config, local_files_only=local_files_only
        )
    except OSError as error:
        raise BackboneLoadError(
            f"could not load the backbone {name_or_path!r}: {error}\n"
            "On a machine without hub access, download the checkpoint elsewhere "
            "(`hf download NAME --local-dir DIR`), copy DIR here and pass that local directory "
            "path as the backbone name."
        ) from error
    return _without_forced_tokens(model)


def _without_forced_tokens(model: PreTrainedModel) -> PreTrainedModel:
    """No token is forced in generation: qapgen's decoders start with a task token (BART's
    forced first <s> would overwrite what follows it), and stop at </s> or the length limit
    as every family does (BART would force its </s> id at the limit)."""
    for settings in (model.config, model.generation_config):
        for name in ("forced_bos_token_id", "forced_eos_token_id"):
            if getattr(settings, name, None) is not None:
                setattr(settings, name, None)
    return model


def attention_heads(config: PretrainedConfig) -> int:
    """The decoder's attention head count, whatever the family calls it."""
    return getattr(config, "num_heads", None) or config.decoder_attention_heads


def head_inputs(config: T5Config, hidden_states: torch.Tensor) -> torch.Tensor:
    """Decoder states as a vocabulary head of this backbone expects them.

    Original T5 ties the head to the input embeddings and rescales decoder outputs by d_model**-0.5
    before it; T5 v1.1 does not. `config.scale_decoder_outputs` records which, so a pretrained
    checkpoint's head is used exactly as it was trained.
    """
    if getattr(config, "scale_decoder_outputs", False):
        return hidden_states * (config.d_model**-0.5)
    return hidden_states


def vocabulary_logits(backbone: PreTrainedModel, hidden_states: torch.Tensor) -> torch.Tensor:
    """The backbone's own LM head, W h (plus BART's ``final_logits_bias``; T5 has no output
    bias), following its output convention."""
    logits = backbone.lm_head(head_inputs(backbone.config, hidden_states))
    bias = getattr(backbone, "final_logits_bias", None)
    return logits if bias is None else logits + bias
