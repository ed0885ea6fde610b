"""MRQA shared-task JSON lines (``NewsQA.jsonl.gz``), e.g. the MRQA release of NewsQA.

The first line is a header naming the dataset and split; each further line is one context
with its questions. ``detected_answers`` carry character spans with INCLUSIVE ends.
"""

from __future__ import annotations

from pathlib import Path

from qapgen.data.errors import DataFormatError
from qapgen.data.readers.base import (
    IdRegistry,
    ReadResult,
    check_type,
    iter_jsonl,
    require,
    require_records,
)
from qapgen.data.records import QARecord

OFFICIAL_FILE = "NewsQA.jsonl.gz"


def read_mrqa(path: Path, split: str, dataset: str = "newsqa") -> ReadResult:
    """Read one MRQA file; the first detected answer span is the target."""
    path = Path(path)
    result = ReadResult()
    ids = IdRegistry(path, result)
    for lineno, obj in iter_jsonl(path):
        where = f"line {lineno}"
        if isinstance(obj, dict) and "header" in obj:
            continue
        context = require(obj, "context", str, path=path, record=where)
        context_id = where
        if "id" in obj:
            context_id = str(require(obj, "id", (str, int), path=path, record=where))
        qas = require(obj, "qas", list, path=path, record=context_id)
        for q_index, qa in enumerate(qas):
            qa_where = f"{where}.qas[{q_index}]"
            qa_id = str(require(qa, "qid", (str, int), path=path, record=qa_where))
            ids.add(qa_id, qa_where)
            question = require(qa, "question", str, path=path, record=qa_id)
            detected = require(qa, "detected_answers", list, path=path, record=qa_id)
            result.source_records += 1
            if not context.strip():
                result.dropped["empty_context"] += 1
                continue
            if not question.strip():
                result.dropped["empty_question"] += 1
                continue
            if not detected:
                result.dropped["no_answer"] += 1
                continue
            spans = require(detected[0], "char_spans", list, path=path, record=qa_id)
            if not spans or not isinstance(spans[0], list) or len(spans[0]) != 2:
                raise DataFormatError(
                    path,
                    "expected [[start, end_inclusive], ...]",
                    record=qa_id,
                    field="detected_answers[0].char_spans",
                )
            start, end_inclusive = (
                check_type(
                    offset,
                    int,
                    path=path,
                    record=qa_id,
                    field=f"detected_answers[0].char_spans[0][{index}]",
                )
                for index, offset in enumerate(spans[0])
            )
            answer = context[start : end_inclusive + 1]
            if not answer.strip() or start < 0 or end_inclusive >= len(context):
                result.dropped["answer_not_in_context"] += 1
                continue
            result.records.append(
                QARecord(
                    id=qa_id,
                    dataset=dataset,
                    split=split,
                    context=context,
                    question=question.strip(),
                    answer=answer,
                    answer_start=start,
                    article_id=context_id,
                    source={"file": str(path), "location": qa_where},
                )
            )
    return require_records(result, path)
