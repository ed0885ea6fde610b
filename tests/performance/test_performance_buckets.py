"""Padding to length buckets: widths are bucket sizes (capped at each feature's limit),
and because padding is masked the losses equal those on dynamically padded batches."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from baselines.t5_qg import T5QGModule
from qapgen.data.datamodule import Collator, EncodedExample
from qapgen.data.features import DEFAULT_FEATURES, IGNORE_INDEX
from qapgen.data.padding import bucket_width
from qapgen.data.records import QARecord
from qapgen.models.base import Vocabulary
from qapgen.models.igja_qap_module import IGJAQAPModule

VOCAB = Vocabulary(size=120, pad_token_id=0, eos_token_id=1, answer_start_token_id=3,
                   question_start_token_id=4)  # fmt: skip
MAX_LENGTHS = {"source": 40, "answer": 12, "question": 20}
BUCKETS = [8, 16, 32, 64]


@pytest.mark.parametrize(
    ("length", "limit", "expected"),
    [
        (3, None, 8),
        (8, None, 8),
        (9, None, 16),
        (33, None, 64),
        (70, None, 70),  # longer than every bucket: as long as it is
        (9, 12, 12),  # the feature's limit is its last bucket
        (12, 12, 12),
        (5, 12, 8),
    ],
)
def test_bucket_width(length, limit, expected):
    assert bucket_width(length, BUCKETS, limit) == expected
    assert bucket_width(length, None, limit) == length


def examples(lengths, seed=0):
    """Examples with token ids for (input, answer, question) of the given lengths."""
    generator = torch.Generator().manual_seed(seed)

    def ids(n):
        return torch.randint(5, VOCAB.size, (n - 1,), generator=generator).tolist() + [1]

    return [
        EncodedExample(
            QARecord(f"q{i}", "squad", "train", "context", "question", "answer"),
            {"input": ids(n), "answer": ids(a), "question": ids(q)},
        )
        for i, (n, a, q) in enumerate(lengths)
    ]


LENGTHS = [(13, 3, 9), (21, 5, 11), (7, 2, 14), (17, 4, 6)]


def collate(rows, buckets):
    collator = Collator(DEFAULT_FEATURES, VOCAB.pad_token_id, buckets=buckets,
                        max_lengths=MAX_LENGTHS)  # fmt: skip
    return collator(rows)


def test_bucketed_widths_are_bucket_sizes_and_padding_is_masked():
    dynamic = collate(examples(LENGTHS), None)
    bucketed = collate(examples(LENGTHS), BUCKETS)
    assert dynamic["input_ids"].shape[1] == 21
    assert bucketed["input_ids"].shape[1] == 32
    assert bucketed["answer_labels"].shape[1] == 8
    assert bucketed["question_labels"].shape[1] == 16
    width = dynamic["input_ids"].shape[1]
    assert torch.equal(bucketed["input_ids"][:, :width], dynamic["input_ids"])
    assert (bucketed["input_ids"][:, width:] == VOCAB.pad_token_id).all()
    assert (bucketed["input_attention_mask"][:, width:] == 0).all()
    assert (bucketed["question_labels"][:, 14:] == IGNORE_INDEX).all()


def test_bucket_capped_at_the_feature_limit():
    batch = collate(examples([(39, 11, 19)]), BUCKETS)
    # 39 -> 64 would pass the input limit 40; 11 -> 16 the answer limit 12.
    assert batch["input_ids"].shape[1] == 40
    assert batch["answer_labels"].shape[1] == 12
    assert batch["question_labels"].shape[1] == 20


@pytest.mark.parametrize("model_class", [IGJAQAPModule, T5QGModule])
def test_losses_on_bucketed_batches_equal_unpadded(model_class):
    torch.manual_seed(0)
    model = model_class(
        backbone_size="tiny",
        dropout_rate=0.0,
        meteor="none",
        max_answer_length=MAX_LENGTHS["answer"],
        max_question_length=MAX_LENGTHS["question"],
        vocab=asdict(VOCAB),
    )
    model.configure_model()
    rows = examples(LENGTHS)
    dynamic = model.compute_losses(collate(rows, None))
    bucketed = model.compute_losses(collate(rows, BUCKETS))
    assert set(dynamic) == set(bucketed)
    for name, value in dynamic.items():
        torch.testing.assert_close(bucketed[name], value, rtol=1e-5, atol=1e-6)
