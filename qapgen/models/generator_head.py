"""A task's own vocabulary projection: the generators W_a, b_a (eq. 2) and W_q, b_q (eq. 13).

Section 4.4 describes IGJA-QAP as "one decoder and different generators": each task has its
own W ∈ R^{|V|×z} and b ∈ R^{|V|}. Both start as copies of the backbone's LM head (bias 0),
so a pretrained T5 keeps its vocabulary projection on either task and the two drift apart
only as training asks.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers import T5ForConditionalGeneration


class GeneratorHead(nn.Module):
    """Logits W h + b (B, T, V) from decoder states h (B, T, d), in the backbone's convention.

    Original T5 rescales decoder outputs by d_model**-0.5 before its tied head (see
    ``backbone.vocabulary_logits``); the copy keeps that rescaling, so that at
    initialisation it gives exactly the backbone's logits.
    """

    def __init__(self, backbone: T5ForConditionalGeneration) -> None:
        super().__init__()
        config = backbone.config
        self.weight = nn.Parameter(backbone.lm_head.weight.detach().clone())  # (V, d)
        self.bias = nn.Parameter(torch.zeros(self.weight.size(0)))  # T5 has no output bias
        self.input_scale = config.d_model**-0.5 if config.scale_decoder_outputs else None

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.input_scale is not None:
            hidden_states = hidden_states * self.input_scale
        return F.linear(hidden_states, self.weight, self.bias)
