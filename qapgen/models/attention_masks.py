"""4-D attention masks for T5 stacks, made on the device from the padding mask.

Given a 2-D padding mask, transformers first asks whether anything is padded at all
(``mask.all()``) before it builds the 4-D mask: a device-to-host sync in every training
step. A 4-D mask is used as given, so qapgen builds it itself. The same form carries the
per-row segment mask that lets IGJA-QAP's answer and question share one decoder call.
"""

from __future__ import annotations

import torch
from transformers import PretrainedConfig


def as_attention_mask(allowed: torch.Tensor, config: PretrainedConfig) -> torch.Tensor:
    """``allowed`` (bool, (B|1, 1, Q|1, K), True where a query may attend a key) in the form
    the config's attention kernel reads: boolean for SDPA and the other fused kernels, an
    additive float mask (0 or the most negative float) for the eager kernel, which adds it
    to the scores."""
    if config._attn_implementation == "eager":
        blocked = torch.finfo(torch.float32).min
        return torch.zeros(allowed.shape, device=allowed.device).masked_fill(~allowed, blocked)
    return allowed


def padding_attention_mask(attention_mask: torch.Tensor, config: PretrainedConfig) -> torch.Tensor:
    """(B, N) 1/0 padding mask -> (B, 1, 1, N): every query may attend every real key. Serves
    the encoder's self-attention and the decoder's cross-attention."""
    return as_attention_mask(attention_mask[:, None, None, :].to(torch.bool), config)


def segment_causal_attention_mask(segment: torch.Tensor, config: PretrainedConfig) -> torch.Tensor:
    """(B, 1, T, T) for rows of consecutive segments, ``segment`` (B, T) numbering each
    position's segment: causal within a segment, nothing across segments, so each segment
    is decoded as if alone. T5's self-attention bias depends only on key minus query
    position, which is the same within a segment wherever the segment starts."""
    position = torch.arange(segment.size(1), device=segment.device)
    same = segment[:, :, None] == segment[:, None, :]
    allowed = same & (position[:, None] >= position[None, :])
    return as_attention_mask(allowed[:, None], config)
