"""Synthetic data for the benchmarks: random token ids at SQuAD's sentence-level lengths.

No tokenizer or data set is needed, so every benchmark runs anywhere, at T5's vocabulary
size or a smaller one.
"""

from __future__ import annotations

import random

import torch

from qapgen.data.datamodule import EncodedExample
from qapgen.data.records import QARecord
from qapgen.models.base import Vocabulary

MAX_LENGTHS = {"source": 128, "answer": 32, "question": 48}
T5_VOCAB_SIZE = 32128


class SyntheticTokenizer:
    """Just enough of a tokenizer for generation and metrics on synthetic ids: id -> ``tN``."""

    pad_token_id, eos_token_id = 0, 1

    def __init__(self, size: int) -> None:
        self.size = size
        self.all_special_ids = [0, 1, 2]

    def __len__(self) -> int:
        return self.size

    def decode_ids(self, ids: list[int]) -> str:
        return " ".join(f"t{i}" for i in ids if i not in self.all_special_ids)

    def batch_decode(self, rows: torch.Tensor, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode_ids(row) for row in rows.tolist()]


def sentence_level_lengths(rng: random.Random) -> tuple[int, int, int]:
    """(input, answer, question) token counts with ``</s>``, drawn like SQuAD at sentence
    level under the T5 tokenizer: sentences ~33 tokens (6-128), answers ~5 (2-32, long
    tail), questions ~14 (5-48)."""
    source = min(max(int(rng.gauss(33, 14)), 6), MAX_LENGTHS["source"])
    answer = min(int(rng.expovariate(1 / 3.5)) + 2, MAX_LENGTHS["answer"])
    question = min(max(int(rng.gauss(14, 4)), 5), MAX_LENGTHS["question"])
    return source, answer, question


def synthetic_examples(
    count: int, tokenizer: SyntheticTokenizer, seed: int
) -> list[EncodedExample]:
    """``count`` encoded examples with random ids at sentence-level lengths."""
    rng = random.Random(seed)
    low = 3 + 100  # past the special and sentinel-like ids

    def ids(length: int) -> list[int]:
        return [rng.randrange(low, tokenizer.size - 100) for _ in range(length - 1)] + [1]

    examples = []
    for index in range(count):
        source, answer, question = (ids(n) for n in sentence_level_lengths(rng))
        record = QARecord(
            id=f"synthetic-{index}",
            dataset="synthetic",
            split="test",
            context=tokenizer.decode_ids(source),
            question=tokenizer.decode_ids(question),
            answer=tokenizer.decode_ids(answer),
        )
        examples.append(
            EncodedExample(record, {"input": source, "answer": answer, "question": question})
        )
    return examples


def synthetic_vocabulary(size: int) -> Vocabulary:
    """Special ids where T5 has them: pad 0, ``</s>`` 1, the start tokens at
    ``<extra_id_0>`` / ``<extra_id_1>``'s places."""
    return Vocabulary(
        size=size,
        pad_token_id=0,
        eos_token_id=1,
        answer_start_token_id=size - 29,
        question_start_token_id=size - 30,
    )
