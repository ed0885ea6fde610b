"""An attention LSTM encoder-decoder (Du et al. 2017, DeepNQG) and its view for `generate`.

Network: a bidirectional LSTM encoder, an LSTM decoder started from a bridge of the encoder's
final states, Luong "general" global attention (score(h_t, s_i) = h_tᵀ W_a s_i) and the output
P(y_t) = softmax(W_s tanh(W_c [h_t; c_t])) (Du et al. eqs 3-5).

Beam search is transformers' `generate`. `LSTMSeq2SeqForGeneration` is a thin
`PreTrainedModel` + `GenerationMixin` view whose step returns logits and carries the decoder's
(h, c) as its cache, an `LSTMState` (`decoder_cache` names it as each transformers release
does). transformers reorders a cache between beam steps with the model's `_reorder_cache(cache, beam_idx)` when it has one (else the cache's own
`reorder_cache`), so the view defines `_reorder_cache`; it also reports that it does not
support the default `DynamicCache`, so that `generate` starts with no cache and the first step
builds the initial state from the encoder outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import GenerationConfig, GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput, Seq2SeqLMOutput

from qapgen.models.decoder_cache import cache_argument, step_cache


@dataclass
class LSTMState:
    """The decoder's recurrent state, each (num_layers, B, hidden_size)."""

    hidden: torch.Tensor
    cell: torch.Tensor

    def as_tuple(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.hidden, self.cell

    def select(self, rows: torch.Tensor) -> LSTMState:
        """The state of the given batch rows (beam reordering)."""
        return LSTMState(self.hidden[:, rows], self.cell[:, rows])


class LuongGeneralAttention(nn.Module):
    """Global attention with the "general" score h_tᵀ W_a s_i, then tanh(W_c [h_t; c_t])."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.score = nn.Linear(hidden_size, hidden_size, bias=False)  # W_a
        self.combine = nn.Linear(2 * hidden_size, hidden_size, bias=False)  # W_c

    def forward(
        self, queries: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        """queries (B, T, H), memory (B, N, H), memory_mask (B, N) -> attentional states (B, T, H)."""
        scores = queries @ self.score(memory).transpose(1, 2)  # (B, T, N)
        scores = scores.masked_fill(~memory_mask.bool()[:, None, :], float("-inf"))
        context = scores.softmax(dim=-1) @ memory  # (B, T, H)
        return torch.tanh(self.combine(torch.cat([queries, context], dim=-1)))


class AttentionLSTMSeq2Seq(nn.Module):
    """Bi-LSTM encoder, LSTM decoder with global attention, over one shared token vocabulary.

    Args:
        vocab_size, pad_token_id: the token ids it reads and writes.
        embedding_dim: word vector size (300 for GloVe 840B in the paper).
        hidden_size: encoder output (both directions together) and decoder state size (600).
        num_layers: LSTM layers of encoder and decoder (2).
        dropout: between LSTM layers and on the attentional states (0.3).
    """

    def __init__(
        self,
        vocab_size: int,
        pad_token_id: int,
        embedding_dim: int = 300,
        hidden_size: int = 600,
        num_layers: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if hidden_size % 2:
            raise ValueError("hidden_size must be even: each encoder direction has half of it")
        self.num_layers = num_layers
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_token_id)
        between_layers = dropout if num_layers > 1 else 0.0
        self.encoder = nn.LSTM(
            embedding_dim,
            hidden_size // 2,
            num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=between_layers,
        )
        self.bridge = nn.Linear(hidden_size, hidden_size)
        self.decoder = nn.LSTM(
            embedding_dim, hidden_size, num_layers, batch_first=True, dropout=between_layers
        )
        self.attention = LuongGeneralAttention(hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, vocab_size)  # W_s

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token ids (B, N) -> encoder states (B, N, H); padding is packed away."""
        lengths = attention_mask.sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(input_ids), lengths, batch_first=True, enforce_sorted=False
        )
        states, _ = self.encoder(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(
            states, batch_first=True, total_length=input_ids.size(1)
        )
        return states

    def initial_state(self, memory: torch.Tensor, attention_mask: torch.Tensor) -> LSTMState:
        """Decoder start state from the encoder: the forward direction's last state and the
        backward direction's first, through a tanh bridge, in every layer; zero cells."""
        half = memory.size(-1) // 2
        last = attention_mask.sum(1) - 1
        rows = torch.arange(memory.size(0), device=memory.device)
        summary = torch.cat([memory[rows, last, :half], memory[:, 0, half:]], dim=-1)  # (B, H)
        hidden = torch.tanh(self.bridge(summary)).unsqueeze(0).repeat(self.num_layers, 1, 1)
        return LSTMState(hidden.contiguous(), torch.zeros_like(hidden))

    def decode(
        self,
        decoder_input_ids: torch.Tensor,
        memory: torch.Tensor,
        attention_mask: torch.Tensor,
        state: LSTMState,
    ) -> tuple[torch.Tensor, LSTMState]:
        """Decoder inputs (B, T) from ``state`` -> logits (B, T, V) and the state after them."""
        outputs, (hidden, cell) = self.decoder(self.embedding(decoder_input_ids), state.as_tuple())
        attentional = self.dropout(self.attention(outputs, memory, attention_mask))
        return self.output(attentional), LSTMState(hidden, cell)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        decoder_input_ids: torch.Tensor,
    ) -> torch.Tensor:
        """Teacher-forced logits (B, T, V)."""
        memory = self.encode(input_ids, attention_mask)
        state = self.initial_state(memory, attention_mask)
        logits, _ = self.decode(decoder_input_ids, memory, attention_mask, state)
        return logits


