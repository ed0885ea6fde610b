"""Each reader on the project's fixtures: every source QA pair is kept or counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from qapgen.data.datamodule import fixture_path
from qapgen.data.fixtures import content
from qapgen.data.readers import read_source
from qapgen.data.readers.coqa import read_coqa
from qapgen.data.readers.mrqa import read_mrqa
from qapgen.data.readers.newsqa import read_newsqa_combined
from qapgen.data.readers.squad import read_squad

COUNTS = content.EXPECTED_COUNTS


def test_squad_reader_keeps_every_located_answer():
    train = read_squad(fixture_path("squad") / "train-v1.1.json", "train")
    expected = COUNTS["squad"]["train"]
    assert train.source_records == expected["total"]
    assert dict(train.dropped) == {"answer_not_in_context": expected["answer_missing"]}
    assert len(train.records) == expected["total"] - expected["answer_missing"]
    for record in train.records:
        assert record.context[record.answer_start :].startswith(record.answer)
        assert record.dataset == "squad" and record.split == "train"
        assert record.source["file"].endswith("train-v1.1.json")


def test_squad_dev_uses_first_answer_and_keeps_alternatives():
    dev = read_squad(fixture_path("squad") / "dev-v1.1.json", "dev")
    with_alternatives = [r for r in dev.records if r.source["alternatives"]]
    assert with_alternatives, "the dev fixture has multi-answer questions"
    assert all(isinstance(a, str) for r in with_alternatives for a in r.source["alternatives"])


def test_repeated_answer_keeps_the_given_occurrence():
    (case_id,) = content.EXPECTED_CASES[content.REPEATED]
    train = read_squad(fixture_path("squad") / "train-v1.1.json", "train")
    record = next(r for r in train.records if r.id == content.squad_id(case_id))
    first = record.context.find(record.answer)
    assert record.answer_start > first  # the second occurrence, as the source says


def test_newsqa_combined_reader_splits_and_drops():
    result = read_newsqa_combined(fixture_path("newsqa") / "combined-newsqa-data-v1.json")
    totals = sum(COUNTS["newsqa"][s]["total"] for s in ("train", "dev", "test"))
    assert result.source_records == totals
    assert dict(result.dropped) == {"bad_question": 1, "no_answer": 1}
    assert {r.split for r in result.records} == {"train", "val", "test"}
    for record in result.records:
        assert record.context[record.answer_start :].startswith(record.answer)
        assert record.answer == record.answer.strip()


def test_mrqa_reader_uses_inclusive_char_spans():
    train = read_mrqa(fixture_path("newsqa") / "mrqa" / "train" / "NewsQA.jsonl.gz", "train")
    assert train.source_records == COUNTS["mrqa"]["train"]["total"]
    assert not train.dropped
    for record in train.records:
        assert record.context[record.answer_start : record.answer_start + len(record.answer)] == (
            record.answer
        )


def test_coqa_reader_keeps_free_form_answers_and_rationales():
    train = read_coqa(fixture_path("coqa") / "coqa-train-v1.0.json", "train")
    assert train.source_records == COUNTS["coqa"]["train"]["total"]
    # Unanswerable questions are kept and flagged: preparation keeps or drops them.
    assert not train.dropped and len(train.records) == train.source_records
    flagged = [r for r in train.records if r.source.get("unanswerable")]
    assert len(flagged) == COUNTS["coqa"]["train"]["answer_missing"]
    for record in train.records:
        assert record.answer_start is None
        if record in flagged:
            assert "rationale_start" not in record.source
            continue
        start, end = record.source["rationale_start"], record.source["rationale_end"]
        assert 0 <= start < end <= len(record.context)


@pytest.mark.parametrize(
    ("dataset", "files"),
    [
        ("squad", {"train-v1.1.json", "dev-v1.1.json"}),
        ("newsqa", {"combined-newsqa-data-v1.json"}),
        ("coqa", {"coqa-train-v1.0.json", "coqa-dev-v1.0.json"}),
    ],
)
def test_read_source_finds_official_files_in_a_folder(dataset, files):
    _, found = read_source(dataset, fixture_path(dataset))
    assert {Path(f).name for f in found} == files


def test_mrqa_layout_is_found_when_it_is_the_only_one(tmp_path):
    import shutil

    shutil.copytree(fixture_path("newsqa") / "mrqa", tmp_path / "mrqa")
    results, found = read_source("newsqa", tmp_path)
    assert sorted(results) == ["dev", "train"]
    assert all(Path(f).name == "NewsQA.jsonl.gz" for f in found)
