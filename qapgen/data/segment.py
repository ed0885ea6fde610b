"""Sentence segmentation, the two ways of turning a paragraph's QA pairs into sentence-level
records, and the marking of each answer's sentence in paragraph-level ones.

The paper (4.1) splits SQuAD and NewsQA contexts so that each segment holds exactly one QA
pair, and drops answers not found in their segment. Two segmenters, neither needing a
download: ``pysbd`` (rule-based) and ``punkt`` (nltk's unsupervised Punkt, trained on the
paragraphs it will segment, since its pretrained English model is a download; training on
the text to be split is what Punkt was designed for). Newlines always end a sentence, and a
line longer than ``MAX_WINDOW_CHARS`` is cut into windows first (see ``text_windows``), so
the work per call is bounded and the whole is linear in the text. Each QA pair goes to the
sentence that contains its answer span. Then the sentence policy:

- ``unique``: a sentence becomes a record only when exactly one QA pair falls in it; pairs
  that share a sentence, and answers that cross a sentence boundary, are dropped (counted).
  The paper's text read literally; what its SQuAD counts come closest to.
- ``every_pair``: every QA pair becomes a record whose context is the sentence holding its
  answer, or the run of consecutive sentences an answer crosses. Nothing is dropped. What
  the paper's NewsQA counts (the official split sizes) imply, and Du et al. (2017)'s
  sentence-question pairs.

Paragraph-level records (QG-Bench's) keep the paragraph, and the sentence ``every_pair``
would take is marked in it (``mark_answer_sentences``).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

import pysbd
from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer
from pysbd.utils import TextSpan

from qapgen.data.records import QARecord, sentence_span, with_sentence_mark

SentencePolicy = Literal["unique", "every_pair"]
SENTENCE_POLICIES: tuple[str, ...] = ("unique", "every_pair")
Segmenter = Literal["pysbd", "punkt"]
SEGMENTERS: tuple[str, ...] = ("pysbd", "punkt")

# The longest line a segmenter is given at once. pysbd's cost grows with the square of a
# line's length (docs/design-notes.md#segmenter-windows), so a 5 MB paragraph without a line
# break would never finish; cut into windows, the work is linear.
# Real paragraphs are far shorter and stay whole (SQuAD's longest is under 4,000
# characters; NewsQA and CoQA break lines between paragraphs), so Table 1 does not move.
# `qapgen generate` windows its input at this size too.
MAX_WINDOW_CHARS = 20_000
# Where a window prefers to end: after a sentence end, else at a space.
SENTENCE_ENDS = (". ", "? ", "! ")
# Counted in a preparation's repairs when a context had to be cut into windows.
WINDOWED = "contexts_windowed"


@dataclass(frozen=True)
class Segment:
    """A sentence of a context: its text and its [start, end) character span there."""

    text: str
    start: int
    end: int


def text_windows(text: str, size: int = MAX_WINDOW_CHARS) -> list[tuple[int, int]]:
    """The [start, end) spans of ``text`` that segmentation is given, one call each: every
    line, and every line longer than ``size`` cut into windows of at most ``size``
    characters, at the last sentence end inside the window, else at its last space."""
    spans = []
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        while end - start > size:
            cut = _window_end(text, start, start + size)
            spans.append((start, cut))
            start = cut
        spans.append((start, end))
        start = end + 1
    return spans


def _window_end(text: str, start: int, limit: int) -> int:
    sentence_end = max(text.rfind(mark, start, limit) for mark in SENTENCE_ENDS)
    if sentence_end > start:
        return sentence_end + 1  # after the mark; the space opens the next window
    space = text.rfind(" ", start, limit)
    return space if space > start else limit


def needs_windows(text: str, size: int = MAX_WINDOW_CHARS) -> bool:
    """Whether a line of ``text`` is longer than ``size`` (it will be cut into windows)."""
    return any(len(line) > size for line in text.split("\n"))


def window_cuts(text: str, size: int = MAX_WINDOW_CHARS) -> list[int]:
    """The offsets where ``text_windows`` cuts a line, in order."""
    spans = text_windows(text, size)
    return [end for (_, end), (start, _) in zip(spans, spans[1:], strict=False) if start == end]


class _ForwardSpanSegmenter(pysbd.Segmenter):
    """pysbd's segmenter, finding each sentence's offsets by searching on from the one
    before. pysbd 0.3 searches from the start of the line for every sentence, which is
    quadratic in a line's sentences (seconds for a 20,000-character line of short
    sentences); sentences come in order, so the search can start at the previous one.
    Like pysbd, a match must end past the previous sentence's end (it may start inside the
    whitespace that one took), and a sentence not found is left out."""

    def sentences_with_char_spans(self, sentences: list[str]) -> list[TextSpan]:
        text = self.original_text
        spans = []
        prior_end = 0
        for sentence in sentences:
            pattern = re.compile(re.escape(sentence) + r"\s*")
            position = max(prior_end - len(sentence), 0)
            match = pattern.search(text, position)
            while match is not None and match.end() <= prior_end:
                match = pattern.search(text, match.start() + 1)
            if match is not None:
                spans.append(TextSpan(match.group(), *match.span()))
                prior_end = match.end()
        return spans


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return _ForwardSpanSegmenter(language="en", clean=False, char_span=True)


def split_sentences(text: str) -> list[Segment]:
    """Split ``text`` into sentences with pysbd, with exact character spans (whitespace
    trimmed). Newlines always end a sentence (news stories put headlines and bylines on
    their own lines), then pysbd splits each line (each window of a very long one)."""
    return _split_windows(text, _pysbd_spans)


def _pysbd_spans(line: str) -> Iterable[tuple[int, int]]:
    for span in _segmenter().segment(line):
        yield span.start, span.start + len(span.sent)


def _split_windows(text: str, spans: Callable[[str], Iterable[tuple[int, int]]]) -> list[Segment]:
    segments: list[Segment] = []
    for offset, end in text_windows(text):
        window = text[offset:end]
        if not window.strip():
            continue
        for start, stop in spans(window):
            piece = window[start:stop]
            stripped = piece.strip()
            if not stripped:
                continue
            first = offset + start + (len(piece) - len(piece.lstrip()))
            segments.append(Segment(stripped, first, first + len(stripped)))
    return segments


def train_punkt(paragraphs: Iterable[str]) -> Callable[[str], list[Segment]]:
    """A Punkt segmenter trained (unsupervised: abbreviations, collocations, sentence
    starters) on ``paragraphs``; deterministic for the same set of paragraphs."""
    trainer = PunktTrainer()
    trainer.INCLUDE_ALL_COLLOCS = True
    trainer.train("\n\n".join(sorted(set(paragraphs))), finalize=True)
    tokenizer = PunktSentenceTokenizer(trainer.get_params())
    return lambda text: _split_windows(text, tokenizer.span_tokenize)


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
    repaired: Counter[str] | None = None,
) -> list[QARecord]:
    """Turn records that share paragraph contexts into sentence-level records, per ``policy``.

    Records are grouped by (article, context); each goes to the sentence(s) that hold its
    whole answer span. ``unique`` keeps a sentence with exactly one record as that record's
    new context and counts every other record in ``dropped`` by reason:
    ``answer_crosses_sentences`` (no single sentence holds the span),
    ``answer_crosses_window`` (the same, where the span straddles a cut between windows of
    an over-long line) and ``segment_has_multiple_qa`` (its sentence holds other QA pairs
    too). ``every_pair`` keeps every record, with the sentence, or consecutive sentences,
    its answer lies in. Each context cut into windows is counted in ``repaired``.
    """
    if policy not in SENTENCE_POLICIES:
        raise ValueError(f"sentence policy must be one of {SENTENCE_POLICIES}, not {policy!r}")
    by_context: dict[tuple[str, str], list[QARecord]] = defaultdict(list)
    for record in records:
        by_context[(record.article_id, record.context)].append(record)

    kept: list[QARecord] = []
    for (_, context), group in by_context.items():
        sentences = splitter(context)
        if not sentences:
            dropped["context_without_sentences"] += len(group)
            continue
        cuts = window_cuts(context) if needs_windows(context) else []
        if cuts and repaired is not None:
            repaired[WINDOWED] += 1
        starts = [s.start for s in sentences]
        ends = [s.end for s in sentences]
        assigned: dict[int, list[QARecord]] = defaultdict(list)
        for record in group:
            if record.answer_start is None:
                raise ValueError(f"record {record.id}: segmentation needs an answer offset")
            first, last = _covering_sentences(starts, ends, record)
            if policy == "every_pair":
                kept.append(_sentence_record(record, context, sentences, first, last))
            elif first != last or not _contains(sentences[first], record):
                crosses_window = _crosses(cuts, record)
                dropped[
                    "answer_crosses_window" if crosses_window else "answer_crosses_sentences"
                ] += 1
            else:
                assigned[first].append(record)
        for index, members in sorted(assigned.items()):
            if len(members) > 1:
                dropped["segment_has_multiple_qa"] += len(members)
                continue
            kept.append(_sentence_record(members[0], context, sentences, index, index))
    return kept


def mark_answer_sentences(
    records: Sequence[QARecord],
    dropped: Counter[str],
    splitter: Callable[[str], list[Segment]] = split_sentences,
    repaired: Counter[str] | None = None,
) -> list[QARecord]:
    """Paragraph-level records (QG-Bench's): each keeps its whole context, with the sentence
    holding its answer marked (``with_sentence_mark``) and its index (``sentence_index``) in
    ``source``; where the answer crosses sentences the mark runs over all of them
    (``sentence_count``), as ``every_pair`` does. Records already marked are kept as they
    are. A context the splitter finds no sentence in drops its records, counted as
    ``context_without_sentences``; each context cut into windows is counted in
    ``repaired``."""
    # Each context is segmented once; records keep their order.
    segmented: dict[str, tuple[list[int], list[int], list[Segment]] | None] = {}
    kept: list[QARecord] = []
    for record in records:
        if sentence_span(record) is not None:
            kept.append(record)
            continue
        context = record.context
        if context not in segmented:
            sentences = splitter(context)
            if repaired is not None and sentences and needs_windows(context):
                repaired[WINDOWED] += 1
            segmented[context] = (
                ([s.start for s in sentences], [s.end for s in sentences], sentences)
                if sentences
                else None
            )
        if segmented[context] is None:
            dropped["context_without_sentences"] += 1
            continue
        if record.answer_start is None:
            raise ValueError(f"record {record.id}: marking its sentence needs an answer offset")
        starts, ends, sentences = segmented[context]
        first, last = _covering_sentences(starts, ends, record)
        start, end = _answer_sentences_span(record, sentences, first, last)
        count = {"sentence_count": last - first + 1} if last > first else {}
        kept.append(with_sentence_mark(record, start, end, sentence_index=first, **count))
    return kept


def _covering_sentences(
    starts: Sequence[int], ends: Sequence[int], record: QARecord
) -> tuple[int, int]:
    """The first and last sentence (given by their ordered starts and ends) the record's
    answer span overlaps; binary searches, so a context of many sentences stays cheap."""
    start = record.answer_start
    end = start + len(record.answer)
    first = bisect.bisect_right(ends, start)  # the first sentence ending after the start
    last = bisect.bisect_left(starts, end) - 1  # the last sentence starting before the end
    if first <= last:
        return first, last
    # An answer in the whitespace between sentences: the next one (else the last).
    index = min(bisect.bisect_left(starts, start), len(starts) - 1)
    return index, index


def _crosses(cuts: Sequence[int], record: QARecord) -> bool:
    """Whether a window cut falls strictly inside the record's answer span."""
    index = bisect.bisect_right(cuts, record.answer_start)
    return index < len(cuts) and cuts[index] < record.answer_start + len(record.answer)


def _contains(sentence: Segment, record: QARecord) -> bool:
    return sentence.start <= record.answer_start and (
        record.answer_start + len(record.answer) <= sentence.end
    )


def _answer_sentences_span(
    record: QARecord, sentences: Sequence[Segment], first: int, last: int
) -> tuple[int, int]:
    """The [start, end) span of sentences ``first``..``last`` in the context, widened to the
    answer where it reaches into the whitespace around them."""
    start = min(sentences[first].start, record.answer_start)
    end = max(sentences[last].end, record.answer_start + len(record.answer))
    return start, end


def _sentence_record(
    record: QARecord, context: str, sentences: Sequence[Segment], first: int, last: int
) -> QARecord:
    start, end = _answer_sentences_span(record, sentences, first, last)
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
