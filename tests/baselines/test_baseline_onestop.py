"""OneStop: span loss (eq 15), span decoding to text, and generation without gold labels."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
from torch import nn

from baselines.components.span_extraction import best_spans, span_loss, span_texts
from baselines.onestop import OneStopModule
from qapgen.data.features import CONTEXT_INPUT, IGNORE_INDEX, answer_token_span
from qapgen.data.records import QARecord
from qapgen.models.base import Vocabulary
from qapgen.models.seq2seq import seq2seq_loss
from zoo_testing import tiny_model

VOCAB = Vocabulary(
    size=40, pad_token_id=0, eos_token_id=1, answer_start_token_id=39, question_start_token_id=38
)


class FixedSpanHeads(nn.Module):
    """Stands in for the span heads: known logits, masked like the real heads."""

    def __init__(self, start: torch.Tensor, end: torch.Tensor) -> None:
        super().__init__()
        self.start, self.end = start, end

    def forward(self, states, valid):
        return (
            self.start.masked_fill(~valid, float("-inf")),
            self.end.masked_fill(~valid, float("-inf")),
        )


def tiny_onestop(answer_loss_weight: float) -> OneStopModule:
    torch.manual_seed(0)
    module = OneStopModule(
        answer_loss_weight=answer_loss_weight,
        backbone_size="tiny",
        dropout_rate=0.0,
        meteor="none",
        vocab=asdict(VOCAB),
    )
    module.configure_model()
    return module.eval()


def hand_nll(logits: torch.Tensor, valid: torch.Tensor, gold: int) -> float:
    """-log softmax over the valid positions only, at the gold position."""
    kept = logits[valid]
    return -(logits[gold] - torch.logsumexp(kept, dim=0)).item()


def test_loss_is_lambda_weighted_span_loss_over_span_examples_only():
    generator = torch.Generator().manual_seed(0)
    # row 0: answer at position 0; row 1: a later span; row 2: not a span (free-form answer)
    input_ids = torch.tensor([[5, 6, 7, 8, 1], [9, 10, 11, 1, 0], [12, 13, 14, 15, 1]])
    attention_mask = (input_ids != 0).long()
    valid = attention_mask.bool() & (input_ids != 1)
    starts, ends = torch.tensor([0, 1, IGNORE_INDEX]), torch.tensor([1, 2, IGNORE_INDEX])
    start_logits = torch.randn(3, 5, generator=generator)
    end_logits = torch.randn(3, 5, generator=generator)
    question_labels = torch.tensor([[20, 21, 1], [22, 1, IGNORE_INDEX], [23, 24, 1]])
    batch = {
        "input_ids": input_ids,
        "input_attention_mask": attention_mask,
        "question_labels": question_labels,
        "answer_start_positions": starts,
        "answer_end_positions": ends,
    }
    module = tiny_onestop(answer_loss_weight=0.3)
    module.span_heads = FixedSpanHeads(start_logits, end_logits)
    losses = module.compute_losses(batch)

    expected_answer = (
        sum(
            (
                hand_nll(start_logits[i], valid[i], starts[i])
                + hand_nll(end_logits[i], valid[i], ends[i])
            )
            / 2
            for i in (0, 1)
        )
        / 2
    )
    expected_question = seq2seq_loss(
        module.backbone, input_ids, attention_mask, question_labels, VOCAB.question_start_token_id
    ).item()
    assert losses["answer_loss"].item() == pytest.approx(expected_answer, rel=1e-5)
    assert losses["question_loss"].item() == pytest.approx(expected_question, rel=1e-5)
    assert losses["loss"].item() == pytest.approx(
        0.3 * expected_answer + 0.7 * expected_question, rel=1e-5
    )

    # the non-span row does not count, whatever its logits; the position-0 row does
    module.span_heads = FixedSpanHeads(
        start_logits.index_put((torch.tensor(2), torch.tensor(0)), torch.tensor(50.0)), end_logits
    )
    assert module.compute_losses(batch)["answer_loss"].item() == pytest.approx(expected_answer)
    module.span_heads = FixedSpanHeads(
        start_logits.index_put((torch.tensor(0), torch.tensor(0)), torch.tensor(50.0)), end_logits
    )
    assert module.compute_losses(batch)["answer_loss"].item() < expected_answer - 0.1


def test_span_loss_without_any_span_is_zero_and_differentiable():
    logits = torch.randn(2, 4, requires_grad=True)
    none = torch.full((2,), IGNORE_INDEX)
    result = span_loss(logits, logits, none, none)
    assert result.loss.item() == 0.0 and result.span_fraction.item() == 0.0
    result.loss.backward()
    assert logits.grad is not None


def test_best_span_respects_order_length_and_allows_position_zero():
    start = torch.tensor([[5.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 9.0]])
    end = torch.tensor([[0.0, 0.0, 0.0, 6.0], [9.0, 0.0, 0.0, 1.0]])
    starts, ends = best_spans(start, end, max_span_length=4)
    assert starts.tolist() == [0, 3] and ends.tolist() == [3, 3]  # row 1: (3, 0) would score 18
    starts, ends = best_spans(start, end, max_span_length=2)
    assert (starts[0].item(), ends[0].item()) == (2, 3)  # (0, 3) is 4 tokens long


def test_span_texts_map_token_spans_to_context_characters(fixture_tokenizer):
    contexts = ["Tobias Orrin built the first loom in 1811.", "It rained at dusk , twice."]
    answers = [("Tobias Orrin", 0), ("at dusk", 10)]
    encoded = fixture_tokenizer(contexts, return_offsets_mapping=True)
    width = max(len(ids) for ids in encoded["input_ids"])
    input_ids = torch.zeros(2, width, dtype=torch.long)
    spans = []
    for row, ids in enumerate(encoded["input_ids"]):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        answer, start = answers[row]
        record = QARecord(
            id=str(row),
            dataset="squad",
            split="train",
            context=contexts[row],
            question="?",
            answer=answer,
            answer_start=start,
        )
        spans.append(answer_token_span(record, CONTEXT_INPUT, encoded["offset_mapping"][row]))
    assert spans[0][0] == 0  # the first answer starts at token 0
    starts = torch.tensor([s for s, _ in spans])
    ends = torch.tensor([e for _, e in spans])
    assert span_texts(fixture_tokenizer, contexts, input_ids, starts, ends) == [
        "Tobias Orrin",
        "at dusk",
    ]
    # row 0: no span (-100) gives ""; row 1: from token 0 to the end of "at dusk"
    starts, ends = torch.tensor([IGNORE_INDEX, 0]), torch.tensor([IGNORE_INDEX, spans[1][1]])
    texts = span_texts(fixture_tokenizer, contexts, input_ids, starts, ends)
    assert texts == ["", "It rained at dusk"]
    with pytest.raises(ValueError, match="not the plain tokenization"):
        span_texts(fixture_tokenizer, contexts[::-1], input_ids, starts, ends)


def test_generation_needs_no_gold_question_and_answers_are_context_text(fixture_tokenizer):
    module = tiny_model(OneStopModule, fixture_tokenizer)
    contexts = ["The mill stood by the river.", "Tobias Orrin built the first loom in 1811."]
    encoded = fixture_tokenizer(contexts, padding=True, return_tensors="pt")
    # only what exists at inference: no question labels, no answer positions
    batch = {
        "contexts": contexts,
        "input_ids": encoded["input_ids"],
        "input_attention_mask": encoded["attention_mask"],
    }
    outputs = module.eval().generate_batch(batch)
    assert len(outputs["question"]) == 2
    for context, answer in zip(contexts, outputs["answer"], strict=True):
        assert answer and answer in context
