"""Documents -> sentences, with the data preparation's segmentation (``split_sentences``).

Documents of any size are segmented line by line, so memory stays bounded by the longest
line. A line longer than ``max_line_chars`` (a huge document without line breaks) is cut
into windows before segmentation as data preparation cuts its contexts
(``qapgen.data.segment.text_windows``); windowed lines are counted in ``SegmentReport``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from qapgen.data.segment import MAX_WINDOW_CHARS, split_sentences, text_windows
from qapgen.generate.readers import Document


@dataclass(frozen=True)
class Sentence:
    """A sentence to generate from: its document, its index there, and its text."""

    document: str
    index: int
    text: str


@dataclass
class SegmentReport:
    sentences: int = 0
    windowed_lines: int = 0


def iter_sentences(
    documents: Iterable[Document],
    report: SegmentReport | None = None,
    max_line_chars: int = MAX_WINDOW_CHARS,
) -> Iterator[Sentence]:
    """Every sentence of every document, in order; blank lines are skipped."""
    report = report if report is not None else SegmentReport()
    for document in documents:
        index = 0
        for line in document.text.splitlines():
            windows = text_windows(line, max_line_chars)
            report.windowed_lines += len(windows) > 1
            for start, end in windows:
                for segment in split_sentences(line[start:end]):
                    yield Sentence(document.id, index, segment.text)
                    index += 1
                    report.sentences += 1
