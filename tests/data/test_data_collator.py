"""The Collator's vectorised padding against a row-by-row reference, dynamic and bucketed,
and the batch keys it writes against the names models read them by."""

from __future__ import annotations

import random

import pytest
import torch

from qapgen.data import batch_keys
from qapgen.data.datamodule import Collator, EncodedExample, pad_rows
from qapgen.data.features import (
    ANSWER_SPAN,
    DEFAULT_FEATURES,
    IGNORE_INDEX,
    AnswerSpan,
    TextFeature,
)
from qapgen.data.records import QARecord
from zoo_testing import fixture_batch

PROMPT = TextFeature("qg", "generate question: {answer} context: {context}", "input", "source")
FEATURES = (*DEFAULT_FEATURES, ANSWER_SPAN, PROMPT)
MAX_LENGTHS = {"source": 40, "answer": 12, "question": 20}
PAD = 0


def reference_width(longest: int, buckets: list[int] | None, limit: int) -> int:
    """The documented rule, spelt out: the smallest bucket that holds the longest row,
    capped at the feature's max length; the longest row itself without buckets or when no
    bucket holds it."""
    fitting = sorted(b for b in buckets or [] if b >= longest)
    if not fitting:
        return longest
    return max(longest, min(fitting[0], limit))


def reference_collate(examples, features, buckets) -> dict[str, torch.Tensor]:
    """The tensors of a batch, one padded Python list per row."""
    batch = {}
    for feature in features:
        if isinstance(feature, AnswerSpan):
            spans = [e.features["answer_span"] for e in examples]
            batch["answer_start_positions"] = torch.tensor(
                [s[0] if s else IGNORE_INDEX for s in spans]
            )
            batch["answer_end_positions"] = torch.tensor(
                [s[1] if s else IGNORE_INDEX for s in spans]
            )
            continue
        rows = [e.features[feature.name] for e in examples]
        width = reference_width(
            max(len(r) for r in rows), buckets, MAX_LENGTHS[feature.max_length_key]
        )
        pad = PAD if feature.role == "input" else IGNORE_INDEX
        ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)
        if feature.role == "input":
            mask = [[1] * len(r) + [0] * (width - len(r)) for r in rows]
            batch[f"{feature.name}_ids"] = ids
            batch[f"{feature.name}_attention_mask"] = torch.tensor(mask, dtype=torch.long)
        else:
            batch[f"{feature.name}_labels"] = ids
    return batch


def random_examples(rng: random.Random, count: int) -> list[EncodedExample]:
    def ids(limit: int) -> list[int]:
        return [rng.randrange(3, 500) for _ in range(rng.randint(1, limit - 1))] + [1]

    examples = []
    for index in range(count):
        source = ids(MAX_LENGTHS["source"])
        span = None
        if rng.random() < 0.7:
            start = rng.randrange(len(source))
            span = (start, rng.randrange(start, len(source)))
        record = QARecord(
            id=f"r{index}", dataset="squad", split="train", context="c", question="q", answer="a"
        )
        features = {
            "input": source,
            "answer": ids(MAX_LENGTHS["answer"]),
            "question": ids(MAX_LENGTHS["question"]),
            "qg": ids(MAX_LENGTHS["source"]),
            "answer_span": span,
        }
        examples.append(EncodedExample(record, features))
    return examples


@pytest.mark.parametrize(
    "buckets",
    [None, [8, 16, 24, 32, 40], [16, 32, 48, 64, 96, 128], [2, 4]],
    ids=["dynamic", "buckets", "buckets-past-the-caps", "rows-longer-than-every-bucket"],
)
@pytest.mark.parametrize("seed", range(5))
def test_collator_matches_the_row_by_row_reference(buckets, seed):
    rng = random.Random(seed)
    collate = Collator(FEATURES, PAD, buckets=buckets, max_lengths=MAX_LENGTHS)
    for count in (1, 2, 7, rng.randint(8, 64)):
        examples = random_examples(rng, count)
        batch = collate(examples)
        expected = reference_collate(examples, FEATURES, buckets)
        tensors = {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}
        assert tensors.keys() == expected.keys()
        for key, value in expected.items():
            assert tensors[key].dtype == value.dtype, key
            assert torch.equal(tensors[key], value), key
        assert batch["ids"] == [e.record.id for e in examples]


