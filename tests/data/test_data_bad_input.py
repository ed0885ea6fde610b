"""Bad input: a clear error naming file, record and field, or a counted skip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qapgen.data.datamodule import fixture_path
from qapgen.data.errors import DataFormatError, DataNotFoundError
from qapgen.data.prepare import prepare
from qapgen.data.readers import get_source, read_source
from qapgen.data.readers.coqa import read_coqa
from qapgen.data.readers.mrqa import read_mrqa
from qapgen.data.readers.newsqa import read_newsqa_combined
from qapgen.data.readers.squad import read_squad


def squad_file(tmp_path: Path, paragraphs: list[dict], name: str = "train-v1.1.json") -> Path:
    path = tmp_path / name
    path.write_text(
        json.dumps({"version": "1.1", "data": [{"title": "T", "paragraphs": paragraphs}]})
    )
    return path


def qa(qid: str, question: str = "What?", text: str = "red", start: int = 4) -> dict:
    return {"id": qid, "question": question, "answers": [{"text": text, "answer_start": start}]}


def test_malformed_json_names_file_line_and_column(tmp_path):
    path = tmp_path / "train-v1.1.json"
    path.write_text('{"data": [ {"title": "x", ')
    with pytest.raises(
        DataFormatError, match=r"train-v1\.1\.json: not valid JSON .* line 1 column \d+"
    ):
        read_squad(path, "train")


def test_truncated_real_format_file(tmp_path):
    text = (fixture_path("squad") / "dev-v1.1.json").read_text()
    path = tmp_path / "dev-v1.1.json"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(DataFormatError, match="truncated"):
        read_squad(path, "dev")


def test_empty_file(tmp_path):
    path = tmp_path / "train-v1.1.json"
    path.write_text("")
    with pytest.raises(DataFormatError, match="the file is empty"):
        read_squad(path, "train")


def test_non_utf8_bytes_name_the_offset_and_line(tmp_path):
    path = tmp_path / "train-v1.1.json"
    path.write_bytes(b'{"data": [\n{"title": "caf\xe9"}]}')
    with pytest.raises(DataFormatError, match=r"not UTF-8: byte 0xe9 at offset 25 \(line 2\)"):
        read_squad(path, "train")


def test_missing_field_names_record_and_field(tmp_path):
    path = squad_file(
        tmp_path, [{"context": "The red door.", "qas": [{"id": "q1", "answers": []}]}]
    )
    with pytest.raises(DataFormatError) as info:
        read_squad(path, "train")
    assert info.value.record == "q1" and info.value.field == "question"
    assert "record q1, field 'question': missing field" in str(info.value)


def test_wrong_type_names_the_field(tmp_path):
    path = squad_file(tmp_path, [{"context": 7, "qas": []}])
    with pytest.raises(DataFormatError, match=r"field 'context': expected str, got int"):
        read_squad(path, "train")


def test_duplicate_ids_name_both_places(tmp_path):
    path = squad_file(tmp_path, [{"context": "The red door.", "qas": [qa("q1"), qa("q1")]}])
    with pytest.raises(
        DataFormatError, match=r"record q1, field 'id': duplicate id \(first seen at "
    ):
        read_squad(path, "train")


def test_empty_context_and_missing_answers_are_counted_skips(tmp_path):
    path = squad_file(
        tmp_path,
        [
            {"context": "   ", "qas": [qa("empty")]},
            {
                "context": "The red door.",
                "qas": [
                    qa("ok"),
                    qa("gone", text="blue", start=4),
                    qa("moved", text="door", start=0),
                ],
            },
        ],
    )
    result = read_squad(path, "train")
    assert [r.id for r in result.records] == ["ok"]
    assert dict(result.dropped) == {
        "empty_context": 1,
        "answer_not_in_context": 1,
        "answer_not_at_offset": 1,
    }
    assert result.source_records == 4


def test_newsqa_unknown_split_and_bad_span(tmp_path):
    path = tmp_path / "combined-newsqa-data-v1.json"
    story = {"storyId": "s1", "type": "holdout", "text": "abc", "questions": []}
    path.write_text(json.dumps({"data": [story]}))
    with pytest.raises(DataFormatError, match=r"record s1, field 'type': unknown split 'holdout'"):
        read_newsqa_combined(path)
    story.update(type="train", questions=[{"q": "Why?", "consensus": {"s": 3, "e": 1}}])
    path.write_text(json.dumps({"data": [story]}))
    with pytest.raises(DataFormatError, match=r"record s1#0, field 'consensus'"):
        read_newsqa_combined(path)


def test_mrqa_bad_line_is_named(tmp_path):
    path = tmp_path / "NewsQA.jsonl"
    path.write_text('{"header": {}}\n{"context": "x", "qas": []}\n{oops\n')
    with pytest.raises(DataFormatError, match="line 3 is not valid JSON"):
        read_mrqa(path, "train")


def test_coqa_rationale_outside_story(tmp_path):
    path = tmp_path / "coqa-train-v1.0.json"
    story = {
        "id": "st",
        "story": "Short.",
        "questions": [{"input_text": "What?", "turn_id": 1}],
        "answers": [{"input_text": "x", "span_start": 2, "span_end": 99, "turn_id": 1}],
    }
    path.write_text(json.dumps({"data": [story]}))
    with pytest.raises(DataFormatError, match=r"record st_1, field 'span_start/span_end'"):
        read_coqa(path, "train")


def test_unofficial_file_name_is_explained(tmp_path):
    path = tmp_path / "my-squad.json"
    path.write_text("{}")
    with pytest.raises(DataFormatError, match="not an official squad file name; expected one of"):
        get_source("squad").locate(path)


def test_folder_without_files_and_missing_path(tmp_path):
    with pytest.raises(DataNotFoundError, match="no coqa files under"):
        read_source("coqa", tmp_path)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        read_source("coqa", tmp_path / "nowhere")


def test_hub_failure_says_what_failed_and_how_to_use_a_local_copy(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no route to the hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataNotFoundError) as info:
        prepare("squad")
    message = str(info.value)
    assert "'rajpurkar/squad'" in message and "no route to the hub" in message
    assert "--path" in message and "QAPGEN_DATA_DIR" in message and "train-v1.1.json" in message
