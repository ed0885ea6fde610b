"""Over-long lines: cut into bounded windows before segmentation, linear work, counted."""

from __future__ import annotations

import json
import random
import re
from collections import Counter

import pysbd
import pytest

from qapgen.data import segment
from qapgen.data.fixtures import fixture_path
from qapgen.data.prepare import PrepareOptions, prepare
from qapgen.data.records import QARecord
from qapgen.data.segment import (
    MAX_WINDOW_CHARS,
    WINDOWED,
    needs_windows,
    segment_records,
    text_windows,
    window_cuts,
)

WORDS = "the mill opened in river city king wrote Dr. Hale ran it for forty years".split()


def prose(size: int, seed: int = 0) -> str:
    """Sentences of random words, one line, at least ``size`` characters."""
    rng = random.Random(seed)
    sentences, length = [], 0
    while length < size:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 20))).capitalize()
        sentences.append(sentence + rng.choice(".?!"))
        length += len(sentences[-1]) + 1
    return " ".join(sentences)


@pytest.mark.parametrize(
    "line",
    [prose(50_000), "x" * 45_000, "word " * 9_000, "a. " * 15_000 + "tail", "short line."],
    ids=["prose", "no-spaces", "no-sentence-ends", "tiny-sentences", "short"],
)
def test_windows_cover_each_line_exactly_and_stay_bounded(line):
    text = f"{line}\n\n{line[:100]}"
    spans = text_windows(text)
    assert "".join(text[a:b] for a, b in spans if b <= len(line)) == line
    assert [text[a:b] for a, b in spans if a > len(line)] == ["", line[:100]]
    assert all(b - a <= MAX_WINDOW_CHARS for a, b in spans)
    assert needs_windows(text) == (len(line) > MAX_WINDOW_CHARS)
    if "." in line and len(line) > MAX_WINDOW_CHARS:  # cut after a sentence end
        assert all(text[cut - 1] in ".?!" for cut in window_cuts(text))


def test_pysbd_offsets_found_forward_match_pysbds_own():
    # The linear offset search must give pysbd's own spans: on every fixture line and on
    # lines made to trip it (repeated sentences, abbreviations, runs of spaces).
    lines = []
    for path in fixture_path("squad").glob("*.json"):
        document = json.loads(path.read_text())
        lines += [p["context"] for a in document["data"] for p in a["paragraphs"]]
    stories = json.loads((fixture_path("newsqa") / "combined-newsqa-data-v1.json").read_text())
    lines += [line for story in stories["data"] for line in story["text"].split("\n")]
    rng = random.Random(3)
    pieces = ["a. ", "Dr. ", "U.S. ", "  ", "?! ", "hello ", '"Yes." ', "(1) ", "e.g. "]
    lines += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 50))) for _ in range(200)]
    original = pysbd.Segmenter(language="en", clean=False, char_span=True)
    for line in filter(str.strip, lines):
        ours = [(s.sent, s.start, s.end) for s in segment._segmenter().segment(line)]
        assert ours == [(s.sent, s.start, s.end) for s in original.segment(line)], line


class CountingSegmenter:
    """Stands in for pysbd: splits after each sentence end and records every call's size."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def segment(self, line: str) -> list[pysbd.utils.TextSpan]:
        self.sizes.append(len(line))
        return [
            pysbd.utils.TextSpan(m.group(), m.start(), m.end())
            for m in re.finditer(r"[^.?!]+[.?!]*\s*", line)
        ]


def test_preparing_a_5_mb_line_is_bounded_linear_work_and_counted(tmp_path, monkeypatch):
    counter = CountingSegmenter()
    monkeypatch.setattr(segment, "_segmenter", lambda: counter)
    context = prose(5_000_000)
    answer_at = context.index(". ", len(context) // 2) + 2
    answer = context[answer_at : answer_at + 12]
    document = {
        "data": [
            {
                "title": "huge",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": "q1",
                                "question": "What?",
                                "answers": [{"text": answer, "answer_start": answer_at}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    (tmp_path / "train-v1.1.json").write_text(json.dumps(document))
    options = PrepareOptions(segmenter="pysbd", sentence_policy="every_pair")
    prepared = prepare("squad", tmp_path, options, use_cache=False)

    # Each call is bounded by the window, and all calls together see the text once.
    assert max(counter.sizes) <= MAX_WINDOW_CHARS
    assert len(context) - len(counter.sizes) <= sum(counter.sizes) <= len(context)
    assert len(counter.sizes) <= 2 * len(context) // MAX_WINDOW_CHARS + 1
    (record,) = prepared.splits["train"]
    assert record.context[record.answer_start :].startswith(answer)
    assert len(record.context) < MAX_WINDOW_CHARS
    assert prepared.repaired == {WINDOWED: 1}


def straddling_record() -> QARecord:
    context = "word " * 5_000  # no sentence end: each window is one "sentence"
    (cut,) = window_cuts(context)
    start = cut - 7
    return QARecord("r", "squad", "train", context, "q?", context[start : cut + 6], start, "a")


def test_an_answer_across_a_window_cut_is_dropped_and_counted_or_kept_whole():
    record = straddling_record()
    dropped: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    assert segment_records([record], dropped, "unique", repaired=repaired) == []
    assert dropped == {"answer_crosses_window": 1} and repaired == {WINDOWED: 1}

    dropped.clear()
    (kept,) = segment_records([record], dropped, "every_pair")
    assert not dropped and kept.source["sentence_count"] == 2
    assert kept.context[kept.answer_start :].startswith(record.answer)


def test_real_length_paragraphs_are_not_windowed():
    prepared = prepare("squad", fixture_path("squad"), use_cache=False)
    assert not prepared.repaired
    assert not needs_windows(prose(4_000))
