"""Sentence segmentation and the paper's one-QA-pair-per-segment rule.

The paper (4.1) splits SQuAD and NewsQA contexts so that each segment holds exactly one QA
pair, and drops answers not found in their segment. We segment with pysbd, a rule-based
segmenter that needs no model download (nltk's Punkt does), and assign each QA pair to the
sentence that contains its whole answer span.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import pysbd

from qapgen.data.records import QARecord


@dataclass(frozen=True)
class Segment:
    """A sentence of a context: its text and its [start, end) character span there."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def split_sentences(text: str) -> list[Segment]:
    """Split ``text`` into sentences with exact character spans (whitespace trimmed).

    Newlines always end a sentence (news stories put headlines and bylines on their own
    lines), then pysbd splits each line.
    """
    segments: list[Segment] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            for span in _segmenter().segment(line):
                piece = span.sent
                stripped = piece.strip()
                if not stripped:
                    continue
                start = offset + span.start + (len(piece) - len(piece.lstrip()))
                segments.append(Segment(stripped, start, start + len(stripped)))
        offset += len(line) + 1
    return segments


def segment_records(records: Sequence[QARecord], dropped: Counter[str]) -> list[QARecord]:
    """Apply the one-QA-pair rule to records that share contexts.

    Records are grouped by (article, context). Each record goes to the sentence that holds
    its whole answer span; a sentence with exactly one record becomes that record's new
    context. Every other record is counted in ``dropped`` by reason:
    ``answer_crosses_sentences`` (no single sentence holds the span) and
    ``segment_has_multiple_qa`` (its sentence holds other QA pairs too).
    """
    by_context: dict[tuple[str, str], list[QARecord]] = defaultdict(list)
    for record in records:
        by_context[(record.article_id, record.context)].append(record)

    kept: list[QARecord] = []
    for (_, context), group in by_context.items():
        sentences = split_sentences(context)
        assigned: dict[int, list[QARecord]] = defaultdict(list)
        for record in group:
            if record.answer_start is None:
                raise ValueError(f"record {record.id}: segmentation needs an answer offset")
            end = record.answer_start + len(record.answer)
            index = next(
                (
                    i
                    for i, s in enumerate(sentences)
                    if s.start <= record.answer_start and end <= s.end
                ),
                None,
            )
            if index is None:
                dropped["answer_crosses_sentences"] += 1
            else:
                assigned[index].append(record)
        for index, members in sorted(assigned.items()):
            if len(members) > 1:
                dropped["segment_has_multiple_qa"] += len(members)
                continue
            (record,) = members
            sentence = sentences[index]
            kept.append(
                replace(
                    record,
                    context=sentence.text,
                    answer_start=record.answer_start - sentence.start,
                    source={
                        **record.source,
                        "sentence_index": index,
                        "sentence_start": sentence.start,
                    },
                )
            )
    return kept
