"""A task's own vocabulary projection: the generators W_a, b_a (eq. 2) and W_q, b_q (eq. 13).

Section 4.4 describes IGJA-QAP as "one decoder and different generators": each task has its
own W ∈ R^{|V|×z} and b ∈ R^{|V|}. Both start as copies of the backbone's LM head (bias 0),
so a pretrained backbone keeps its vocabulary projection on either task and the two drift apart
only as training asks.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers import PreTrainedModel

from qapgen.models.backbone import head_inputs


class GeneratorHead(nn.Module):
    """Logits W h + b (B, T, V) from decoder states h (B, T, d), in the backbone's convention
    (``backbone.head_inputs``), so that at initialisation it gives exactly the backbone's
    logits."""

    def __init__(self, backbone: PreTrainedModel) -> None:
        super().__init__()
        self.config = backbone.config
        self.weight = nn.Parameter(backbone.lm_head.weight.detach().clone())  # (V, d)
        # T5 has no output bias; BART's final_logits_bias starts b, so that the head begins as
        # exactly the backbone's.
        bias = getattr(backbone, "final_logits_bias", None)
        initial = torch.zeros(self.weight.size(0)) if bias is None else bias.detach().reshape(-1)
        self.bias = nn.Parameter(initial.clone())

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return F.linear(head_inputs(self.config, hidden_states), self.weight, self.bias)
