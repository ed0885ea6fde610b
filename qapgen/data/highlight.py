"""Highlighting, as QG-Bench (lmqg) and patil-suraj's ``*-qg-hl`` models read their input:
the answer inside its context, or the answer's sentence inside its paragraph, between two
``<hl>`` tokens."""

from __future__ import annotations

from qapgen.data.records import QARecord, sentence_span

HIGHLIGHT_TOKEN = "<hl>"
SEPARATOR_TOKEN = "<sep>"


def answer_span(record: QARecord) -> tuple[int, int] | None:
    """The answer's character span in the context: at ``answer_start`` when the record gives
    it and the text there is the answer, else the answer's first occurrence; None when the
    answer is not in the context (a free-form answer)."""
    if not record.answer:
        return None
    start = record.answer_start
    if start is None or record.context[start : start + len(record.answer)] != record.answer:
        start = record.context.find(record.answer)
    if start < 0:
        return None
    return start, start + len(record.answer)


def highlight_answer(record: QARecord, *, spaced: bool = False) -> str | None:
    """The context with the answer between two ``<hl>`` tokens; None when the answer is not a
    span of the context.

    QG-Bench writes ``...with<hl> answer <hl>...`` around the original characters (its
    ``paragraph_answer``: ``"variance with <hl> established beliefs or customs <hl>. A"``);
    patil-suraj's pipelines put a space on both sides as well (``spaced``).
    """
    span = answer_span(record)
    if span is None:
        return None
    start, end = span
    before, answer, after = record.context[:start], record.context[start:end], record.context[end:]
    if spaced:
        return f"{before} {HIGHLIGHT_TOKEN} {answer} {HIGHLIGHT_TOKEN} {after}"
    return f"{before}{HIGHLIGHT_TOKEN} {answer} {HIGHLIGHT_TOKEN}{after}"


def highlight_sentence(record: QARecord) -> str | None:
    """The context with the answer's sentence between two ``<hl>`` tokens, as QG-Bench writes
    its ``paragraph_sentence`` (``"<hl> Heresy is ... customs. <hl> A heretic is ..."``: a
    space inside each token, the paragraph's own spacing outside); None when the record marks
    no sentence (``sentence_span``: sentence-level records, whose context is the sentence)."""
    span = sentence_span(record)
    if span is None:
        return None
    start, end = span
    before, sentence, after = (
        record.context[:start],
        record.context[start:end],
        record.context[end:],
    )
    return f"{before}{HIGHLIGHT_TOKEN} {sentence} {HIGHLIGHT_TOKEN}{after}"
