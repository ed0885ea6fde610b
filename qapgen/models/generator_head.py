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

from qapgen.models.backbone import head_inputs


class GeneratorHead(nn.Module):
    """Logits W h + b (B, T, V) from decoder states h (B, T, d), in the backbone's convention
    (``backbone.head_inputs``), so that at initialisation it gives exactly the backbone's
    logits."""

    def __init__(self, backbone: T5ForConditionalGeneration) -> None:
        super().__init__()
        self.config = backbone.config
        self.weight = nn.Parameter(backbone.lm_head.weight.detach().clone())  # (V, d)
        self.bias = nn.Parameter(torch.zeros(self.weight.size(0)))  # T5 has no output bias

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return F.linear(head_inputs(self.config, hidden_states), self.weight, self.bias)
