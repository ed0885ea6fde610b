"""Which prediction is scored against which references.

``example``: every prediction against its own references (one gold question or answer).

``grouped``: Du et al.'s QG evaluation script (``qgevalcap/eval.py``), used by most
SQuAD QG papers. It keys predictions by their source text (here: the context), scores
one prediction per context, and takes every gold question of that context as its
references. Their script stores predictions in a dict keyed by the context, so when a
context has several predictions the last one (in input order) is the one scored; this
is reproduced so that numbers stay comparable. Contexts are compared as exact strings.
"""

from __future__ import annotations

from collections.abc import Sequence

PROTOCOLS = ("example", "grouped")


def group_by_context(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    contexts: Sequence[str],
) -> tuple[list[str], list[list[str]]]:
    """Collapse examples that share a context, as Du et al.'s script does.

    Returns one (prediction, references) per distinct context, in order of first
    appearance: the context's last prediction, and all its examples' references
    concatenated in input order.
    """
    if not len(predictions) == len(references) == len(contexts):
        raise ValueError(
            f"{len(predictions)} predictions, {len(references)} reference sets and "
            f"{len(contexts)} contexts: the grouped protocol needs one context per example"
        )
    last_prediction: dict[str, str] = {}
    pooled: dict[str, list[str]] = {}
    for prediction, refs, context in zip(predictions, references, contexts, strict=True):
        last_prediction[context] = prediction
        pooled.setdefault(context, []).extend(refs)
    return list(last_prediction.values()), list(pooled.values())
