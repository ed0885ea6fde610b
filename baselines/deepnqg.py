"""DeepNQG (Du et al. 2017): an attention LSTM encoder-decoder from context to question.

Trained from scratch, no pre-training, on Du et al.'s vocabulary, optimiser and schedule as
``conf/model/deepnqg.yaml`` sets them (a word-level vocabulary built from the training split,
``data.tokenizer: words``; SGD at lr 1.0 halved after epoch 8; 15 epochs). Its vocabulary is
the DataModule tokenizer's ids with an embedding table of its own; word vectors come from a
local GloVe-format file when
``glove_path`` is given (each token's text, lowercased and without the word-start marker, is
looked up), random otherwise. Network and beam search: ``baselines.components.lstm_seq2seq``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from baselines.components.lstm_seq2seq import AttentionLSTMSeq2Seq, load_glove, lstm_generate
from qapgen.data import batch_keys as keys
from qapgen.data.features import CONTEXT_INPUT, IGNORE_INDEX, QUESTION_TARGET
from qapgen.models.base import QAPModule, Vocabulary
from qapgen.models.sequences import shift_right

# The paper's dropout between LSTM layers; the base's ``dropout_rate`` overrides it.
PAPER_DROPOUT = 0.3

# The paper's network: 300-d (GloVe) word vectors, 2 LSTM layers of 600.
PAPER_SIZE = {"embedding_dim": 300, "hidden_size": 600, "num_layers": 2}

# LSTM dimensions per named ``backbone_size``, the zoo's one size knob (DeepNQG has no T5
# backbone). ``tiny`` is the CPU size that memorises the 16 overfit fixtures at the profile's
# lr 1e-2 (the paper's 300/600/2 learns nothing there); ``mini`` the cpu-real profile's, at
# about the mini T5's width; the GPU shapes run the paper's network.
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"embedding_dim": 32, "hidden_size": 128, "num_layers": 1},
    "mini": {"embedding_dim": 128, "hidden_size": 256, "num_layers": 2},
    "t5-small-shape": PAPER_SIZE,
    "t5-base-shape": PAPER_SIZE,
}


def network_dimensions(
    backbone_size: str | None,
    embedding_dim: int | None = None,
    hidden_size: int | None = None,
    num_layers: int | None = None,
) -> dict[str, int]:
    """The LSTM's dimensions: each explicit value, else the named size's, else the paper's."""
    if backbone_size is None:
        defaults = PAPER_SIZE
    elif backbone_size in SIZES:
        defaults = SIZES[backbone_size]
    else:
        raise ValueError(
            f"unknown backbone_size {backbone_size!r} for DeepNQG; choose one of {sorted(SIZES)}"
        )
    explicit = {
        "embedding_dim": embedding_dim,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
    }
    return {name: defaults[name] if value is None else value for name, value in explicit.items()}


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

    The network's size follows the base's ``backbone_size`` (the zoo's size knob; no T5 is
    loaded): ``tiny`` -> 32-d embeddings, one LSTM layer of 128 (memorises the overfit
    fixtures on CPU); ``t5-small-shape`` / ``t5-base-shape`` -> the paper's 300 / 600 / 2;
    unset -> the paper's. An explicit ``embedding_dim``, ``hidden_size`` or ``num_layers``
    overrides the size's value.

    Args:
        embedding_dim: word vector size (None: from ``backbone_size``, else the paper's 300).
        hidden_size: LSTM size, the encoder's two directions sharing it (None: from
            ``backbone_size``, else the paper's 600).
        num_layers: LSTM layers (None: from ``backbone_size``, else the paper's 2).
        glove_path: a local GloVe-format text file ("word v1 v2 ...") of ``embedding_dim``
            values a line; None keeps random vectors.
        freeze_embeddings: keep loaded GloVe vectors fixed, as the paper does.
        **kwargs: the shared base's arguments; ``dropout_rate`` sets the LSTM dropout (paper
            0.3 when None); ``backbone_size`` sets the network's size as above; the other
            backbone arguments are unused.
    """

    tasks = ("question",)
    data_features = (CONTEXT_INPUT, QUESTION_TARGET)

    def __init__(
        self,
        embedding_dim: int | None = None,
        hidden_size: int | None = None,
        num_layers: int | None = None,
        glove_path: str | None = None,
        freeze_embeddings: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Resolved now, so that a bad size fails at configuration rather than at fit.
        self.dimensions = network_dimensions(
            self.hparams.backbone_size, embedding_dim, hidden_size, num_layers
        )
        self.network: AttentionLSTMSeq2Seq | None = None
        self.glove_covered: int | None = None

    def build(self, vocab: Vocabulary) -> None:
        hp = self.hparams
        self.network = AttentionLSTMSeq2Seq(
            vocab.size,
            vocab.pad_token_id,
            **self.dimensions,
            dropout=PAPER_DROPOUT if hp.dropout_rate is None else hp.dropout_rate,
        )
        # The hyperparameters may hold None for a dimension; say what was built.
        rank_zero_info(f"DeepNQG: {self.dimensions} (backbone_size {hp.backbone_size})")
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
        labels = batch[keys.QUESTION_LABELS]
        decoder_input_ids = shift_right(
            labels, self.vocab.question_start_token_id, self.vocab.pad_token_id
        )
        logits = self.network(batch[keys.INPUT_IDS], batch[keys.INPUT_MASK], decoder_input_ids)
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)
        return {"loss": loss, "question_loss": loss}

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        vocab = self.vocab
        question_ids, _ = lstm_generate(
            self.network,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            start_token_id=vocab.question_start_token_id,
            eos_token_id=vocab.eos_token_id,
            pad_token_id=vocab.pad_token_id,
            max_length=self.hparams.max_question_length,
            num_beams=self.hparams.num_beams,
        )
        return {"question": self.decode(question_ids)}
