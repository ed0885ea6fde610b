"""Floors: the derangement, the most frequent text, and floor scores by hand."""

from __future__ import annotations

import pytest

from qapgen.reporting.floors import constant_floor, derangement, most_frequent, shuffled_floor


@pytest.mark.parametrize("n", [2, 3, 7, 50])
def test_derangement_moves_every_item(n):
    mapping = derangement(n, seed=3)
    assert sorted(mapping) == list(range(n))
    assert all(mapping[i] != i for i in range(n))
    assert derangement(n, seed=3) == mapping


def test_most_frequent_is_case_insensitive_and_keeps_first_spelling():
    assert most_frequent(["What year?", "who", "what year?", "Who", "what YEAR?"]) == "What year?"


def test_shuffled_floor_scores_other_items_predictions():
    references = ["alpha beta", "gamma delta", "epsilon zeta"]
    # Perfect predictions score 100 as they are, and 0 once shuffled (no shared words).
    floor = shuffled_floor(references, references, meteor="none")
    assert floor["bleu1"] == 0.0 and floor["rougeL"] == 0.0


def test_constant_floor_by_hand():
    references = ["in 1702", "in 1846", "blue stone"]
    floor = constant_floor("in 1702", references, meteor="none")
    # ROUGE-L F (beta 1.2) per item: 1.0, 0.5, 0.0 -> mean 50.0
    assert floor["rougeL"] == pytest.approx(50.0, abs=0.01)
