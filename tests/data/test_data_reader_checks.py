"""What each reader once accepted silently: blank questions, empty files, ids shared by
train and dev, ``true`` for a number, JSON nested too deep, other encodings."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from qapgen.data.errors import DataFormatError
from qapgen.data.readers import read_source
from qapgen.data.readers.coqa import read_coqa
from qapgen.data.readers.mrqa import read_mrqa
from qapgen.data.readers.newsqa import read_newsqa_combined
from qapgen.data.readers.squad import read_squad

CONTEXT = "The red door opened."


def squad_qa(qid: str, question: str = "What?", start: object = 4) -> dict:
    return {"id": qid, "question": question, "answers": [{"text": "red", "answer_start": start}]}


def squad_document(*qas: dict) -> dict:
    return {"data": [{"title": "T", "paragraphs": [{"context": CONTEXT, "qas": list(qas)}]}]}


def newsqa_document(*questions: dict) -> dict:
    story = {"storyId": "s1", "type": "train", "text": CONTEXT, "questions": list(questions)}
    return {"data": [story]}


def newsqa_question(q: str = "What?", **consensus) -> dict:
    return {"q": q, "consensus": consensus or {"s": 4, "e": 7}}


def mrqa_lines(*qas: dict) -> str:
    lines = [{"header": {"dataset": "NewsQA"}}, {"id": "c1", "context": CONTEXT, "qas": list(qas)}]
    return "\n".join(json.dumps(line) for line in lines) + "\n"


def mrqa_qa(qid: str, question: str = "What?", spans: object = ((4, 6),)) -> dict:
    return {
        "qid": qid,
        "question": question,
        "detected_answers": [{"text": "red", "char_spans": [list(s) for s in spans]}],
    }


def coqa_document(questions: list[str], answers: list[dict] | None = None, story_id="st") -> dict:
    answers = answers or [
        {"input_text": "red", "span_start": 4, "span_end": 7, "turn_id": turn}
        for turn in range(1, len(questions) + 1)
    ]
    asked = [{"input_text": q, "turn_id": turn} for turn, q in enumerate(questions, start=1)]
    return {"data": [{"id": story_id, "story": CONTEXT, "questions": asked, "answers": answers}]}


def write(path: Path, content: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


BLANK_QUESTION_FILES = {
    "train-v1.1.json": (read_squad, squad_document(squad_qa("a"), squad_qa("b", " \t\n"))),
    "combined-newsqa-data-v1.json": (
        read_newsqa_combined,
        newsqa_document(newsqa_question(), newsqa_question(q="   ")),
    ),
    "NewsQA.jsonl": (read_mrqa, mrqa_lines(mrqa_qa("a"), mrqa_qa("b", "  "))),
    "coqa-train-v1.0.json": (read_coqa, coqa_document(["What?", " "])),
}


@pytest.mark.parametrize("name", BLANK_QUESTION_FILES)
def test_a_blank_question_is_a_counted_drop_in_every_reader(tmp_path, name):
    reader, content = BLANK_QUESTION_FILES[name]
    result = reader(write(tmp_path / name, content), "train")
    assert len(result.records) == 1 and result.dropped == {"empty_question": 1}
    assert result.source_records == 2


@pytest.mark.parametrize(
    ("name", "reader", "document"),
    [
        ("train-v1.1.json", read_squad, {"version": "1.1", "data": []}),
        ("combined-newsqa-data-v1.json", read_newsqa_combined, {"data": []}),
        ("coqa-train-v1.0.json", read_coqa, {"data": []}),
    ],
)
def test_an_empty_data_list_is_refused(tmp_path, name, reader, document):
    path = write(tmp_path / name, document)
    with pytest.raises(DataFormatError, match=r"field 'data': holds no \w+ \(the list is empty\)"):
        reader(path, "train")


@pytest.mark.parametrize(
    ("name", "reader", "content"),
    [
        ("train-v1.1.json", read_squad, {"data": [{"title": "T", "paragraphs": []}]}),
        ("combined-newsqa-data-v1.json", read_newsqa_combined, newsqa_document()),
        ("NewsQA.jsonl", read_mrqa, json.dumps({"header": {}}) + "\n"),
        ("coqa-train-v1.0.json", read_coqa, coqa_document([])),
    ],
)
def test_a_file_of_no_qa_pairs_is_refused(tmp_path, name, reader, content):
    with pytest.raises(DataFormatError, match="holds no QA pairs"):
        reader(write(tmp_path / name, content), "train")


def test_an_id_in_both_train_and_dev_names_both_files(tmp_path):
    write(tmp_path / "train-v1.1.json", squad_document(squad_qa("a"), squad_qa("shared")))
    write(tmp_path / "dev-v1.1.json", squad_document(squad_qa("shared", question="Why?")))
    with pytest.raises(DataFormatError) as info:
        read_source("squad", tmp_path)
    message = str(info.value)
    assert "dev-v1.1.json" in message and "train-v1.1.json" in message
    assert "record shared, field 'id': id also in" in message


def test_an_id_in_two_mrqa_copies_of_one_split_is_refused(tmp_path):
    # NewsQA.jsonl beside NewsQA.jsonl.gz: both would be read, every question twice.
    lines = mrqa_lines(mrqa_qa("q1"))
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "NewsQA.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    write(tmp_path / "train" / "NewsQA.jsonl", lines)
    with pytest.raises(DataFormatError, match="record q1, field 'id': id also in"):
        read_source("newsqa", tmp_path)


@pytest.mark.parametrize(
    ("name", "reader", "content", "where"),
    [
        ("train-v1.1.json", read_squad, squad_document(squad_qa("a", start=True)), "record a, field 'answer_start': expected int, got bool"),
        ("train-v1.1.json", read_squad, squad_document(squad_qa(True)), "field 'id': expected str or int, got bool"),
        ("train-v1.1.json", read_squad, squad_document(squad_qa("a", start=None)), "field 'answer_start': expected int, got null"),
        ("combined-newsqa-data-v1.json", read_newsqa_combined, newsqa_document(newsqa_question(s=True, e=7)), "record s1#0, field 'consensus.s': expected int, got bool"),
        ("combined-newsqa-data-v1.json", read_newsqa_combined, newsqa_document(newsqa_question(badQuestion="no")), "field 'consensus.badQuestion': expected bool, got str"),
        ("NewsQA.jsonl", read_mrqa, mrqa_lines(mrqa_qa("a", spans=((False, 6),))), r"record a, field 'detected_answers\[0\].char_spans\[0\]\[0\]': expected int, got bool"),
        ("coqa-train-v1.0.json", read_coqa, coqa_document(["What?"], [{"input_text": "red", "span_start": True, "span_end": 7, "turn_id": 1}]), "record st_1, field 'span_start': expected int, got bool"),
        ("coqa-train-v1.0.json", read_coqa, coqa_document(["What?"], [{"input_text": "red", "span_start": 4, "span_end": 7, "turn_id": True}]), "field 'turn_id': expected int, got bool"),
        ("train-v1.1.json", read_squad, squad_document(squad_qa("")), "record data\\[0\\].paragraphs\\[0\\].qas\\[0\\], field 'id': empty id"),
        ("train-v1.1.json", read_squad, {"data": [{"title": ["T"], "paragraphs": []}]}, "record data\\[0\\], field 'title': expected str, got list"),
    ],
    ids=["squad-bool-start", "squad-bool-id", "squad-null-start", "newsqa-bool-start", "newsqa-string-flag",
         "mrqa-bool-span", "coqa-bool-span", "coqa-bool-turn", "squad-empty-id", "squad-list-title"],
)  # fmt: skip
def test_true_is_not_a_number_and_other_wrong_types_name_the_field(
    tmp_path, name, reader, content, where
):
    with pytest.raises(DataFormatError, match=where):
        reader(write(tmp_path / name, content), "train")


def test_coqa_answers_must_pair_with_questions_one_to_one(tmp_path):
    answer = {"input_text": "red", "span_start": 4, "span_end": 7, "turn_id": 1}
    twice = coqa_document(["What?"], [answer, answer])
    with pytest.raises(DataFormatError, match=r"field 'turn_id': a second answer for turn 1"):
        read_coqa(write(tmp_path / "coqa-train-v1.0.json", twice), "train")
    orphan = coqa_document(["What?"], [answer, {**answer, "turn_id": 2}])
    with pytest.raises(DataFormatError, match="answer turn 2 has no question"):
        read_coqa(write(tmp_path / "coqa-train-v1.0.json", orphan), "train")


def test_json_nested_too_deep_is_one_data_error(tmp_path):
    path = write(tmp_path / "train-v1.1.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(
        DataFormatError, match=r"train-v1\.1\.json: not readable JSON: nested deeper"
    ):
        read_squad(path, "train")
    path = write(
        tmp_path / "NewsQA.jsonl",
        json.dumps({"header": {}}) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n",
    )
    with pytest.raises(DataFormatError, match=r"line 2: not readable JSON: nested deeper"):
        read_mrqa(path, "train")


def test_a_number_too_long_to_read_is_one_data_error(tmp_path):
    document = json.dumps(squad_document(squad_qa("a"))).replace(
        '"answer_start": 4', '"answer_start": ' + "9" * 5000
    )
    with pytest.raises(DataFormatError, match="not readable JSON .*digits"):
        read_squad(write(tmp_path / "train-v1.1.json", document), "train")


def test_other_encodings_are_named_and_a_utf8_byte_order_mark_is_read(tmp_path):
    text = json.dumps(squad_document(squad_qa("a", question="Où est-elle ?")), ensure_ascii=False)
    path = tmp_path / "train-v1.1.json"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(
        DataFormatError,
        match=r"not UTF-8: byte 0xf9 at offset \d+ \(line 1\), the file looks like Windows-1252",
    ):
        read_squad(path, "train")
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(DataFormatError, match="the file looks like UTF-16"):
        read_squad(path, "train")
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_squad(path, "train").records[0].question == "Où est-elle ?"


def test_a_folder_where_a_file_is_expected(tmp_path):
    (tmp_path / "train-v1.1.json").mkdir()
    with pytest.raises(DataFormatError, match="is a folder, not a file"):
        read_squad(tmp_path / "train-v1.1.json", "train")
