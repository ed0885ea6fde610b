"""Sentence segmentation and the two ways of turning a paragraph's QA pairs into records.

The paper (4.1) splits SQuAD and NewsQA contexts so that each segment holds exactly one QA
pair, and drops answers not found in their segment. Two segmenters, neither needing a
download: ``pysbd`` (rule-based) and ``punkt`` (nltk's unsupervised Punkt, trained on the
paragraphs it will segment, since its pretrained English model is a download; training on
the text to be split is what Punkt was designed for). Newlines always end a sentence. Each
QA pair goes to the sentence that contains its answer span. Then the sentence policy:

- ``unique``: a sentence becomes a record only when exactly one QA pair falls in it; pairs
  that share a sentence, and answers that cross a sentence boundary, are dropped (counted).
  The paper's text read literally; what its SQuAD counts come closest to.
- ``every_pair``: every QA pair becomes a record whose context is the sentence holding its
  answer, or the run of consecutive sentences an answer crosses. Nothing is dropped. What
  the paper's NewsQA counts (the official split sizes) imply, and Du et al. (2017)'s
  sentence-question pairs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

import pysbd
from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

from qapgen.data.records import QARecord

SentencePolicy = Literal["unique", "every_pair"]
SENTENCE_POLICIES: tuple[str, ...] = ("unique", "every_pair")
Segmenter = Literal["pysbd", "punkt"]
SEGMENTERS: tuple[str, ...] = ("pysbd", "punkt")


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
    """Split ``text`` into sentences with pysbd, with exact character spans (whitespace
    trimmed). Newlines always end a sentence (news stories put headlines and bylines on
    their own lines), then pysbd splits each line."""
    return _split_lines(text, _pysbd_spans)


def _pysbd_spans(line: str) -> Iterable[tuple[int, int]]:
    for span in _segmenter().segment(line):
        yield span.start, span.start + len(span.sent)


def _split_lines(text: str, spans: Callable[[str], Iterable[tuple[int, int]]]) -> list[Segment]:
    segments: list[Segment] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            for start, end in spans(line):
                piece = line[start:end]
                stripped = piece.strip()
                if not stripped:
                    continue
                first = offset + start + (len(piece) - len(piece.lstrip()))
                segments.append(Segment(stripped, first, first + len(stripped)))
        offset += len(line) + 1
    return segments


def train_punkt(paragraphs: Iterable[str]) -> Callable[[str], list[Segment]]:
    """A Punkt segmenter trained (unsupervised: abbreviations, collocations, sentence
    starters) on ``paragraphs``; deterministic for the same set of paragraphs."""
    trainer = PunktTrainer()
    trainer.INCLUDE_ALL_COLLOCS = True
    trainer.train("\n\n".join(sorted(set(paragraphs))), finalize=True)
    tokenizer = PunktSentenceTokenizer(trainer.get_params())
    return lambda text: _split_lines(text, tokenizer.span_tokenize)


def make_segmenter(name: Segmenter, paragraphs: Iterable[str]) -> Callable[[str], list[Segment]]:
    """The sentence splitter ``name``; Punkt is trained on ``paragraphs`` first."""
    if name == "pysbd":
        return split_sentences
    if name == "punkt":
        return train_punkt(paragraphs)
    raise ValueError(f"segmenter must be one of {SEGMENTERS}, not {name!r}")


def segment_records(
    records: Sequence[QARecord],
    dropped: Counter[str],
    policy: SentencePolicy = "unique",
    splitter: Callable[[str], list[Segment]] = split_sentences,
) -> list[QARecord]:
    """Turn records that share paragraph contexts into sentence-level records, per ``policy``.

    Records are grouped by (article, context); each goes to the sentence(s) that hold its
    whole answer span. ``unique`` keeps a sentence with exactly one record as that record's
    new context and counts every other record in ``dropped`` by reason:
    ``answer_crosses_sentences`` (no single sentence holds the span) and
    ``segment_has_multiple_qa`` (its sentence holds other QA pairs too). ``every_pair`` keeps
    every record, with the sentence, or consecutive sentences, its answer lies in.
    """
    if policy not in SENTENCE_POLICIES:
        raise ValueError(f"sentence policy must be one of {SENTENCE_POLICIES}, not {policy!r}")
    by_context: dict[tuple[str, str], list[QARecord]] = defaultdict(list)
    for record in records:
        by_context[(record.article_id, record.context)].append(record)

    kept: list[QARecord] = []
    for (_, context), group in by_context.items():
        sentences = splitter(context)
        assigned: dict[int, list[QARecord]] = defaultdict(list)
        for record in group:
            if record.answer_start is None:
                raise ValueError(f"record {record.id}: segmentation needs an answer offset")
            first, last = _covering_sentences(sentences, record)
            if policy == "every_pair":
                kept.append(_sentence_record(record, context, sentences, first, last))
            elif first != last or not _contains(sentences[first], record):
                dropped["answer_crosses_sentences"] += 1
            else:
                assigned[first].append(record)
        for index, members in sorted(assigned.items()):
            if len(members) > 1:
                dropped["segment_has_multiple_qa"] += len(members)
                continue
            kept.append(_sentence_record(members[0], context, sentences, index, index))
    return kept


def _covering_sentences(sentences: Sequence[Segment], record: QARecord) -> tuple[int, int]:
    """The first and last sentence the record's answer span overlaps."""
    start = record.answer_start
    end = start + len(record.answer)
    touched = [i for i, s in enumerate(sentences) if s.start < end and start < s.end]
    if not touched:  # an answer in the whitespace between sentences: the next one
        later = [i for i, s in enumerate(sentences) if s.start >= start]
        touched = [later[0] if later else len(sentences) - 1]
    return touched[0], touched[-1]


def _contains(sentence: Segment, record: QARecord) -> bool:
    return sentence.start <= record.answer_start and (
        record.answer_start + len(record.answer) <= sentence.end
    )


def _sentence_record(
    record: QARecord, context: str, sentences: Sequence[Segment], first: int, last: int
) -> QARecord:
    # Widened to the answer where it reaches into the whitespace around its sentences.
    start = min(sentences[first].start, record.answer_start)
    end = max(sentences[last].end, record.answer_start + len(record.answer))
    return replace(
        record,
        context=context[start:end],
        answer_start=record.answer_start - start,
        source={
            **record.source,
            "sentence_index": first,
            "sentence_start": start,
            **({"sentence_count": last - first + 1} if last > first else {}),
        },
    )
