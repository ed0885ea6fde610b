"""The one record type every reader yields and every later stage consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class QARecord:
    """One question-answer pair over one context.

    ``answer_start`` is the answer's character offset in ``context`` when the source gives
    one (extractive datasets), else ``None`` (free-form answers such as CoQA's).
    ``article_id`` groups records that share a source document, so that splits can be carved
    by article and the grouped evaluation protocol can find all gold questions of a context.
    ``source`` records provenance: the file, and where in it the record came from; a
    paragraph-level record also marks the sentence holding its answer there
    (``with_sentence_mark``).
    """

    id: str
    dataset: str
    split: str
    context: str
    question: str
    answer: str
    answer_start: int | None = None
    article_id: str = ""
    source: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> QARecord:
        return cls(**row)


def with_sentence_mark(record: QARecord, start: int, end: int, **details: Any) -> QARecord:
    """``record`` with ``context[start:end]`` marked as its answer's sentence in ``source``:
    ``sentence`` (the text) and ``sentence_start`` / ``sentence_end`` (the span), with any
    ``details`` (such as the sentence's index)."""
    return replace(
        record,
        source={
            **record.source,
            "sentence": record.context[start:end],
            "sentence_start": start,
            "sentence_end": end,
            **details,
        },
    )


def sentence_span(record: QARecord) -> tuple[int, int] | None:
    """The [start, end) span of the answer's sentence in the context, where the record marks
    one (``with_sentence_mark``) and the text there is still that sentence; else None.

    Sentence-level records carry ``sentence_start`` alone (where their sentence sat in the
    paragraph, their context being the sentence itself): without the text they are
    unmarked.
    """
    sentence = record.source.get("sentence")
    start = record.source.get("sentence_start")
    end = record.source.get("sentence_end")
    if not isinstance(sentence, str) or not isinstance(start, int) or not isinstance(end, int):
        return None
    if not sentence or not 0 <= start <= end or record.context[start:end] != sentence:
        return None
    return start, end
