"""Floors that tell learning from memorising, scored with the same metrics as the models.

- shuffled: each test item scored against the prediction made for a DIFFERENT test item
  (a fixed-seed derangement): what fluent but unrelated output earns;
- constant: the training split's most frequent question (answer) predicted for every item.

A model whose scores do not clear these has learned the data's surface, not the task.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import lightning as L

from qapgen.atomic_files import atomic_write_text
from qapgen.metrics import score

FLOOR_METRICS = ("bleu1", "bleu4", "rougeL", "meteor")


def derangement(n: int, seed: int = 0) -> list[int]:
    """A permutation with no fixed point (for n >= 2), from a fixed seed."""
    if n < 2:
        return list(range(n))
    rng = random.Random(seed)
    # A random cyclic shift of a shuffled order never maps an item to itself.
    order = list(range(n))
    rng.shuffle(order)
    shift = rng.randrange(1, n)
    mapping = [0] * n
    for position, item in enumerate(order):
        mapping[item] = order[(position + shift) % n]
    return mapping


def most_frequent(texts: Sequence[str]) -> str:
    """The most frequent text (ties: the first seen), compared case-insensitively."""
    counts = Counter(t.strip().lower() for t in texts)
    best = max(counts.values())
    return next(t.strip() for t in texts if counts[t.strip().lower()] == best)


def _select(scores: dict) -> dict[str, float]:
    return {k: round(float(scores[k]), 2) for k in FLOOR_METRICS if k in scores}


def shuffled_floor(
    predictions: Sequence[str], references: Sequence[str], meteor: str, seed: int = 0
) -> dict:
    mapping = derangement(len(predictions), seed)
    shuffled = [predictions[mapping[i]] for i in range(len(predictions))]
    return _select(score(shuffled, [[r] for r in references], meteor=meteor))


def constant_floor(constant: str, references: Sequence[str], meteor: str) -> dict:
    return _select(score([constant] * len(references), [[r] for r in references], meteor=meteor))


class FloorScores(L.Callback):
    """After test, writes ``floors.json`` beside the run's predictions: both floors per task."""

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from qapgen.models.base import run_directory

        if not trainer.is_global_zero:
            return
        run_dir = Path(run_directory(trainer))
        predictions_file = run_dir / "predictions" / "test.jsonl"
        prepared = getattr(trainer.datamodule, "prepared", None)
        if not predictions_file.exists() or prepared is None or not prepared.splits.get("train"):
            return
        rows = [json.loads(line) for line in predictions_file.read_text().splitlines() if line]
        meteor = getattr(pl_module.hparams, "meteor", "java")
        train = prepared.splits["train"]
        floors: dict[str, dict] = {"shuffled": {}, "constant": {}}
        for task in getattr(pl_module, "tasks", ()):
            gold = [r[f"gold_{task}"] for r in rows]
            predicted = [r[f"predicted_{task}"] for r in rows]
            if len(rows) >= 2:
                floors["shuffled"][task] = shuffled_floor(predicted, gold, meteor)
            constant = most_frequent([getattr(r, task) for r in train])
            floors["constant"][task] = {"text": constant, **constant_floor(constant, gold, meteor)}
        atomic_write_text(run_dir / "floors.json", json.dumps(floors, indent=2) + "\n")
