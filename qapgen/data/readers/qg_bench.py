"""QG-Bench's rows (``lmqg/qg_squad``), as the hub writer stores them: JSON lines, one
question a line, over its whole paragraph.

QG-Bench gives no offsets. It marks the answer, and the sentence holding it, by copies of
the paragraph with that span between two ``<hl>`` tokens (``paragraph_answer``,
``paragraph_sentence``), every whitespace run collapsed to one space, and the highlighted
sentence as QG-Bench tokenised it (``"customs ."`` for the paragraph's ``"customs."``). So a
span is found from the text around the tokens: the paragraph's characters other than
whitespace before the first ``<hl>`` and after the second must be the paragraph's own first
and last ones, and the text between them the span's, but for quotes and bracket tokens.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from qapgen.data.highlight import HIGHLIGHT_TOKEN
from qapgen.data.readers.base import (
    IdRegistry,
    ReadResult,
    check_type,
    iter_jsonl,
    require,
    require_records,
)
from qapgen.data.records import QARecord, with_sentence_mark

# The fields a row must have; the hub writer keeps these (and ``sentence``, ``paragraph_id``).
ROW_FIELDS = ("question", "paragraph", "answer", "paragraph_answer", "paragraph_sentence")


class _VisibleText:
    """A paragraph's characters other than whitespace, with where each sits in it."""

    def __init__(self, text: str) -> None:
        self.positions = [i for i, c in enumerate(text) if not c.isspace()]
        self.text = "".join(text[i] for i in self.positions)


def _visible(text: str) -> str:
    return "".join(text.split())


# Quotes, which tokenisers rewrite (PTB's `` and '' for ", split from their words in ways
# that reorder runs such as '"), and bracket tokens (CoreNLP's -LRB-): the highlighted
# sentence is compared with the paragraph's span without the one, the other as brackets.
_QUOTES = re.compile("[\"'`\u2018\u2019\u201c\u201d\u201e]")
_BRACKET_TOKENS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{",
                   "-RCB-": "}"}  # fmt: skip
_BRACKET = re.compile("|".join(_BRACKET_TOKENS))


def _comparable(text: str) -> str:
    text = _BRACKET.sub(lambda match: _BRACKET_TOKENS[match.group()], _visible(text))
    return _QUOTES.sub("", text)


def highlighted_span(paragraph: _VisibleText, highlighted: str) -> tuple[int, int] | None:
    """The [start, end) span of the paragraph that ``highlighted`` (the paragraph with one
    span between two ``<hl>`` tokens, its whitespace collapsed) marks: from the first
    character after what precedes the tokens to the last before what follows them. None
    when ``highlighted`` holds no such pair of tokens, its text around them is not the
    paragraph's, or its text between them is not the span's (tokenised forms of quotes and
    brackets aside)."""
    parts = highlighted.split(HIGHLIGHT_TOKEN)
    if len(parts) != 3:
        return None
    before, after = _visible(parts[0]), _visible(parts[2])
    text = paragraph.text
    inside = len(text) - len(before) - len(after)
    if inside <= 0 or not text.startswith(before) or not text.endswith(after):
        return None
    first, last = len(before), len(before) + inside - 1
    if _comparable(parts[1]) != _comparable(text[first : last + 1]):
        return None
    return paragraph.positions[first], paragraph.positions[last] + 1


def read_qg_bench(path: Path, split: str, dataset: str = "qg_squad") -> ReadResult:
    """Read one file of QG-Bench rows; every record carries ``split``.

    A row lacking a field, or holding a non-string, is an error naming the file, row and
    field. An answer that is empty, or not in the paragraph where ``paragraph_answer`` puts
    it, drops the row (counted by reason). A ``paragraph_sentence`` that marks no span of the
    paragraph holding the answer keeps the row unmarked, for preparation to find the
    sentence itself (``prepare`` counts that repair).
    """
    path = Path(path)
    result = ReadResult()
    ids = IdRegistry(path, result)
    paragraphs: dict[str, _VisibleText] = {}
    for lineno, row in iter_jsonl(path):
        where = f"line {lineno}"
        row_id = require(row, "id", str, path=path, record=where)
        ids.add(row_id, where)
        fields = {name: require(row, name, str, path=path, record=row_id) for name in ROW_FIELDS}
        paragraph_id = row.get("paragraph_id")
        if paragraph_id is not None:
            check_type(paragraph_id, str, path=path, record=row_id, field="paragraph_id")
        result.source_records += 1
        paragraph, answer = fields["paragraph"], fields["answer"]
        if not paragraph.strip():
            result.dropped["empty_context"] += 1
            continue
        if not fields["question"].strip():
            result.dropped["empty_question"] += 1
            continue
        if not answer.strip():
            result.dropped["empty_answer"] += 1
            continue
        visible = paragraphs.get(paragraph)
        if visible is None:
            visible = paragraphs[paragraph] = _VisibleText(paragraph)
        answer_span = highlighted_span(visible, fields["paragraph_answer"])
        start = answer_span[0] if answer_span else -1
        if start < 0 or paragraph[start : start + len(answer)] != answer:
            result.dropped[
                "answer_not_at_highlight" if answer in paragraph else "answer_not_in_context"
            ] += 1
            continue
        record = QARecord(
            id=row_id,
            dataset=dataset,
            split=split,
            context=paragraph,
            question=fields["question"].strip(),
            answer=answer,
            answer_start=start,
            article_id=paragraph_id or _paragraph_key(paragraph),
            source={"file": str(path), "location": where},
        )
        sentence = highlighted_span(visible, fields["paragraph_sentence"])
        if sentence is not None and sentence[0] <= start and start + len(answer) <= sentence[1]:
            record = with_sentence_mark(record, *sentence)
        result.records.append(record)
    return require_records(result, path)


def _paragraph_key(paragraph: str) -> str:
    """A stable name for a paragraph, for rows that carry no ``paragraph_id``."""
    return "paragraph-" + hashlib.sha256(paragraph.encode("utf-8")).hexdigest()[:16]


def qg_bench_reader(split: str, dataset: str = "qg_squad") -> Callable[[Path, str], ReadResult]:
    """A reader of one file of QG-Bench rows whose records carry ``split`` (one file per
    split: the rows are already split)."""

    def read(path: Path, raw_split: str) -> ReadResult:
        return read_qg_bench(path, split, dataset)

    return read
