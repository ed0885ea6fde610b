"""Pointer network of the answer generator (paper eqs 2-7).

The answer distribution mixes the vocabulary head with a copy distribution over the input
tokens: P_a = P_gen·P_voc + (1-P_gen)·P_co. Everything here runs in fp32 and mixes in log space,
so bf16/fp16 training neither underflows the copy mass nor produces NaN where P_co is zero.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def copy_attention(cross_attention: torch.Tensor, source_mask: torch.Tensor) -> torch.Tensor:
    """β: the copy attention of each decoder step over the N input tokens.

    `cross_attention` (B, H, T, N) is the last decoder layer's cross-attention; `source_mask` (B, N)
    is 1 on real input tokens. β is the mean over heads (the paper does not say which heads or
    layer; the last layer is the one nearest the output). Padding is zeroed explicitly and β is
    renormalised: in training the returned attention probabilities have had attention dropout
    applied, so they no longer sum to 1, and P_co must be a distribution for P_a to be one.
    Returns (B, T, N) in fp32.
    """
    beta = cross_attention.float().mean(dim=1)  # (B, T, N)
    beta = beta * source_mask[:, None, :].to(beta.dtype)
    return beta / beta.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(beta.dtype).tiny)


def copy_distribution(
    beta: torch.Tensor, source_ids: torch.Tensor, vocab_size: int
) -> torch.Tensor:
    """eqs 5-6: P_co, the attention mass β scattered onto the input tokens' vocabulary ids.

    `beta` (B, T, N), `source_ids` (B, N). An id that occurs at several input positions receives
    the sum of their attention (γ_t = Σ_{i: d_i = w_t} β_i). Returns (B, T, V).
    """
    batch, steps, length = beta.shape
    index = source_ids[:, None, :].expand(batch, steps, length)  # (B, T, N)
    return beta.new_zeros(batch, steps, vocab_size).scatter_add_(2, index, beta)


def log_of_probabilities(probabilities: torch.Tensor) -> torch.Tensor:
    """log p with log 0 = -inf and a finite (zero) gradient there.

    A plain `log` has an infinite derivative at 0, and inf·0 in the backward pass of the mixture is
    NaN; clamping before the log keeps the backward finite while `where` restores the exact -inf.
    """
    tiny = torch.finfo(probabilities.dtype).tiny
    return torch.where(
        probabilities > 0,
        probabilities.clamp_min(tiny).log(),
        torch.full_like(probabilities, -torch.inf),
    )


class PointerGenerator(nn.Module):
    """Answer generator with copy (eqs 2-7); returns log P_a.

    `use_pointer=False` is the Ours-pointer ablation: log P_a = log P_voc and the switch W_gen does
    not exist.
    """

    def __init__(self, d_model: int, *, use_pointer: bool = True) -> None:
        super().__init__()
        self.use_pointer = use_pointer
        # eq. 4: W_gen, b_gen act on [h^a_l ; c_l]
        self.switch = nn.Linear(2 * d_model, 1) if use_pointer else None

    def forward(
        self,
        vocab_logits: torch.Tensor,
        decoder_states: torch.Tensor,
        beta: torch.Tensor | None,
        encoder_states: torch.Tensor,
        source_ids: torch.Tensor,
    ) -> torch.Tensor:
        """log P_a (B, T, V), fp32.

        vocab_logits (B, T, V): W_a h^a (the backbone head); decoder_states (B, T, d): h^a;
        beta (B, T, N): copy attention from `copy_attention` (unused without pointer);
        encoder_states (B, N, d): h_enc; source_ids (B, N): the input token ids.
        """
        # eq. 2: P_voc = softmax(W_a h^a + b_a); fp32 because the copy mass of rare ids is tiny
        log_p_voc = F.log_softmax(vocab_logits.float(), dim=-1)  # (B, T, V)
        if not self.use_pointer:
            return log_p_voc
        if beta is None:
            raise ValueError("the pointer needs the copy attention beta")
        # eq. 3: c_l = Σ_i β^l_i h_i
        context = torch.bmm(beta, encoder_states.float())  # (B, T, d)
        # eq. 4: P_gen = σ(W_gen [h^a_l ; c_l] + b_gen), kept as a logit for the log-space mix
        switch_logit = self._switch_logit(
            torch.cat([decoder_states.float(), context], dim=-1)
        )  # (B, T, 1)
        # eqs 5-6: P_co
        log_p_copy = log_of_probabilities(copy_distribution(beta, source_ids, log_p_voc.size(-1)))
        # eq. 7: P_a = P_gen·P_voc + (1-P_gen)·P_co, as a logsumexp of the two weighted terms;
        # log σ(s) and log σ(-s) = log(1-σ(s)) stay finite, so the first term never is -inf
        return torch.logaddexp(
            F.logsigmoid(switch_logit) + log_p_voc, F.logsigmoid(-switch_logit) + log_p_copy
        )

    def _switch_logit(self, features: torch.Tensor) -> torch.Tensor:
        # The switch runs in fp32 even under autocast: its weights are cast up rather than its input
        # cast down, since a bf16 logit would quantise P_gen coarsely near 0 and 1.
        with torch.autocast(device_type=features.device.type, enabled=False):
            return F.linear(features, self.switch.weight.float(), self.switch.bias.float())
