"""NewsQA in Maluuba's combined format (``combined-newsqa-data-v1.json``).

Each story carries its official split in ``type`` (train / dev / test). The consensus
answer is the target; questions the crowd marked bad or unanswerable are counted drops.
"""

from __future__ import annotations

from pathlib import Path

from qapgen.data.errors import DataFormatError
from qapgen.data.readers.base import (
    IdRegistry,
    ReadResult,
    check_type,
    load_json,
    require,
    require_items,
)
from qapgen.data.records import QARecord

OFFICIAL_FILE = "combined-newsqa-data-v1.json"
# The combined file names its splits train/dev/test; qapgen calls dev "val".
SPLIT_NAMES = {"train": "train", "dev": "val", "test": "test"}


def read_newsqa_combined(path: Path, split: str | None = None) -> ReadResult:
    """Read the combined NewsQA file; ``split`` keeps only that qapgen split if given."""
    path = Path(path)
    document = load_json(path)
    stories = require(document, "data", list, path=path, record="<top level>")
    require_items(stories, "stories", path=path, field="data")
    result = ReadResult()
    ids = IdRegistry(path, result)
    questions_in_file = 0
    for s_index, story in enumerate(stories):
        where = f"data[{s_index}]"
        story_id = str(require(story, "storyId", str, path=path, record=where))
        kind = require(story, "type", str, path=path, record=story_id)
        if kind not in SPLIT_NAMES:
            raise DataFormatError(
                path,
                f"unknown split {kind!r}; expected one of {sorted(SPLIT_NAMES)}",
                record=story_id,
                field="type",
            )
        record_split = SPLIT_NAMES[kind]
        questions = require(story, "questions", list, path=path, record=story_id)
        questions_in_file += len(questions)
        if split is not None and record_split != split:
            continue
        text = require(story, "text", str, path=path, record=story_id)
        for q_index, question in enumerate(questions):
            qa_id = f"{story_id}#{q_index}"
            ids.add(qa_id, f"{where}.questions[{q_index}]")
            q_text = require(question, "q", str, path=path, record=qa_id)
            consensus = require(question, "consensus", dict, path=path, record=qa_id)
            result.source_records += 1
            for flag in ("badQuestion", "noAnswer"):
                if flag in consensus:
                    check_type(
                        consensus[flag], bool, path=path, record=qa_id, field=f"consensus.{flag}"
                    )
            if consensus.get("badQuestion"):
                result.dropped["bad_question"] += 1
                continue
            if not q_text.strip():
                result.dropped["empty_question"] += 1
                continue
            if consensus.get("noAnswer") or "s" not in consensus:
                result.dropped["no_answer"] += 1
                continue
            start = check_type(consensus["s"], int, path=path, record=qa_id, field="consensus.s")
            end = require(consensus, "e", int, path=path, record=qa_id)
            if not 0 <= start < end:
                raise DataFormatError(
                    path,
                    f"consensus span must satisfy 0 <= s < e, got s={start}, e={end}",
                    record=qa_id,
                    field="consensus",
                )
            if end > len(text):
                result.dropped["answer_not_in_context"] += 1
                continue
            # Consensus spans often carry trailing spaces or newlines; the answer is the span's
            # stripped text, and its offset moves past any leading whitespace.
            raw = text[start:end]
            answer = raw.strip()
            if not answer:
                result.dropped["empty_answer"] += 1
                continue
            offset = start + (len(raw) - len(raw.lstrip()))
            result.records.append(
                QARecord(
                    id=qa_id,
                    dataset="newsqa",
                    split=record_split,
                    context=text,
                    question=q_text.strip(),
                    answer=answer,
                    answer_start=offset,
                    article_id=story_id,
                    source={"file": str(path), "location": f"{where}.questions[{q_index}]"},
                )
            )
    if questions_in_file == 0:
        raise DataFormatError(path, "holds no QA pairs (every question list is empty)")
    return result
