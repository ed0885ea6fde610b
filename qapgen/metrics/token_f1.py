"""SQuAD-style token F1 between two short texts (answers)."""

from __future__ import annotations

from collections import Counter

from qapgen.metrics.normalize import tokenize


def token_f1(prediction: str, reference: str) -> float:
    """Token F1 over lowercased PTB tokens, in [0, 1]; 1.0 when both are empty."""
    predicted, gold = tokenize(prediction), tokenize(reference)
    if not predicted or not gold:
        return float(predicted == gold)
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)
