"""T5-E2E (Su 2020, "end-to-end QA pair generation"): one decoder writes the answer, a
separator, then the question, as one sequence.

Answer first, as in the blog post: "context -> answer" and "context + answer -> question"
are easier than the other order. The separator is the T5 sentinel ``<extra_id_2>`` (0 and 1
are the answer and question start tokens), or ``<sep>`` as patil-suraj's end-to-end models
write it. The blog samples answers for diversity; here the
whole sequence is beam-searched like every other model, so that scores compare
(``qapgen generate --sample`` samples it).
"""

from __future__ import annotations

from typing import Any

import torch

from qapgen.data import batch_keys as keys
from qapgen.data.features import CONTEXT_INPUT, TextFeature, source_feature
from qapgen.models.base import (
    GenerationOptions,
    PairCandidate,
    QAPModule,
    Vocabulary,
    best_pairs,
    group_candidates,
)
from qapgen.models.seq2seq import seq2seq_candidates, seq2seq_loss

SEPARATOR_TOKEN = "<extra_id_2>"
SEPARATORS = (SEPARATOR_TOKEN, "<sep>")


def pair_target(separator: str) -> TextFeature:
    """The "answer SEPARATOR question" target. No spaces around the separator: the target is
    then exactly the answer's tokens, the separator and the question's tokens (a space would
    add a lone "▁" token). The data has no length limit for a pair, so the source limit caps
    it."""
    return TextFeature("pair", "{answer}" + separator + "{question}", "target", "source")


PAIR_TARGET = pair_target(SEPARATOR_TOKEN)


def split_pair(token_ids: list[int], separator_id: int) -> tuple[list[int], list[int]]:
    """(answer ids, question ids) of one generated sequence, split at the first separator.

    Without a separator the decoder stopped before the question: everything is the answer
    and the question is empty. Later separators stay in the question (decoding drops them).
    """
    if separator_id not in token_ids:
        return token_ids, []
    cut = token_ids.index(separator_id)
    return token_ids[:cut], token_ids[cut + 1 :]


def split_log_probs(
    token_ids: torch.Tensor, token_log_probs: torch.Tensor, separator_id: int
) -> tuple[list[float], list[float]]:
    """Per sequence (B, T), the log-probability of the answer part (up to and including the
    first separator; everything when there is none) and of the question part after it."""
    is_separator = token_ids == separator_id
    length = token_ids.size(1)
    cut = torch.where(is_separator.any(dim=1), is_separator.int().argmax(dim=1), length)
    in_answer = torch.arange(length, device=token_ids.device)[None, :] <= cut[:, None]
    answer = (token_log_probs * in_answer).sum(dim=1)
    question = (token_log_probs * ~in_answer).sum(dim=1)
    return answer.tolist(), question.tolist()


class T5E2EModule(QAPModule):
    """Context -> "answer <extra_id_2> question" with one T5 decoder (starting with the
    answer start token). ``answer_loss`` and ``question_loss`` are not separable in one
    sequence, so only ``loss`` is reported.

    Args:
        source_template: the input text (``{context}``, or with a task prefix such as
            ``"generate question and answer: {context}"``).
        separator: ``<extra_id_2>`` or ``<sep>``.
    """

    tasks = ("answer", "question")
    data_features = (CONTEXT_INPUT, PAIR_TARGET)
    # One sequence has one loss: there are no answer and question losses to weigh.
    supports_loss_balancing = False

    def __init__(
        self, source_template: str = "{context}", separator: str = SEPARATOR_TOKEN, **kwargs: Any
    ) -> None:
        if separator not in SEPARATORS:
            raise ValueError(f"separator must be one of {SEPARATORS}, not {separator!r}")
        super().__init__(**kwargs)
        self.separator = separator
        self.pair_target = pair_target(separator)
        # The instance's features replace the class's: the DataModule asks the model.
        self.data_features = (
            source_feature(source_template, allowed=("context",)),
            self.pair_target,
        )

    def build(self, vocab: Vocabulary) -> None:
        self.backbone = self.load_backbone(vocab)
        self.start_token_id = vocab.answer_start_token_id

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        loss = seq2seq_loss(
            self.backbone,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            batch[self.pair_target.labels_key],
            self.start_token_id,
        )
        return {"loss": loss}

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        return best_pairs(self.generate_candidates(batch, score=False))

    def generate_candidates(
        self, batch: dict[str, Any], options: GenerationOptions | None = None, *, score: bool = True
    ) -> list[list[PairCandidate]]:
        """K whole "answer <extra_id_2> question" sequences (beam n-best or samples). With
        ``answer_in_context`` the part before the separator must be a token sequence of
        the context; the question after it is free. A sequence's log-probability is split
        at the separator: the answer's score counts the tokens up to and including it."""
        options = options or GenerationOptions()
        hp = self.hparams
        separator_id = self.tokenizer.convert_tokens_to_ids(self.separator)
        constraint = (
            self.context_constraint(
                batch,
                answer_end_token_id=separator_id,
                vocab_size=self.backbone.config.vocab_size,
            )
            if options.answer_in_context
            else None
        )
        sequences = seq2seq_candidates(
            self.backbone,
            batch[keys.INPUT_IDS],
            batch[keys.INPUT_MASK],
            start_token_id=self.start_token_id,
            max_length=hp.max_answer_length + 1 + hp.max_question_length,
            num_beams=hp.num_beams,
            num_return_sequences=options.num_return_sequences,
            do_sample=options.do_sample,
            top_p=options.top_p,
            constraint=constraint,
            score=score,
        )
        texts = self.parse_pairs(sequences.ids)
        scores = (None, None)
        if score:
            scores = split_log_probs(sequences.ids, sequences.token_log_probs, separator_id)
        return group_candidates(
            texts["answer"], texts["question"], *scores, options.num_return_sequences
        )

    def parse_pairs(self, pair_ids: torch.Tensor) -> dict[str, list[str]]:
        """Generated ids (B, T) -> {"answer": [...], "question": [...]} (see ``split_pair``);
        needs ``self.tokenizer`` (set from the DataModule in ``setup``)."""
        separator_id = self.tokenizer.convert_tokens_to_ids(self.separator)
        answers, questions = zip(
            *(split_pair(row, separator_id) for row in pair_ids.tolist()), strict=True
        )
        return {
            "answer": self._decode_parts(answers),
            "question": self._decode_parts(questions),
        }

    def _decode_parts(self, sequences: tuple[list[int], ...]) -> list[str]:
        return [
            text.strip()
            for text in self.tokenizer.batch_decode(list(sequences), skip_special_tokens=True)
        ]


# The name this class had until December 2026: checkpoints, exported folders and YAML that
# store it still load.
T5E2E = T5E2EModule
