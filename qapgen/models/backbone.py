"""T5 backbone factory: a pretrained checkpoint (hub name or local directory) or a random-init size.

`load_backbone("t5-base")` is what the paper uses. Offline machines point at a directory written by
`save_pretrained`. The named random-init sizes exist so that every code path runs without weights:
`tiny` for millisecond tests, `mini` for real-data runs on a CPU, `t5-small-shape` /
`t5-base-shape` for offline GPU runs at the real shapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import T5Config, T5ForConditionalGeneration

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


class BackboneLoadError(OSError):
    """A pretrained backbone could not be loaded (hub download failed or local directory missing)."""


def random_init_config(size: str, *, vocab_size: int, **overrides: Any) -> T5Config:
    """The `T5Config` of a named random-init size (a key of `RANDOM_INIT_SIZES`)."""
    if size not in RANDOM_INIT_SIZES:
        raise ValueError(
            f"unknown backbone size {size!r}; choose one of {sorted(RANDOM_INIT_SIZES)}"
        )
    fields = {**_T5_V1_COMMON, **RANDOM_INIT_SIZES[size], "vocab_size": vocab_size, **overrides}
    return T5Config(**fields)


def load_backbone(
    name_or_path: str | None = "t5-base",
    *,
    size: str | None = None,
    vocab_size: int | None = None,
    local_files_only: bool = False,
    **config_overrides: Any,
) -> T5ForConditionalGeneration:
    """Build the T5 backbone; its config is `model.config`.

    Exactly one source:
    - `name_or_path`: a hub name (`"t5-base"`) or a local `save_pretrained` directory;
    - `size`: a random-init size from `RANDOM_INIT_SIZES`; needs `vocab_size` (the tokenizer's
      `len(tokenizer)`, or the checkpoint's 32128 to stay shape-compatible with T5 weights).

    `config_overrides` (e.g. `dropout_rate=0.0`) apply to either source.
    Raises `BackboneLoadError` naming what failed and how to use a local copy instead.
    """
    if size is not None:
        if vocab_size is None:
            raise ValueError(f"a random-init backbone (size={size!r}) needs vocab_size")
        return T5ForConditionalGeneration(
            random_init_config(size, vocab_size=vocab_size, **config_overrides)
        )
    if name_or_path is None:
        raise ValueError("give either name_or_path (hub name or directory) or size")
    if vocab_size is not None:
        raise ValueError("vocab_size applies only to random-init sizes; a checkpoint fixes its own")

    looks_like_path = name_or_path.startswith((".", "/", "~")) or Path(name_or_path).exists()
    if looks_like_path and not Path(name_or_path).expanduser().is_dir():
        raise BackboneLoadError(
            f"backbone directory {name_or_path!r} does not exist; it should hold a T5 checkpoint "
            "written by `save_pretrained` (config.json and model weights)"
        )
    try:
        return T5ForConditionalGeneration.from_pretrained(
            str(Path(name_or_path).expanduser()) if looks_like_path else name_or_path,
            local_files_only=local_files_only,
            **config_overrides,
        )
    except OSError as error:
        raise BackboneLoadError(
            f"could not load the T5 backbone {name_or_path!r}: {error}\n"
            "On a machine without hub access, download the checkpoint elsewhere "
            "(`T5ForConditionalGeneration.from_pretrained(name).save_pretrained(DIR)`), copy DIR "
            "here and pass that local directory path as the backbone name."
        ) from error


def head_inputs(config: T5Config, hidden_states: torch.Tensor) -> torch.Tensor:
    """Decoder states as a vocabulary head of this backbone expects them.

    Original T5 ties the head to the input embeddings and rescales decoder outputs by d_model**-0.5
    before it; T5 v1.1 does not. `config.scale_decoder_outputs` records which, so a pretrained
    checkpoint's head is used exactly as it was trained.
    """
    if config.scale_decoder_outputs:
        return hidden_states * (config.d_model**-0.5)
    return hidden_states


def vocabulary_logits(
    backbone: T5ForConditionalGeneration, hidden_states: torch.Tensor
) -> torch.Tensor:
    """The backbone's own LM head, W h (T5 has no output bias), following its output convention."""
    return backbone.lm_head(head_inputs(backbone.config, hidden_states))
