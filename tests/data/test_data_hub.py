"""Hub rows are written out as the official formats and read by the same readers."""

from __future__ import annotations

from qapgen.data.readers import read_source
from qapgen.data.readers.hub import write_coqa, write_mrqa, write_squad

CONTEXT = "The red door opened. A cat walked in."


def test_squad_rows_round_trip(tmp_path):
    rows = [
        {
            "id": "1",
            "title": "Doors",
            "context": CONTEXT,
            "question": "What opened?",
            "answers": {"text": ["The red door"], "answer_start": [0]},
        },
        {
            "id": "2",
            "title": "Doors",
            "context": CONTEXT,
            "question": "Who walked in?",
            "answers": {"text": ["A cat", "cat"], "answer_start": [21, 23]},
        },
    ]
    write_squad({"dev": rows}, tmp_path)
    results, _ = read_source("squad", tmp_path)
    records = results["dev"].records
    assert [(r.id, r.answer, r.answer_start) for r in records] == [
        ("1", "The red door", 0),
        ("2", "A cat", 21),
    ]
    assert records[1].source["alternatives"] == ["cat"]


def test_coqa_rows_round_trip(tmp_path):
    rows = [
        {
            "source": "wiki",
            "story": CONTEXT,
            "questions": ["What opened?", "Who came?"],
            "answers": {
                "input_text": ["a door", "unknown"],
                "answer_start": [0, -1],
                "answer_end": [12, -1],
            },
        }
    ]
    write_coqa({"train": rows}, tmp_path)
    results, _ = read_source("coqa", tmp_path)
    records = results["train"].records
    assert [r.answer for r in records] == ["a door", "unknown"]
    assert [bool(r.source.get("unanswerable")) for r in records] == [False, True]
    assert not results["train"].dropped


def test_mrqa_rows_round_trip_and_filter_the_subset(tmp_path):
    def row(qid, subset):
        return {
            "subset": subset,
            "context": CONTEXT,
            "qid": qid,
            "question": "Who?",
            "answers": ["A cat"],
            "detected_answers": {"text": ["A cat"], "char_spans": [{"start": [21], "end": [25]}]},
        }

    write_mrqa({"train": [row("a", "NewsQA"), row("b", "SQuAD")]}, tmp_path, "NewsQA")
    results, _ = read_source("newsqa", tmp_path)
    assert [(r.id, r.answer) for r in results["train"].records] == [("a", "A cat")]
