"""The pointer's copy attention β (paper eq. 3), from the last decoder layer's cross-attention.

The paper does not say which layer or heads give β; qapgen takes the last decoder layer (the
one nearest the output) and the mean over its heads. β is recomputed from that layer's query
and key projections, which `CrossAttentionProbe` records with forward hooks, instead of
asking transformers for the attention probabilities: those exist only with the eager kernel
and for every layer at once (``output_attentions``), while β needs one layer and the fused
SDPA kernel can serve the whole decoder. β is the attention before dropout, so it is a
distribution over the input in training too.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.cache_utils import Cache, EncoderDecoderCache


def copy_attention(
    queries: torch.Tensor,
    keys: torch.Tensor,
    source_mask: torch.Tensor,
    num_heads: int,
    scale: float = 1.0,
) -> torch.Tensor:
    """β (B, T, N), fp32: softmax over the real input tokens of the query-key scores of each
    head, averaged over the heads.

    queries (B, T, H·k) and keys (B, N, H·k) are the cross-attention's projections (keys may
    also come as a cache's (B, H, N, k)); source_mask (B, N) is 1 on real input tokens.
    ``scale`` multiplies the scores as the attention does: T5 does not scale them (1), BART
    by 1/sqrt(k); neither biases cross-attention by position.
    """
    batch, steps, _ = queries.shape
    q = queries.float().view(batch, steps, num_heads, -1).transpose(1, 2)  # (B, H, T, k)
    if keys.dim() == 3:
        keys = keys.view(batch, keys.size(1), num_heads, -1).transpose(1, 2)  # (B, H, N, k)
    scores = torch.matmul(q, keys.float().transpose(-1, -2))  # (B, H, T, N)
    if scale != 1.0:  # T5's unscaled scores skip a pass over the (B, H, T, N) tensor
        scores = scores * scale
    blocked = ~source_mask.to(torch.bool)[:, None, None, :]
    return scores.masked_fill(blocked, -torch.inf).softmax(dim=-1).mean(dim=1)


class CrossAttentionProbe:
    """Records the last layer's cross-attention query and key projections of a T5 or BART
    decoder.

    Register it once on the decoder (before any copy of it is made); after each decoder call
    `copy_attention_of` gives β for that call. With a decoder cache the keys are computed
    only at the first step and then read from the cache.
    """

    def __init__(self, decoder: nn.Module) -> None:
        if hasattr(decoder, "block"):  # T5Stack
            attention = decoder.block[-1].layer[1].EncDecAttention
            self.num_heads, self.scale = attention.n_heads, 1.0
            query, key = attention.q, attention.k
        else:  # BartDecoder
            attention = decoder.layers[-1].encoder_attn
            self.num_heads, self.scale = attention.num_heads, attention.scaling
            query, key = attention.q_proj, attention.k_proj
        self.layer_index = attention.layer_idx
        self.recorded: dict[str, torch.Tensor] = {}
        query.register_forward_hook(self._record("queries"))
        key.register_forward_hook(self._record("keys"))

    def _record(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            self.recorded[name] = output

        return hook

    def clear(self) -> None:
        self.recorded.clear()

    def copy_attention_of(
        self,
        source_mask: torch.Tensor,
        cache: Cache | None = None,
    ) -> torch.Tensor:
        """β (B, T, N) of the last decoder call's T positions."""
        queries = self.recorded.pop("queries")
        keys = self.recorded.pop("keys", None)
        if isinstance(cache, EncoderDecoderCache):
            keys = cache.cross_attention_cache.layers[self.layer_index].keys
        if keys is None:
            raise RuntimeError("the decoder call computed no cross-attention keys and had no cache")
        return copy_attention(queries, keys, source_mask, self.num_heads, self.scale)
