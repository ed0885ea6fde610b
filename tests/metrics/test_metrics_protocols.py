"""The two protocols: per example, and grouped by context as Du et al.'s script does."""

from __future__ import annotations

import pytest

from qapgen.metrics import group_by_context, score


def test_grouping_pools_references_and_keeps_the_last_prediction():
    predictions, references = group_by_context(
        ["q1", "q2", "q3", "q4"],
        [["g1"], ["g2"], ["g3"], ["g4a", "g4b"]],
        ["ctx A", "ctx B", "ctx A", "ctx A"],
    )
    assert predictions == ["q4", "q2"]  # first-appearance order, last prediction wins
    assert references == [["g1", "g3", "g4a", "g4b"], ["g2"]]


def test_grouped_protocol_scores_each_context_once_against_all_its_gold():
    predictions = ["who wrote hamlet ?", "when was hamlet written ?"]
    references = [["when was hamlet written ?"], ["who wrote hamlet ?"]]
    contexts = ["Hamlet was written by Shakespeare around 1600."] * 2
    per_example = score(predictions, references, meteor="none")
    grouped = score(predictions, references, contexts=contexts, protocol="grouped", meteor="none")
    # Per example both predictions miss their own gold question; grouped, the one scored
    # prediction (the last) matches one of the context's gold questions exactly.
    assert per_example["rougeL"] < 60
    assert grouped["rougeL"] == pytest.approx(100.0)
    assert grouped["bleu4"] == pytest.approx(100.0)
    assert (grouped["n"], grouped["n_examples"], grouped["protocol"]) == (1, 2, "grouped")
    assert (per_example["n"], per_example["protocol"]) == (2, "example")


def test_grouped_equals_example_when_contexts_are_distinct():
    predictions = ["what is it ?", "who is he ?", "where is it"]
    references = [["what is this ?"], ["who is she ?"], ["where is the city ?"]]
    per_example = score(predictions, references, meteor="none")
    grouped = score(
        predictions, references, contexts=["a", "b", "c"], protocol="grouped", meteor="none"
    )
    for key in ("bleu1", "bleu4", "rougeL"):
        assert grouped[key] == pytest.approx(per_example[key])


def test_grouped_protocol_needs_contexts():
    with pytest.raises(ValueError, match="needs contexts"):
        score(["a"], [["a"]], protocol="grouped", meteor="none")
    with pytest.raises(ValueError, match="one context per example"):
        score(["a", "b"], [["a"], ["b"]], contexts=["x"], protocol="grouped", meteor="none")
    with pytest.raises(ValueError, match="unknown protocol"):
        score(["a"], [["a"]], protocol="per-context", meteor="none")


def test_every_result_names_protocol_normalisation_and_implementations():
    result = score(["a b"], [["a b"]], meteor="none")
    assert result["protocol"] == "example"
    assert "PTB" in result["normalisation"]
    assert result["implementations"]["bleu"].startswith("sacrebleu ")
    assert "beta=1.2" in result["implementations"]["rougeL"]
    assert "meteor" not in result and "meteor" not in result["implementations"]
