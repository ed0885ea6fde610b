"""Documents -> sentences, with the data preparation's segmentation (``split_sentences``).

Documents of any size are segmented line by line, so memory stays bounded by the longest
line. A line longer than ``max_line_chars`` (a huge document without line breaks) is cut
into windows before segmentation, at the last sentence end (". ", "? ", "! ") inside the
window, else at whitespace; windowed lines are counted in ``SegmentReport``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from qapgen.data.segment import split_sentences
from qapgen.generate.readers import Document

# pysbd's cost grows faster than linearly on very long lines; windows keep it in check.
MAX_LINE_CHARS = 20_000
SENTENCE_ENDS = (". ", "? ", "! ")


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
    max_line_chars: int = MAX_LINE_CHARS,
) -> Iterator[Sentence]:
    """Every sentence of every document, in order; blank lines are skipped."""
    report = report if report is not None else SegmentReport()
    for document in documents:
        index = 0
        for line in document.text.splitlines():
            windows = _windows(line, max_line_chars)
            report.windowed_lines += len(windows) > 1
            for window in windows:
                for segment in split_sentences(window):
                    yield Sentence(document.id, index, segment.text)
                    index += 1
                    report.sentences += 1


def _windows(line: str, size: int) -> list[str]:
    """``line`` cut into pieces of at most ``size`` characters, at a sentence end or
    whitespace where there is one."""
    pieces = []
    while len(line) > size:
        sentence_end = max(line.rfind(mark, 0, size) for mark in SENTENCE_ENDS)
        cut = sentence_end + 1 if sentence_end > 0 else line.rfind(" ", 0, size)
        cut = size if cut <= 0 else cut
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces
