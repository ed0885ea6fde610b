"""CoQA JSON (``coqa-train-v1.0.json``, ``coqa-dev-v1.0.json``).

CoQA answers are free-form text written by annotators; each comes with a rationale span in
the story. The reader keeps the whole story as the context and the rationale's offsets in
``source``; preparation then builds the context the experiment asks for (rationale span,
its sentence, or the story). Unanswerable questions ("unknown", no rationale) are kept with
``source["unanswerable"]``; preparation keeps or drops them.
"""

from __future__ import annotations

from pathlib import Path

from qapgen.data.errors import DataFormatError
from qapgen.data.readers.base import (
    IdRegistry,
    ReadResult,
    load_json,
    require,
    require_items,
    require_records,
)
from qapgen.data.records import QARecord

OFFICIAL_FILES = {"train": "coqa-train-v1.0.json", "dev": "coqa-dev-v1.0.json"}
UNANSWERABLE = {"unknown", "unknow"}


def read_coqa(path: Path, split: str) -> ReadResult:
    path = Path(path)
    document = load_json(path)
    stories = require(document, "data", list, path=path, record="<top level>")
    require_items(stories, "stories", path=path, field="data")
    result = ReadResult()
    ids = IdRegistry(path, result)
    for s_index, story in enumerate(stories):
        where = f"data[{s_index}]"
        story_id = str(require(story, "id", (str, int), path=path, record=where))
        text = require(story, "story", str, path=path, record=story_id)
        questions = require(story, "questions", list, path=path, record=story_id)
        answers = require(story, "answers", list, path=path, record=story_id)
        answers_by_turn = {}
        for a_index, answer in enumerate(answers):
            a_where = f"{story_id} answers[{a_index}]"
            turn = require(answer, "turn_id", int, path=path, record=a_where)
            if turn in answers_by_turn:
                raise DataFormatError(
                    path, f"a second answer for turn {turn}", record=a_where, field="turn_id"
                )
            answers_by_turn[turn] = answer
        question_turns = set()
        for q_index, question in enumerate(questions):
            q_where = f"{story_id} questions[{q_index}]"
            turn = require(question, "turn_id", int, path=path, record=q_where)
            question_turns.add(turn)
            qa_id = f"{story_id}_{turn}"
            ids.add(qa_id, q_where)
            q_text = require(question, "input_text", str, path=path, record=qa_id)
            result.source_records += 1
            answer = answers_by_turn.get(turn)
            if answer is None:
                raise DataFormatError(
                    path,
                    f"question turn {turn} has no answer with the same turn_id",
                    record=qa_id,
                    field="answers",
                )
            free_form = require(answer, "input_text", str, path=path, record=qa_id).strip()
            start = require(answer, "span_start", int, path=path, record=qa_id)
            end = require(answer, "span_end", int, path=path, record=qa_id)
            if not text.strip():
                result.dropped["empty_context"] += 1
                continue
            if not q_text.strip():
                result.dropped["empty_question"] += 1
                continue
            if not free_form:
                result.dropped["empty_answer"] += 1
                continue
            # Kept and flagged: preparation keeps or drops them (coqa_unanswerable).
            unanswerable = free_form.lower().rstrip(".") in UNANSWERABLE or start < 0
            if not unanswerable and not 0 <= start < end <= len(text):
                raise DataFormatError(
                    path,
                    f"rationale span [{start}, {end}) lies outside the story "
                    f"({len(text)} characters)",
                    record=qa_id,
                    field="span_start/span_end",
                )
            rationale = (
                {"unanswerable": True}
                if unanswerable
                else {"rationale_start": start, "rationale_end": end}
            )
            result.records.append(
                QARecord(
                    id=qa_id,
                    dataset="coqa",
                    split=split,
                    context=text,
                    question=q_text.strip(),
                    answer=free_form,
                    answer_start=None,
                    article_id=story_id,
                    source={
                        "file": str(path),
                        "location": q_where,
                        **rationale,
                        "turn_id": turn,
                    },
                )
            )
        orphans = sorted(set(answers_by_turn) - question_turns)
        if orphans:
            raise DataFormatError(
                path,
                f"answer turn {orphans[0]} has no question with the same turn_id",
                record=story_id,
                field="answers",
            )
    return require_records(result, path)
