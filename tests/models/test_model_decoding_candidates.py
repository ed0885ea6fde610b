"""Decoding building blocks behind K candidates: the context constraint, span n-best and
sampling, and the grouping of flat candidates per input."""

from __future__ import annotations

import math

import pytest
import torch

from baselines.components.span_extraction import best_spans, span_log_probs, top_spans
from qapgen.data.features import IGNORE_INDEX
from qapgen.models.base import PairCandidate, best_pairs, group_candidates
from qapgen.models.constraints import ContextSpanConstraint

EOS, PAD, SEPARATOR = 1, 0, 7


def test_constraint_allows_continuations_of_the_prefix_in_the_context():
    constraint = ContextSpanConstraint([[5, 6, 5, 8]], eos_token_id=EOS, pad_token_id=PAD)
    assert constraint.allowed_tokens(0, []) == [5, 6, 8]  # any context token, not yet </s>
    assert constraint.allowed_tokens(0, [5]) == [EOS, 6, 8]  # both occurrences of 5
    assert constraint.allowed_tokens(0, [5, 8]) == [EOS]  # the context ends there
    assert constraint.allowed_tokens(0, [6, 8]) == [EOS]  # not a sequence of the context
    assert constraint.allowed_tokens(0, [5, 6, EOS]) == [PAD, EOS]  # finished


def test_constraint_with_a_separator_frees_what_follows_the_answer():
    constraint = ContextSpanConstraint(
        [[5, 6]], eos_token_id=EOS, pad_token_id=PAD, answer_end_token_id=SEPARATOR, vocab_size=9
    )
    assert constraint.allowed_tokens(0, [5]) == [6, SEPARATOR]  # ends with the separator
    assert constraint.allowed_tokens(0, [5, SEPARATOR]) == list(range(9))
    assert constraint.allowed_tokens(0, [5, SEPARATOR, 3, EOS]) == [PAD, EOS]
    with pytest.raises(ValueError, match="vocab_size"):
        ContextSpanConstraint([[5]], eos_token_id=EOS, pad_token_id=PAD, answer_end_token_id=7)


def test_constraint_rows_follow_expanded_generate_rows():
    constraint = ContextSpanConstraint([[5], [6]], eos_token_id=EOS, pad_token_id=PAD)
    expanded = constraint.for_rows([0, 0, 1, 1])
    assert [expanded.allowed_tokens(row, []) for row in range(4)] == [[5], [5], [6], [6]]
    # generate passes the start token first; the call strips it
    assert expanded(2, torch.tensor([99, 6])) == [EOS]


START = torch.tensor([[2.0, 1.0, 0.0, float("-inf")]])  # position 3 is padding
END = torch.tensor([[0.5, 3.0, 1.0, float("-inf")]])


def test_span_log_probs_are_independent_start_and_end_log_softmaxes():
    scores = span_log_probs(START, END, max_span_length=2)
    log_start = [2 - math.log(math.e**2 + math.e + 1), 1 - math.log(math.e**2 + math.e + 1)]
    log_end = [v - math.log(math.e**0.5 + math.e**3 + math.e) for v in (0.5, 3.0, 1.0)]
    assert scores[0, 0, 1].item() == pytest.approx(log_start[0] + log_end[1])
    assert scores[0, 1, 2].item() == pytest.approx(log_start[1] + log_end[2])
    assert scores[0, 0, 2].item() == float("-inf")  # three tokens: too long
    assert scores[0, 1, 0].item() == float("-inf")  # ends before it starts
    assert scores[0, 3, 3].item() == float("-inf")  # padding


def test_top_spans_are_the_n_best_and_pad_with_no_span():
    spans = top_spans(START, END, max_span_length=2, k=3)
    # logit sums (the normalisers are shared): (0,1) 5, (1,1) 4, (0,0) 2.5, (1,2) 2, (2,2) 1
    assert list(zip(spans.starts[0].tolist(), spans.ends[0].tolist(), strict=True)) == [
        (0, 1),
        (1, 1),
        (0, 0),
    ]
    starts, ends = best_spans(START, END, max_span_length=2)
    assert (spans.starts[0, 0], spans.ends[0, 0]) == (starts[0], ends[0])
    assert spans.log_probs[0].tolist() == sorted(spans.log_probs[0].tolist(), reverse=True)
    # a one-token context has one span: the other candidates are "no span"
    one = top_spans(torch.tensor([[0.0]]), torch.tensor([[0.0]]), max_span_length=3, k=3)
    assert one.starts.tolist() == [[0, IGNORE_INDEX, IGNORE_INDEX]]
    assert one.log_probs[0, 0].item() == 0.0 and one.log_probs[0, 1].item() == float("-inf")


def test_sampled_spans_stay_in_the_nucleus_and_repeat_with_the_seed():
    generator = torch.Generator().manual_seed(0)
    # a tiny nucleus holds only the best span
    narrow = top_spans(START, END, 2, k=20, do_sample=True, top_p=0.01, generator=generator)
    assert set(zip(narrow.starts[0].tolist(), narrow.ends[0].tolist(), strict=True)) == {(0, 1)}
    wide = top_spans(START, END, 2, k=200, do_sample=True, top_p=1.0, generator=generator)
    drawn = set(zip(wide.starts[0].tolist(), wide.ends[0].tolist(), strict=True))
    assert (0, 1) in drawn and len(drawn) > 1
    assert drawn <= {(0, 0), (0, 1), (1, 1), (1, 2), (2, 2)}  # allowed spans only
    again = top_spans(
        START, END, 2, k=200, do_sample=True, top_p=1.0, generator=torch.Generator().manual_seed(5)
    )
    same = top_spans(
        START, END, 2, k=200, do_sample=True, top_p=1.0, generator=torch.Generator().manual_seed(5)
    )
    assert torch.equal(again.starts, same.starts) and torch.equal(again.ends, same.ends)


def test_group_candidates_splits_input_major_rows_and_best_pairs_takes_the_first():
    grouped = group_candidates(["a1", "a2", "b1", "b2"], ["q1", "q2", "r1", "r2"], None, [
        -1.0, -2.0, -3.0, -4.0
    ], per_row=2)  # fmt: skip
    assert grouped == [
        [PairCandidate("a1", "q1", None, -1.0), PairCandidate("a2", "q2", None, -2.0)],
        [PairCandidate("b1", "r1", None, -3.0), PairCandidate("b2", "r2", None, -4.0)],
    ]
    assert best_pairs(grouped) == {"answer": ["a1", "b1"], "question": ["q1", "r1"]}
