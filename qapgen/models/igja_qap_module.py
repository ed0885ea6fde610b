"""IGJA-QAP as a LightningModule on the shared base, with the paper's ablations as switches.

``conf/model/igja_qap.yaml`` is the full model; ``igja_qap_no_gate.yaml`` (Ours-gate),
``igja_qap_two_decoders.yaml`` (Ours-two-decoder) and ``igja_qap_no_pointer.yaml``
(Ours-pointer) flip one switch each.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from qapgen.data import batch_keys as keys
from qapgen.models.backbone import attention_heads
from qapgen.models.base import (
    GenerationOptions,
    PairCandidate,
    QAPModule,
    Vocabulary,
    best_pairs,
    group_candidates,
)
from qapgen.models.gate import GateFusion
from qapgen.models.igja_decoding import decode_pairs
from qapgen.models.igja_qap import IGJAQAP, LossReduction
from qapgen.models.segment_packing import packed_width


class IGJAQAPModule(QAPModule):
    """IGJA-QAP (paper eqs 1-14): shared T5 decoder, pointer answers, answer-guided gate.

    Args:
        use_gate: False is the Ours-gate ablation.
        use_pointer: False is the Ours-pointer ablation.
        shared_decoder: False is the Ours-two-decoder ablation.
        gate_heads: the gate's head count y; None takes the backbone's attention head count
            (12 at T5-base, so k = d_model / y = 64 as in the paper).
        gate_activation: ``identity`` (the paper's G = W_g h^a_dec) or ``sigmoid``.
        gate_fusion: how the gate's h_ques reaches the question generator: ``residual``
            (h^q + h_ques) or ``replace`` (h_ques alone, rank-limited).
        separate_generators: each task its own head (W_a, b_a; W_q, b_q), both initialised
            from the backbone's LM head; False ties both to the backbone's head.
        loss_reduction: eq. 14 over ``sequence`` negative log-likelihoods or per-task
            ``token`` means. Both are logged for both tasks either way
            (``train/question_loss`` per token, ``train/question_sequence_loss``).
        **kwargs: the shared base's arguments (backbone, optimiser, generation, metrics).
    """

    def __init__(
        self,
        use_gate: bool = True,
        use_pointer: bool = True,
        shared_decoder: bool = True,
        gate_heads: int | None = None,
        gate_activation: Literal["identity", "sigmoid"] = "identity",
        gate_fusion: GateFusion = "residual",
        separate_generators: bool = True,
        loss_reduction: LossReduction = "sequence",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.core: IGJAQAP | None = None

    def build(self, vocab: Vocabulary) -> None:
        hp = self.hparams
        backbone = self.load_backbone(vocab)
        self.core = IGJAQAP(
            backbone,
            answer_start_token_id=vocab.answer_start_token_id,
            question_start_token_id=vocab.question_start_token_id,
            max_answer_length=hp.max_answer_length,
            max_question_length=hp.max_question_length,
            gate_heads=hp.gate_heads or attention_heads(backbone.config),
            use_gate=hp.use_gate,
            use_pointer=hp.use_pointer,
            shared_decoder=hp.shared_decoder,
            gate_activation=hp.gate_activation,
            gate_fusion=hp.gate_fusion,
            separate_generators=hp.separate_generators,
            loss_reduction=hp.loss_reduction,
        )

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        out = self.core(
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            batch[keys.ANSWER_LABELS],
            batch[keys.QUESTION_LABELS],
            decoder_width=self._decoder_width(batch),
        )
        return {
            "loss": out.loss,
            "answer_loss": out.answer_loss,
            "question_loss": out.question_loss,
            "answer_sequence_loss": out.answer_sequence_loss,
            "question_sequence_loss": out.question_sequence_loss,
        }

    @staticmethod
    def _decoder_width(batch: dict[str, Any]) -> int | None:
        """The packed answer-and-question width: the collator's (counted on the host), or
        read here where the labels are on the CPU anyway. A compiled step gets None (L + M:
        a shape the length buckets bound, and no data-dependent size in the graph)."""
        if keys.ANSWER_QUESTION_WIDTH in batch:
            return batch[keys.ANSWER_QUESTION_WIDTH]
        labels = batch[keys.ANSWER_LABELS]
        if labels.device.type != "cpu" or torch.compiler.is_compiling():
            return None
        return packed_width(labels, batch[keys.QUESTION_LABELS])

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return best_pairs(self.generate_candidates(batch, score=False))

    def generate_candidates(
        self, batch: dict[str, Any], options: GenerationOptions | None = None, *, score: bool = True
    ) -> list[list[PairCandidate]]:
        """K pairs per input (`igja_decoding.decode_pairs`): K answers (beam n-best or
        nucleus samples, optionally constrained to the context), then a gated question for
        each answer; ``score`` adds their sequence log-probabilities."""
        options = options or GenerationOptions()
        vocab = self.vocab
        special = (
            self.tokenizer.all_special_ids
            if self.tokenizer is not None
            else [vocab.pad_token_id, vocab.eos_token_id]
        )
        out = decode_pairs(
            self.core,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            options,
            num_beams=self.hparams.num_beams,
            special_token_ids=special,
            max_answer_length=self.hparams.max_answer_length,
            max_question_length=self.hparams.max_question_length,
            score=score,
        )
        return group_candidates(
            self.decode(out.answer_ids),
            self.decode(out.question_ids),
            None if out.answer_log_probs is None else out.answer_log_probs.tolist(),
            None if out.question_log_probs is None else out.question_log_probs.tolist(),
            options.num_return_sequences,
        )
