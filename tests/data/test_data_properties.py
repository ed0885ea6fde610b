"""Property-based tests of the readers and the preparation: never crash, never lose data."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qapgen.data.errors import DataFormatError
from qapgen.data.readers.mrqa import read_mrqa
from qapgen.data.readers.squad import read_squad
from qapgen.data.records import QARecord
from qapgen.data.segment import segment_records

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
words = st.text(alphabet="abcdefghij .!?\n", min_size=1, max_size=12)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_any_bytes_are_read_or_rejected_with_a_data_error(tmp_path, data):
    path = tmp_path / "train-v1.1.json"
    path.write_bytes(data)
    try:
        result = read_squad(path, "train")
    except DataFormatError as error:
        assert str(path) in str(error)
    else:
        assert result.source_records == len(result.records) + sum(result.dropped.values())


@SETTINGS
@given(
    doc=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "data",
                        "paragraphs",
                        "context",
                        "qas",
                        "id",
                        "question",
                        "answers",
                        "text",
                        "answer_start",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_any_json_shape_is_read_or_rejected_with_a_data_error(tmp_path, doc):
    path = tmp_path / "dev-v1.1.json"
    path.write_text(json.dumps(doc))
    try:
        result = read_squad(path, "dev")
    except DataFormatError:
        return
    assert result.source_records == len(result.records) + sum(result.dropped.values())


@st.composite
def paragraphs(draw):
    sentences = draw(st.lists(words, min_size=1, max_size=5))
    context = " ".join(s.strip() + "." for s in sentences if s.strip()) or "x."
    qas = []
    for index in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(context) - 1))
        end = draw(st.integers(start + 1, min(len(context), start + 10)))
        text = context[start:end]
        offset = start if draw(st.booleans()) else draw(st.integers(-2, len(context) + 2))
        qas.append(
            {
                "id": f"q{index}",
                "question": "why?",
                "answers": [{"text": text, "answer_start": offset}],
            }
        )
    return {"context": context, "qas": qas}


@SETTINGS
@given(paras=st.lists(paragraphs(), min_size=1, max_size=4))
def test_every_qa_pair_is_kept_or_counted_through_segmentation(tmp_path, paras):
    for p_index, paragraph in enumerate(paras):
        for qa in paragraph["qas"]:
            qa["id"] = f"p{p_index}-{qa['id']}"
    path = tmp_path / "train-v1.1.json"
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": paras}]}))
    if not any(paragraph["qas"] for paragraph in paras):  # a file of no QA pairs is refused
        with pytest.raises(DataFormatError, match="holds no QA pairs"):
            read_squad(path, "train")
        return
    result = read_squad(path, "train")
    for record in result.records:
        assert record.context[record.answer_start :].startswith(record.answer)
    dropped: Counter[str] = Counter()
    kept = segment_records(result.records, dropped)
    assert len(kept) + sum(dropped.values()) == len(result.records)
    for record in kept:
        assert (
            record.context[record.answer_start : record.answer_start + len(record.answer)]
            == record.answer
        )


@SETTINGS
@given(lines=st.lists(st.text(max_size=40), max_size=5))
def test_mrqa_lines_are_read_or_rejected_with_a_data_error(tmp_path, lines):
    path = tmp_path / "NewsQA.jsonl"
    path.write_text("\n".join(lines))
    try:
        read_mrqa(path, "train")
    except DataFormatError as error:
        assert str(path) in str(error)


@SETTINGS
@given(
    answer=st.text(alphabet="ab .", min_size=1, max_size=6),
    prefix=st.text(alphabet="ab .", max_size=20),
)
def test_segmenting_one_record_never_moves_its_answer(answer, prefix):
    context = prefix + answer + " end."
    record = QARecord("r", "squad", "train", context, "q?", answer, len(prefix), "a")
    dropped: Counter[str] = Counter()
    kept = segment_records([record], dropped)
    assert len(kept) + sum(dropped.values()) == 1
    for r in kept:
        assert r.context[r.answer_start : r.answer_start + len(answer)] == answer
