"""Published checkpoints' formats: the input text each format builds, the output it reads
back, and the evaluation's counts and scores on hand-made outputs."""

from __future__ import annotations

import pytest

from qapgen.data.highlight import highlight_answer
from qapgen.data.records import QARecord
from qapgen.metrics.pair_alignment import QAPair, qa_aligned_f1
from qapgen.published.evaluation import evaluate_published
from qapgen.published.formats import FORMATS, parse_pairs, parse_questions

SENTENCE = "Heresy is at variance with established beliefs or customs. A heretic dissents."
RECORD = QARecord("r1", "squad", "test", SENTENCE, "What is heresy at odds with?",
                  "established beliefs or customs", 27)  # fmt: skip


def test_highlighting_follows_qg_bench_and_the_spaced_variant():
    # QG-Bench's paragraph_answer: "...variance with <hl> established beliefs or customs <hl>. A"
    assert highlight_answer(RECORD) == (
        "Heresy is at variance with <hl> established beliefs or customs <hl>. A heretic dissents."
    )
    assert highlight_answer(RECORD, spaced=True) == (
        "Heresy is at variance with  <hl> established beliefs or customs <hl> . A heretic dissents."
    )


def test_a_wrong_offset_falls_back_to_the_answers_first_occurrence_and_a_free_answer_to_none():
    shifted = QARecord("r2", "squad", "test", SENTENCE, "q", "heretic", 0)
    assert highlight_answer(shifted).startswith(
        "Heresy is at variance with established beliefs or customs. A <hl> heretic <hl>"
    )
    free = QARecord("r3", "coqa", "test", SENTENCE, "q", "yes", None)
    assert highlight_answer(free) is None
    assert FORMATS["lmqg-qg"].source(free) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lmqg-qg", "generate question: Heresy is at variance with <hl> established beliefs or "
         "customs <hl>. A heretic dissents."),
        ("valhalla-hl", "generate question: Heresy is at variance with  <hl> established beliefs "
         "or customs <hl> . A heretic dissents. </s>"),
        ("lmqg-qag", f"generate question and answer: {SENTENCE}"),
        ("valhalla-e2e", f"generate questions: {SENTENCE} </s>"),
    ],
)  # fmt: skip
def test_each_format_builds_its_checkpoints_input(name, expected):
    assert FORMATS[name].source(RECORD) == expected


def test_pairs_are_read_back_and_unreadable_parts_counted():
    text = "question: Who ruled York?, answer: Ann | question: When?, answer: 1066 | no pair here"
    assert parse_pairs(text) == ([("Who ruled York?", "Ann"), ("When?", "1066")], 1)
    assert parse_pairs("") == ([], 0)


def test_end_to_end_questions_are_split_at_sep():
    assert parse_questions("Who ruled? <sep> When was it? <sep>") == ["Who ruled?", "When was it?"]


def exact(hypotheses, references):
    return [float(h == r) for h, r in zip(hypotheses, references, strict=True)]


def echo_score(predictions, references):
    return {"n": len(predictions), "predictions": predictions, "references": references}


def test_pair_outputs_are_scored_per_context_with_every_part_accounted_for():
    other = QARecord("r4", "squad", "test", "Rome is in Italy.", "Where is Rome?", "Italy", 11)
    second = QARecord("r5", "squad", "test", SENTENCE, "Who dissents?", "A heretic", 59)
    outputs = {
        FORMATS["lmqg-qag"].source(RECORD): "question: Who dissents?, answer: A heretic | junk",
        FORMATS["lmqg-qag"].source(other): "",
    }

    result = evaluate_published(
        [RECORD, other, second],
        FORMATS["lmqg-qag"],
        lambda sources: [outputs[s] for s in sources],
        echo_score,
        similarity=exact,
    )

    assert result.counts == {
        "records": 3, "contexts": 2, "questions_generated": 1, "contexts_without_questions": 1,
        "output_parts_not_a_pair": 1,
    }  # fmt: skip
    # The one generated question is scored against both gold questions of its sentence.
    assert result.question["references"] == [["What is heresy at odds with?", "Who dissents?"]]
    gold = [
        [QAPair(RECORD.question, RECORD.answer), QAPair(second.question, second.answer)],
        [QAPair(other.question, other.answer)],
    ]
    expected = qa_aligned_f1([[QAPair("Who dissents?", "A heretic")], []], gold, exact)
    # Sentence 1: precision 1, recall 1/2, F1 2/3; sentence 2 nothing generated: 0.
    assert result.pairs["qa_aligned_f1"] == pytest.approx(expected.f1) == pytest.approx(100 / 3)


def test_answer_aware_formats_skip_and_count_answers_outside_their_context():
    free = QARecord("r6", "coqa", "test", SENTENCE, "Is it?", "yes", None)
    result = evaluate_published(
        [RECORD, free], FORMATS["valhalla-hl"], lambda sources: ["What?"] * len(sources), echo_score
    )
    assert result.counts == {"records": 2, "skipped_answer_not_in_context": 1}
    assert result.question["references"] == [[RECORD.question]]