def load_glove(path: str | Path, words: dict[str, list[int]], embedding: nn.Embedding) -> int:
    """Copy GloVe-format vectors ("word v1 v2 ...", one a line) into ``embedding`` for the ids
    that ``words`` maps each word to; returns how many ids received a vector.

    The file is streamed, so only the vectors of the vocabulary's words are held.
    """
    dim = embedding.embedding_dim
    covered = 0
    with Path(path).open(encoding="utf-8") as handle, torch.no_grad():
        for number, line in enumerate(handle, start=1):
            word, *values = line.rstrip("\n").rstrip().split(" ")
            if word not in words:
                continue
            if len(values) != dim:
                raise ValueError(
                    f"{path}:{number}: {len(values)} values for {word!r}, the embedding has {dim}"
                )
            vector = torch.tensor([float(v) for v in values])
            for token_id in words.pop(word):
                embedding.weight[token_id] = vector
                covered += 1
    return covered


class _Encoder(nn.Module):
    """The encoder as `generate` calls it: keyword arguments in, a `BaseModelOutput` out."""

    main_input_name = "input_ids"

    def __init__(self, network: AttentionLSTMSeq2Seq) -> None:
        super().__init__()
        self.network = network

    def forward(self, input_ids, attention_mask, **kwargs: Any) -> BaseModelOutput:
        return BaseModelOutput(last_hidden_state=self.network.encode(input_ids, attention_mask))


class LSTMSeq2SeqForGeneration(PreTrainedModel, GenerationMixin):
    """A `generate`-able view of an `AttentionLSTMSeq2Seq` (holds it, does not copy it)."""

    config_class = PretrainedConfig
    main_input_name = "input_ids"

    def __init__(self, network: AttentionLSTMSeq2Seq, vocab_size: int) -> None:
        super().__init__(PretrainedConfig(is_encoder_decoder=True, vocab_size=vocab_size))
        self.network = network
        self.encoder = _Encoder(network)

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # The recurrent state is not a key/value cache: the first step builds it.
        return False

    def get_encoder(self, modality: str | None = None) -> nn.Module:
        return self.encoder

    def _reorder_cache(self, cache: LSTMState, beam_idx: torch.Tensor) -> LSTMState:
        return cache.select(beam_idx)

    def forward(
        self,
        decoder_input_ids: torch.Tensor,
        encoder_outputs: BaseModelOutput,
        attention_mask: torch.Tensor,
        cache: LSTMState | None = None,
        past_key_values: LSTMState | None = None,
        **kwargs: Any,
    ) -> Seq2SeqLMOutput:
        memory = encoder_outputs.last_hidden_state
        state = step_cache(cache, past_key_values)
        if state is None:  # first step: the whole prefix (the start token)
            state, inputs = self.network.initial_state(memory, attention_mask), decoder_input_ids
        else:  # the state already holds every earlier token
            inputs = decoder_input_ids[:, -1:]
        logits, state = self.network.decode(inputs, memory, attention_mask, state)
        return Seq2SeqLMOutput(logits=logits, **cache_argument(state))


@torch.no_grad()
def lstm_generate(
    network: AttentionLSTMSeq2Seq,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    start_token_id: int,
    eos_token_id: int,
    pad_token_id: int,
    max_length: int,
    num_beams: int = 4,
    length_penalty: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Beam search; returns ids without the start token (pad after `</s>`) and, for beams > 1,
    each sequence's beam score (B,)."""
    model = LSTMSeq2SeqForGeneration(network, network.output.out_features)
    config = GenerationConfig(
        do_sample=False,
        num_beams=num_beams,
        max_new_tokens=max_length,
        length_penalty=length_penalty,
        # Not True: that stops once num_beams hypotheses have ended, even poor short ones,
        # while a better running beam (e.g. the greedy path) has yet to reach </s>.
        early_stopping=False,
        decoder_start_token_id=start_token_id,
        bos_token_id=None,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
        use_cache=True,
        return_dict_in_generate=True,
        output_scores=num_beams > 1,
    )
    output = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        encoder_outputs=BaseModelOutput(
            last_hidden_state=network.encode(input_ids, attention_mask)
        ),
        generation_config=config,
    )
    tokens = output.sequences[:, 1:]
    after_eos = (tokens == eos_token_id).long().cumsum(1) - (tokens == eos_token_id).long() > 0
    return tokens.masked_fill(after_eos, pad_token_id), getattr(output, "sequences_scores", None)
