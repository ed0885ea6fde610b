"""Sentence segmentation and the one-QA-pair-per-sentence rule on hand-made cases."""

from __future__ import annotations

from collections import Counter

import pytest

from qapgen.data.records import QARecord
from qapgen.data.segment import make_segmenter, segment_records, split_sentences

CONTEXT = (
    "The mill opened in 1802. Dr. Hale ran it for forty years, and his daughter ran it after "
    "him.\nIt closed when the river moved. Its wheel still turns today."
)


def record(qid: str, answer: str, start: int | None = None) -> QARecord:
    offset = CONTEXT.find(answer) if start is None else start
    return QARecord(qid, "squad", "train", CONTEXT, f"q {qid}?", answer, offset, "mill")


def test_split_sentences_gives_exact_spans_and_respects_newlines():
    sentences = split_sentences(CONTEXT)
    assert [s.text for s in sentences] == [
        "The mill opened in 1802.",
        "Dr. Hale ran it for forty years, and his daughter ran it after him.",
        "It closed when the river moved.",
        "Its wheel still turns today.",
    ]
    for sentence in sentences:
        assert CONTEXT[sentence.start : sentence.end] == sentence.text


def test_one_qa_pair_rule_keeps_lone_answers_and_counts_the_rest():
    records = [
        record("a", "1802"),  # alone in sentence 0: kept
        record("b", "forty years"),  # shares sentence 1 with c: dropped
        record("c", "his daughter"),
        record("d", "1802. Dr"),  # crosses sentences 0-1: dropped
        record("e", "today"),  # alone in sentence 3: kept
    ]
    dropped: Counter[str] = Counter()
    kept = segment_records(records, dropped)
    assert [r.id for r in kept] == ["a", "e"]
    assert dropped == {"segment_has_multiple_qa": 2, "answer_crosses_sentences": 1}
    a, e = kept
    assert a.context == "The mill opened in 1802."
    assert a.context[a.answer_start : a.answer_start + 4] == "1802"
    assert e.context == "Its wheel still turns today."
    assert e.answer_start == e.context.index("today")
    assert e.source["sentence_index"] == 3


def test_a_crossing_answer_does_not_block_its_sentence():
    records = [record("a", "1802"), record("d", "1802. Dr")]
    dropped: Counter[str] = Counter()
    kept = segment_records(records, dropped)
    assert [r.id for r in kept] == ["a"]
    assert dropped == {"answer_crosses_sentences": 1}


def test_every_pair_policy_keeps_shared_sentences_and_joins_crossed_ones():
    records = [
        record("a", "1802"),
        record("b", "forty years"),  # shares sentence 1 with c: both kept, same context
        record("c", "his daughter"),
        record("d", "1802. Dr"),  # crosses sentences 0-1: both sentences are its context
    ]
    dropped: Counter[str] = Counter()
    kept = {r.id: r for r in segment_records(records, dropped, "every_pair")}
    assert not dropped and sorted(kept) == ["a", "b", "c", "d"]
    sentence_1 = "Dr. Hale ran it for forty years, and his daughter ran it after him."
    assert kept["b"].context == kept["c"].context == sentence_1
    assert kept["d"].context == "The mill opened in 1802. " + sentence_1
    assert kept["d"].source["sentence_count"] == 2
    for r in kept.values():
        assert r.context[r.answer_start : r.answer_start + len(r.answer)] == r.answer


def test_punkt_learns_abbreviations_from_the_paragraphs_it_segments():
    # "Dr." is frequent and never ends a sentence in these paragraphs, so Punkt learns it as
    # an abbreviation; trained on nothing, it splits after it.
    paragraphs = [
        f"Dr. Hale{i} ran the mill for {i} years. Dr. Vos closed it. The town grew."
        for i in range(60)
    ]
    split = make_segmenter("punkt", paragraphs)
    assert [s.text for s in split(CONTEXT)] == [s.text for s in split_sentences(CONTEXT)]
    assert "Dr." in [s.text for s in make_segmenter("punkt", [])(CONTEXT)]
    for sentence in split(CONTEXT):
        assert CONTEXT[sentence.start : sentence.end] == sentence.text
    assert make_segmenter("pysbd", []) is split_sentences


def test_unknown_policy_or_segmenter_is_named():
    with pytest.raises(ValueError, match="sentence policy"):
        segment_records([record("a", "1802")], Counter(), "all")
    with pytest.raises(ValueError, match="segmenter"):
        make_segmenter("spacy", [])
