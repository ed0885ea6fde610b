"""SQuAD v1.1 JSON (``train-v1.1.json``, ``dev-v1.1.json``)."""

from __future__ import annotations

from pathlib import Path

from qapgen.data.readers.base import (
    IdRegistry,
    ReadResult,
    load_json,
    locate_answer,
    require,
    require_items,
    require_records,
)
from qapgen.data.records import QARecord

OFFICIAL_FILES = {"train": "train-v1.1.json", "dev": "dev-v1.1.json"}


def read_squad(path: Path, split: str) -> ReadResult:
    """Read one SQuAD v1.1 file. The first answer of each question is the gold one.

    Dev questions carry up to three crowd answers; the first is the one the QG literature
    uses as the target, the rest are kept in ``source["alternatives"]``.
    """
    path = Path(path)
    document = load_json(path)
    articles = require(document, "data", list, path=path, record="<top level>")
    require_items(articles, "articles", path=path, field="data")
    result = ReadResult()
    ids = IdRegistry(path, result)
    for a_index, article in enumerate(articles):
        where_article = f"data[{a_index}]"
        title = where_article
        if isinstance(article, dict) and "title" in article:
            title = require(article, "title", str, path=path, record=where_article)
        paragraphs = require(article, "paragraphs", list, path=path, record=where_article)
        for p_index, paragraph in enumerate(paragraphs):
            where = f"{where_article}.paragraphs[{p_index}]"
            context = require(paragraph, "context", str, path=path, record=where)
            qas = require(paragraph, "qas", list, path=path, record=where)
            for q_index, qa in enumerate(qas):
                qa_where = f"{where}.qas[{q_index}]"
                qa_id = require(qa, "id", (str, int), path=path, record=qa_where)
                qa_id = str(qa_id)
                ids.add(qa_id, qa_where)
                question = require(qa, "question", str, path=path, record=qa_id)
                answers = require(qa, "answers", list, path=path, record=qa_id)
                result.source_records += 1
                if not context.strip():
                    result.dropped["empty_context"] += 1
                    continue
                if not question.strip():
                    result.dropped["empty_question"] += 1
                    continue
                if not answers:
                    result.dropped["no_answer"] += 1
                    continue
                text = require(answers[0], "text", str, path=path, record=qa_id)
                start = require(answers[0], "answer_start", int, path=path, record=qa_id)
                if not text.strip():
                    result.dropped["empty_answer"] += 1
                    continue
                located = locate_answer(context, text, start)
                if located is None:
                    reason = (
                        "answer_not_at_offset"
                        if text and text in context
                        else ("answer_not_in_context")
                    )
                    result.dropped[reason] += 1
                    continue
                alternatives = [
                    require(a, "text", str, path=path, record=f"{qa_id} answers[{index}]")
                    for index, a in enumerate(answers[1:], start=1)
                ]
                result.records.append(
                    QARecord(
                        id=qa_id,
                        dataset="squad",
                        split=split,
                        context=context,
                        question=question.strip(),
                        answer=text,
                        answer_start=located,
                        article_id=str(title),
                        source={
                            "file": str(path),
                            "location": qa_where,
                            "alternatives": alternatives,
                        },
                    )
                )
    return require_records(result, path)
