"""Pointer network of the answer generator (paper eqs 2-7).

The answer distribution mixes the vocabulary head with a copy distribution over the input
tokens: P_a = P_gen·P_voc + (1-P_gen)·P_co. Everything here runs in fp32 and mixes in log space,
so bf16/fp16 training neither underflows the copy mass nor produces NaN where P_co is zero.

Decoding needs the whole distribution (`PointerGenerator.forward`); the training loss needs
only each label's probability (`PointerGenerator.label_log_probs`), which mixes P_voc(y) and
P_co(y) at the label alone: the same value, without vocabulary-sized mixtures.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


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


def copy_mass_at_inputs(
    beta: torch.Tensor, source_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """eqs 5-6 at the input's own ids: (same_id (B, N, N), γ (B, T, N), index (B, T, N)).

    γ at input position i is the attention on every position holding i's id, i.e. P_co of
    that id; ``index`` is the ids, expanded for gather/scatter over the vocabulary."""
    same_id = source_ids[:, :, None] == source_ids[:, None, :]
    gamma = torch.bmm(beta, same_id.to(beta.dtype))
    return same_id, gamma, source_ids[:, None, :].expand_as(gamma)


def vocabulary_label_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[label] (B, T), fp32, with 0 where the label is -100 (padding).

    One fused cross-entropy: the only vocabulary-sized tensor it keeps for backward is its
    fp32 log-softmax, as a plain T5 loss does.
    """
    return -F.cross_entropy(
        logits.float().flatten(0, 1), labels.flatten(), reduction="none", ignore_index=-100
    ).view_as(labels)


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
        *,
        normalise: bool = True,
    ) -> torch.Tensor:
        """log P_a (B, T, V), fp32; with ``normalise=False`` scores whose softmax is P_a.

        vocab_logits (B, T, V): W_a h^a (the backbone head); decoder_states (B, T, d): h^a;
        beta (B, T, N): copy attention (`qapgen.models.copy_attention`; unused without pointer);
        encoder_states (B, N, d): h_enc; source_ids (B, N): the input token ids.
        """
        if not normalise:
            return self._decoding_scores(
                vocab_logits.float(), decoder_states, beta, encoder_states, source_ids
            )
        # eq. 2: P_voc = softmax(W_a h^a + b_a); fp32 because the copy mass of rare ids is tiny
        log_p_voc = F.log_softmax(vocab_logits.float(), dim=-1)  # (B, T, V)
        if not self.use_pointer:
            return log_p_voc
        switch_logit = self._switch(decoder_states, beta, encoder_states)  # (B, T, 1)
        generated = F.logsigmoid(switch_logit) + log_p_voc  # log P_gen·P_voc, (B, T, V)
        # eqs 5-6: P_co is zero outside the input's ids, so eq. 7 changes only the entries of
        # those ids: γ at each input position is the attention on every position holding the
        # same id, and the mixture is written back there. An id at several positions is
        # written several times with equal values; only its first position passes gradients.
        same_id, gamma, index = copy_mass_at_inputs(beta, source_ids)
        mixed = torch.logaddexp(
            generated.gather(-1, index), F.logsigmoid(-switch_logit) + log_of_probabilities(gamma)
        )
        first = ~same_id.tril(diagonal=-1).any(dim=-1)  # (B, N): no earlier position has the id
        mixed = torch.where(first[:, None, :], mixed, mixed.detach())
        return generated.scatter(-1, index, mixed)

    def _decoding_scores(
        self,
        logits: torch.Tensor,
        decoder_states: torch.Tensor,
        beta: torch.Tensor | None,
        encoder_states: torch.Tensor,
        source_ids: torch.Tensor,
    ) -> torch.Tensor:
        """z with softmax(z) = P_a, for beam search, which normalises its scores itself:
        z = log P_a + log Z - log P_gen (Z = Σ exp(logits)) is the logits themselves outside
        the input's ids and logaddexp(logit, log Z - s + log γ) at them (s: the switch logit,
        log σ(-s) - log σ(s) = -s), so no vocabulary-sized log-softmax is written."""
        if not self.use_pointer:
            return logits
        switch_logit = self._switch(decoder_states, beta, encoder_states)  # (B, T, 1)
        _, gamma, index = copy_mass_at_inputs(beta, source_ids)
        log_z = torch.logsumexp(logits, dim=-1, keepdim=True)
        mixed = torch.logaddexp(
            logits.gather(-1, index), log_z - switch_logit + log_of_probabilities(gamma)
        )
        return logits.scatter(-1, index, mixed)

    def label_log_probs(
        self,
        vocab_logits: torch.Tensor,
        decoder_states: torch.Tensor,
        beta: torch.Tensor | None,
        encoder_states: torch.Tensor,
        source_ids: torch.Tensor,
        labels: torch.Tensor,
    ) -> torch.Tensor:
        """log P_a(y_t) (B, T), fp32: `forward`'s distribution at each label, computed there
        only. labels (B, T) may hold -100 on padding (any finite value is returned there)."""
        safe_labels = labels.clamp_min(0)
        log_p_voc = vocabulary_label_log_probs(vocab_logits, safe_labels)  # eq. 2 at y_t
        if not self.use_pointer:
            return log_p_voc
        switch_logit = self._switch(decoder_states, beta, encoder_states).squeeze(-1)  # (B, T)
        # eqs 5-6 at y_t: γ = the attention on every input position holding the label's id
        copied = source_ids[:, None, :] == safe_labels[:, :, None]  # (B, T, N)
        p_copy = (beta * copied.to(beta.dtype)).sum(dim=-1)
        return mixture(switch_logit, log_p_voc, log_of_probabilities(p_copy))

    def _switch(
        self, decoder_states: torch.Tensor, beta: torch.Tensor | None, encoder_states: torch.Tensor
    ) -> torch.Tensor:
        """eqs 3-4: the logit of P_gen, (B, T, 1)."""
        if beta is None:
            raise ValueError("the pointer needs the copy attention beta")
        # eq. 3: c_l = Σ_i β^l_i h_i
        context = torch.bmm(beta, encoder_states.float())  # (B, T, d)
        # eq. 4: P_gen = σ(W_gen [h^a_l ; c_l] + b_gen), kept as a logit for the log-space mix
        return self._switch_logit(torch.cat([decoder_states.float(), context], dim=-1))

    def _switch_logit(self, features: torch.Tensor) -> torch.Tensor:
        # The switch runs in fp32 even under autocast: its weights are cast up rather than its input
        # cast down, since a bf16 logit would quantise P_gen coarsely near 0 and 1.
        with torch.autocast(device_type=features.device.type, enabled=False):
            return F.linear(features, self.switch.weight.float(), self.switch.bias.float())


def mixture(
    switch_logit: torch.Tensor, log_p_voc: torch.Tensor, log_p_copy: torch.Tensor
) -> torch.Tensor:
    """eq. 7: log(P_gen·P_voc + (1-P_gen)·P_co), as a logsumexp of the two weighted terms;
    log σ(s) and log σ(-s) = log(1-σ(s)) stay finite, so the first term never is -inf.
    (`PointerGenerator.forward` writes the same sum for the input's ids only.)"""
    return torch.logaddexp(
        F.logsigmoid(switch_logit) + log_p_voc, F.logsigmoid(-switch_logit) + log_p_copy
    )
