"""DeepNQG (Du et al. 2017): an attention LSTM encoder-decoder from context to question.

Trained from scratch, no pre-training. Its vocabulary is the DataModule tokenizer's ids with
an embedding table of its own; word vectors come from a local GloVe-format file when
``glove_path`` is given (each token's text, lowercased and without the word-start marker, is
looked up), random otherwise. Network and beam search: ``qapgen.models.lstm_seq2seq``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from qapgen.data.features import CONTEXT_INPUT, IGNORE_INDEX, QUESTION_TARGET
from qapgen.models.base import QAPModule, Vocabulary
from qapgen.models.lstm_seq2seq import AttentionLSTMSeq2Seq, load_glove, lstm_generate
from qapgen.models.seq2seq import shift_right

# The paper's dropout between LSTM layers; the base's ``dropout_rate`` overrides it.
PAPER_DROPOUT = 0.3


def token_words(tokenizer, size: int) -> dict[str, list[int]]:
    """Word -> token ids whose text it is: SentencePiece's "▁" word-start marker removed,
    lowercased (the paper lowercases its text); special tokens are left out."""
    special = set(tokenizer.all_special_ids)
    words: dict[str, list[int]] = {}
    for token_id, token in enumerate(tokenizer.convert_ids_to_tokens(list(range(size)))):
        word = (token or "").lstrip("▁").lower()
        if word and token_id not in special:
            words.setdefault(word, []).append(token_id)
    return words


class DeepNQGModule(QAPModule):
    """DeepNQG: context -> question with a bi-LSTM encoder and a global-attention LSTM decoder.

    Args:
        embedding_dim: word vector size (paper: 300, GloVe).
        hidden_size: LSTM size (paper: 600; the encoder's two directions share it).
        num_layers: LSTM layers (paper: 2).
        glove_path: a local GloVe-format text file ("word v1 v2 ...") of ``embedding_dim``
            values a line; None keeps random vectors.
        freeze_embeddings: keep loaded GloVe vectors fixed, as the paper does.
        **kwargs: the shared base's arguments; ``dropout_rate`` sets the LSTM dropout (paper
            0.3 when None); the backbone arguments are unused.
    """

    tasks = ("question",)
    data_features = (CONTEXT_INPUT, QUESTION_TARGET)

    def __init__(
        self,
        embedding_dim: int = 300,
        hidden_size: int = 600,
        num_layers: int = 2,
        glove_path: str | None = None,
        freeze_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.network: AttentionLSTMSeq2Seq | None = None
        self.glove_covered: int | None = None

    def build(self, vocab: Vocabulary) -> None:
        hp = self.hparams
        self.network = AttentionLSTMSeq2Seq(
            vocab.size,
            vocab.pad_token_id,
            embedding_dim=hp.embedding_dim,
            hidden_size=hp.hidden_size,
            num_layers=hp.num_layers,
            dropout=PAPER_DROPOUT if hp.dropout_rate is None else hp.dropout_rate,
        )
        if hp.glove_path:
            self._load_word_vectors(hp.glove_path, vocab.size)

    def _load_word_vectors(self, path: str, size: int) -> None:
        if self.tokenizer is None:
            # Rebuilt from a checkpoint without a DataModule: its trained vectors are loaded next.
            rank_zero_warn("DeepNQG: no tokenizer to map GloVe words onto; vectors not loaded")
            return
        self.glove_covered = load_glove(
            path, token_words(self.tokenizer, size), self.network.embedding
        )
        rank_zero_info(f"DeepNQG: GloVe vectors for {self.glove_covered} of {size} token ids")
        if self.hparams.freeze_embeddings:
            self.network.embedding.weight.requires_grad_(False)

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        labels = batch["question_labels"]
        decoder_input_ids = shift_right(
            labels, self.vocab.question_start_token_id, self.vocab.pad_token_id
        )
        logits = self.network(batch["input_ids"], batch["input_attention_mask"], decoder_input_ids)
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
        return {"loss": loss, "question_loss": loss}

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        vocab = self.vocab
        question_ids, _ = lstm_generate(
            self.network,
            batch["input_ids"],
            batch["input_attention_mask"],
            start_token_id=vocab.question_start_token_id,
            eos_token_id=vocab.eos_token_id,
            pad_token_id=vocab.pad_token_id,
            max_length=self.hparams.max_question_length,
            num_beams=self.hparams.num_beams,
        )
        return {"question": self.decode(question_ids)}
