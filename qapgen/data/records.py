"""The one record type every reader yields and every later stage consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class QARecord:
    """One question-answer pair over one context.

    ``answer_start`` is the answer's character offset in ``context`` when the source gives
    one (extractive datasets), else ``None`` (free-form answers such as CoQA's).
    ``article_id`` groups records that share a source document, so that splits can be carved
    by article and the grouped evaluation protocol can find all gold questions of a context.
    ``source`` records provenance: the file, and where in it the record came from.
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
