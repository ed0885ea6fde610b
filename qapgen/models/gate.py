"""Answer-guided multi-head gate (paper eqs 8-12).

Question decoder states attend over the answer decoder states (multi-head, eqs 8-10), and the
result is gated element-wise by a learned mixing of the answer states over answer positions
(eqs 11-12): h_ques = S_ques ⊙ G with G = W_g h^a_dec, W_g ∈ R^{M×L}.

Choices the paper leaves open:
- No output projection after Concat(heads): eq. 10 has none, and y·k = d keeps S_ques at width d.
- The projections W^Q_j, W^K_j, W^V_j have no bias (eq. 8 writes none).
- G has no nonlinearity: eq. 11 is linear and the text calls G the gate without a σ. A sigmoid
  (a gate in [0, 1]) is available as `gate_activation="sigmoid"`.
- W_g starts at 1/L everywhere, i.e. every question position begins with the (length-scaled)
  mean of the answer states: a zero-mean random init would make h_ques ≈ 0 at the start.
- Padded answer positions are zeroed before the mixing, which is the same as padding h^a_dec to
  L with zeros: a padded column of W_g then contributes nothing.

How h_ques reaches the question generator (eq. 13) is the paper's open reading; see
``fuse_question_states``.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

GateActivation = Literal["identity", "sigmoid"]
GateFusion = Literal["residual", "replace"]
GATE_FUSIONS: tuple[str, ...] = ("residual", "replace")


class AnswerMemory(NamedTuple):
    """The answer as the gate reads it (`AnswerGuidedGate.remember`)."""

    keys: torch.Tensor  # (B, y, L_a, k): K_j = W^K_j h^a_dec (eq. 8)
    values: torch.Tensor  # (B, y, L_a, k): V_j = W^V_j h^a_dec
    masked_states: torch.Tensor  # (B, L_a, d): h^a_dec, zero on padding (eq. 11's operand)
    mask: torch.Tensor  # (B, L_a) bool: real answer tokens


class AnswerGuidedGate(nn.Module):
    """h_ques (B, T, d) from question states (B, T, d) and answer states (B, L_a, d)."""

    def __init__(
        self,
        d_model: int,
        *,
        num_heads: int,
        max_question_length: int,
        max_answer_length: int,
        gate_activation: GateActivation = "identity",
    ) -> None:
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"gate heads ({num_heads}) must divide d_model ({d_model})")
        if gate_activation not in ("identity", "sigmoid"):
            raise ValueError(
                f"gate_activation must be 'identity' or 'sigmoid', not {gate_activation!r}"
            )
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads  # k = d / y (64 at T5-base with 12 heads)
        self.max_question_length = max_question_length
        self.max_answer_length = max_answer_length
        self.gate_activation = gate_activation
        # eq. 8: the y per-head matrices W^Q_j ∈ R^{k×d} stacked row-wise into one d×d map (same for K, V)
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(d_model, d_model, bias=False)
        # eq. 11: W_g ∈ R^{M×L}
        self.answer_mixing = nn.Parameter(
            torch.full((max_question_length, max_answer_length), 1.0 / max_answer_length)
        )

    def forward(
        self,
        question_states: torch.Tensor,
        answer_states: torch.Tensor,
        answer_mask: torch.Tensor,
        question_offset: int = 0,
    ) -> torch.Tensor:
        """h_ques for question positions question_offset .. question_offset+T-1.

        question_states (B, T, d): h^q_dec; answer_states (B, L_a, d): h^a_dec with L_a ≤ L;
        answer_mask (B, L_a): 1 on real answer tokens. `question_offset` is the position of the
        first given question state, so that cached decoding (one step at a time) selects the right
        row of W_g.
        """
        return self.attend(
            question_states, self.remember(answer_states, answer_mask), question_offset
        )

    def remember(self, answer_states: torch.Tensor, answer_mask: torch.Tensor) -> AnswerMemory:
        """What the gate reads of the answer, made once per answer: decoding a question step by
        step then projects the answer states once, not at every step."""
        answer_length = answer_states.size(1)
        if answer_length > self.max_answer_length:
            raise ValueError(
                f"answer length {answer_length} exceeds max_answer_length {self.max_answer_length}"
            )
        mask = answer_mask.to(torch.bool)  # (B, L_a)
        # eq. 8: K_j = W^K_j h^a, V_j = W^V_j h^a
        return AnswerMemory(
            keys=self._split_heads(self.key(answer_states)),
            values=self._split_heads(self.value(answer_states)),
            masked_states=answer_states * mask[..., None].to(answer_states.dtype),
            mask=mask,
        )

    def attend(
        self, question_states: torch.Tensor, memory: AnswerMemory, question_offset: int = 0
    ) -> torch.Tensor:
        """h_ques (B, T, d) for question positions question_offset .. question_offset+T-1 over
        a remembered answer (`remember`)."""
        batch, steps, d_model = question_states.shape
        answer_length = memory.mask.size(1)
        if question_offset + steps > self.max_question_length:
            raise ValueError(
                f"question length {question_offset + steps} exceeds max_question_length {self.max_question_length}"
            )
        # eq. 8: Q_j = W^Q_j h^q
        queries = self._split_heads(self.query(question_states))  # (B, y, T, k)
        # eq. 9: head_j = softmax(Q_j K_j^T / sqrt(k)) V_j; scores and softmax in fp32 so the
        # padding fill cannot overflow a half-precision score
        scores = torch.matmul(queries.float(), memory.keys.float().transpose(-1, -2)) / math.sqrt(
            self.head_dim
        )
        scores = scores.masked_fill(
            ~memory.mask[:, None, None, :], torch.finfo(scores.dtype).min
        )  # (B, y, T, L_a)
        weights = F.softmax(scores, dim=-1).to(memory.values.dtype)
        heads = torch.matmul(weights, memory.values)  # (B, y, T, k)
        # eq. 10: S_ques = Concat(head_1..head_y)
        summary = heads.transpose(1, 2).reshape(batch, steps, d_model)  # (B, T, d)
        # eq. 11: G = W_g h^a_dec, rows = question positions, columns = answer positions
        mixing = self.answer_mixing[
            question_offset : question_offset + steps, :answer_length
        ]  # (T, L_a)
        masked_answer = memory.masked_states
        # A batched matmul rather than einsum("tl,bld->btd"): einsum's backward hands
        # d(h^a_dec) on in a (T, B, d) layout, and a compiled backward that assumed the
        # contiguous layout (fake-tensor tracing of dropout's backward does) then fails at a
        # `view`; bmm's gradient for its second operand is contiguous.
        gate = torch.bmm(
            mixing.to(masked_answer.dtype).expand(batch, -1, -1), masked_answer
        )  # (B, T, d)
        if self.gate_activation == "sigmoid":
            gate = torch.sigmoid(gate)
        # eq. 12: h_ques = S_ques ⊙ G
        return summary * gate

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        """(B, S, d) -> (B, y, S, k)"""
        return states.view(states.size(0), -1, self.num_heads, self.head_dim).transpose(1, 2)


def fuse_question_states(
    question_states: torch.Tensor, gated_states: torch.Tensor, fusion: GateFusion
) -> torch.Tensor:
    """The question generator's input from h^q_dec and h_ques = S_ques ⊙ G, both (B, T, d).

    Eq. 13 prints P_q = softmax(W_q h^q_m + b_q), while the prose says the fused information
    goes to the question generator. Two readings:

    - ``residual``: h^q + h_ques. Eq. 13 keeps h^q_m, and section 3.1 says the gate fuses the
      answer's decoding information into the question's ("以此融合来自答案的解码信息 ...
      使得问题的解码信息更关注于生成的答案信息"): the question state stays and the answer
      information is added to it.
    - ``replace``: h_ques alone ("本文将获得的融合信息送入问题生成器中": the fused information is
      fed into the question generator). The question decoder then reaches P_q only through
      the gate's y attention distributions over the L_a answer positions, so at a fixed
      answer its states span at most y·(L_a−1) dimensions of d.
    """
    if fusion == "residual":
        return question_states + gated_states
    if fusion == "replace":
        return gated_states
    raise ValueError(f"gate_fusion must be one of {GATE_FUSIONS}, not {fusion!r}")
