"""Table 1's numbers against hand counts: each length unit, the pooled row, the differences."""

from __future__ import annotations

from collections import Counter

import pytest

from qapgen.data.prepare import PreparedData
from qapgen.data.records import QARecord
from qapgen.data.stats import dataset_stats, render_table1


def record(split, context, question, answer):
    return QARecord(f"{split}-{question}", "squad", split, context, question, answer)


PREPARED = PreparedData(
    "squad",
    {
        # PTB: hello , world . (4) / who is it ? (4) / hello (1); words: 2 / 3 / 1
        "train": [record("train", "Hello, world.", "Who is it?", "Hello")],
        # PTB: it 's done . (4) / what 's done ? (4) / it 's (2); words: 2 / 2 / 1
        "val": [record("val", "It's done.", "What's done?", "It's")],
        # PTB: a b c (3) / why ? (2) / b (1); words: 3 / 1 / 1
        "test": [record("test", "a b c", "why?", "b")],
    },
    dropped=Counter({"segment_has_multiple_qa": 2}),
    source_records=5,
)


@pytest.mark.parametrize(
    ("unit", "train", "pooled"),
    [
        ("ptb", (4, 4, 1), (11 / 3, 10 / 3, 4 / 3)),
        ("words", (2, 3, 1), (7 / 3, 6 / 3, 3 / 3)),
    ],
)
def test_average_lengths_in_each_unit(unit, train, pooled):
    stats = dataset_stats(PREPARED, unit)
    assert stats["length_unit"] == unit
    entry = stats["splits"]["train"]
    assert (entry["avg_context"], entry["avg_question"], entry["avg_answer"]) == train
    every = stats["all"]
    assert every["count"] == 3
    assert (every["avg_context"], every["avg_question"], every["avg_answer"]) == pytest.approx(
        pooled, abs=0.005
    )
    assert stats["kept"] == 3 and stats["dropped"] == {"segment_has_multiple_qa": 2}


def test_the_table_states_the_unit_and_each_difference_to_the_paper():
    text = render_table1(dataset_stats(PREPARED, "ptb"))
    assert "PTB tokens" in text
    # train 1 against the paper's 36,078; all 3 against 36,078 + 1,584 + 4,009 = 41,671
    assert "36078" in text and "41671" in text and "-100.0%" in text
    # pooled context 3.67 against 25.77: (3.67 - 25.77) / 25.77 = -85.8%
    assert "-85.8%" in text and "(all splits against the paper)" in text


def test_an_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="length_unit"):
        dataset_stats(PREPARED, "characters")