def test_buckets_pad_each_feature_to_its_own_width():
    rows = {"input": [5] * 17 + [1], "answer": [6] * 4 + [1], "question": [7] * 9 + [1]}
    record = QARecord(id="r", dataset="squad", split="train", context="c", question="q", answer="a")
    collate = Collator(
        DEFAULT_FEATURES, PAD, buckets=[16, 32, 48, 64, 96, 128], max_lengths=MAX_LENGTHS
    )
    batch = collate([EncodedExample(record, rows)])
    # input 18 -> 32; answer 5 -> 16 capped at 12; question 10 -> 16.
    assert batch["input_ids"].shape == batch["input_attention_mask"].shape == (1, 32)
    assert batch["answer_labels"].shape == (1, 12)
    assert batch["question_labels"].shape == (1, 16)
    assert batch["input_attention_mask"].sum() == 18
    assert (batch["answer_labels"][0, 5:] == IGNORE_INDEX).all()


def test_pad_rows_places_every_token_and_marks_only_tokens():
    ids, tokens = pad_rows([[4, 5, 6], [7], [8, 9]], width=5, pad=-1)
    assert ids.tolist() == [[4, 5, 6, -1, -1], [7, -1, -1, -1, -1], [8, 9, -1, -1, -1]]
    assert tokens.dtype == torch.bool
    assert tokens.sum(dim=1).tolist() == [3, 1, 2]


def test_padding_builds_no_tensor_per_row(monkeypatch):
    # Vectorised without timing it: the tensors built for a batch do not grow with its rows.
    built = []
    make_tensor = torch.tensor

    def counting_tensor(*args, **kwargs):
        built.append(1)
        return make_tensor(*args, **kwargs)

    collate = Collator(DEFAULT_FEATURES, PAD, buckets=[16, 32], max_lengths=MAX_LENGTHS)
    rng = random.Random(0)

    def tensors_built(rows: int) -> int:
        examples = random_examples(rng, rows)
        built.clear()
        with monkeypatch.context() as patch:
            patch.setattr(torch, "tensor", counting_tensor)
            collate(examples)
        return len(built)

    assert tensors_built(2) == tensors_built(64) > 0


def test_answer_question_width_is_the_longest_pair_of_one_row():
    """Rows of (answer, question) 3 + 2 and 1 + 5 tokens: 6, the packed width, where the
    padded widths add up to 3 + 5 = 8; a batch without both targets has none."""
    record = QARecord(id="r", dataset="d", split="train", context="c", question="q", answer="a")
    examples = [
        EncodedExample(record, {"input": [5, 1], "answer": [7, 8, 1], "question": [9, 1]}),
        EncodedExample(record, {"input": [5, 1], "answer": [1], "question": [4, 4, 4, 4, 1]}),
    ]
    batch = Collator(DEFAULT_FEATURES, PAD)(examples)
    assert batch["answer_question_width"] == 6
    assert batch["answer_labels"].size(1) + batch["question_labels"].size(1) == 8
    question_only = Collator((DEFAULT_FEATURES[0], DEFAULT_FEATURES[2]), PAD)(examples)
    assert "answer_question_width" not in question_only


def test_every_batch_key_a_model_reads_is_named_by_the_collator(fixture_tokenizer):
    from qapgen.data.features import ANSWER_SPAN, DEFAULT_FEATURES

    batch = fixture_batch(fixture_tokenizer, DEFAULT_FEATURES + (ANSWER_SPAN,))
    named = {
        value
        for name, value in vars(batch_keys).items()
        if name.isupper() and isinstance(value, str)
    }
    assert named == set(batch)
