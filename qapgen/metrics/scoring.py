"""``score``: every metric of a prediction set, under one protocol, with provenance."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from qapgen.metrics import bleu, meteor_java, rouge
from qapgen.metrics.meteor_nltk import corpus_meteor_nltk
from qapgen.metrics.meteor_nltk import implementation as meteor_nltk_implementation
from qapgen.metrics.normalize import NORMALISATION, normalize
from qapgen.metrics.protocols import PROTOCOLS, group_by_context

METEOR_CHOICES = ("java", "nltk", "none")
METRIC_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "rougeL", "meteor", "meteor_nltk")


def check_options(protocol: str, meteor: str) -> None:
    """Raise ``ValueError`` for an unknown protocol or METEOR choice."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if meteor not in METEOR_CHOICES:
        raise ValueError(f"unknown meteor {meteor!r}; choose one of {', '.join(METEOR_CHOICES)}")


def score(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    protocol: str = "example",
    contexts: Sequence[str] | None = None,
    meteor: str = "java",
    meteor_nltk: bool = False,
    meteor_scorer: meteor_java.Meteor15 | None = None,
) -> dict[str, Any]:
    """Score predictions against references; every score is in 0-100.

    Args:
        predictions: one generated text per example (may be empty).
        references: the gold texts of each example (at least one, none empty).
        protocol: ``"example"`` or ``"grouped"`` (see :mod:`qapgen.metrics.protocols`).
        contexts: each example's context; required by the grouped protocol.
        meteor: ``"java"`` puts METEOR 1.5 in ``meteor``; ``"nltk"`` computes nltk's
            METEOR, reported only as ``meteor_nltk``; ``"none"`` skips METEOR.
        meteor_nltk: also compute ``meteor_nltk`` (needs WordNet; see
            :mod:`qapgen.metrics.wordnet`).
        meteor_scorer: the METEOR 1.5 process to use; default the shared one.

    Returns:
        ``bleu1``..``bleu4``, ``rougeL``, ``meteor`` and/or ``meteor_nltk`` when computed,
        ``n`` (items scored: contexts under the grouped protocol), ``n_examples``,
        ``protocol``, ``normalisation`` and ``implementations`` (metric -> one line).
    """
    check_options(protocol, meteor)
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference sets")
    if not predictions:
        raise ValueError("there are no predictions to score")
    for index, refs in enumerate(references):
        if isinstance(refs, str) or not refs:
            raise ValueError(f"example {index}: references must be a non-empty list of strings")
    if protocol == "grouped" and contexts is None:
        raise ValueError("the grouped protocol needs contexts")
    n_examples = len(predictions)
    scorer = (meteor_scorer or meteor_java.shared_meteor()) if meteor == "java" else None
    # A cold JVM takes seconds to load METEOR's paraphrase table: let it load on the
    # other core while Python normalises and computes the other metrics.
    wait_for_meteor = _start_in_background(scorer) if scorer is not None else None
    if protocol == "grouped":
        predictions, references = group_by_context(predictions, references, contexts)

    hypotheses = [normalize(p) for p in predictions]
    gold = [[normalize(r) for r in refs] for refs in references]
    for index, refs in enumerate(gold):
        if not all(refs):
            raise ValueError(f"item {index}: a reference is empty after normalisation")

    result: dict[str, Any] = dict(bleu.corpus_bleu(hypotheses, gold))
    implementations = {"bleu": bleu.IMPLEMENTATION, "rougeL": rouge.IMPLEMENTATION}
    hyp_tokens = [h.split() for h in hypotheses]
    gold_tokens = [[r.split() for r in refs] for refs in gold]
    result["rougeL"] = rouge.corpus_rouge_l(hyp_tokens, gold_tokens)
    if meteor == "nltk" or meteor_nltk:
        result["meteor_nltk"] = corpus_meteor_nltk(hyp_tokens, gold_tokens)
        implementations["meteor_nltk"] = meteor_nltk_implementation()
    if scorer is not None and wait_for_meteor is not None:
        wait_for_meteor()
        result["meteor"] = 100.0 * scorer.score(hypotheses, gold).corpus
        implementations["meteor"] = meteor_java.implementation()
    result.update(
        n=len(hypotheses),
        n_examples=n_examples,
        protocol=protocol,
        normalisation=NORMALISATION,
        implementations=implementations,
    )
    return result


def _start_in_background(scorer: meteor_java.Meteor15) -> Callable[[], None]:
    """Start ``scorer``'s JVM on a thread; the returned function waits for it and
    re-raises its failure. If the caller fails first, the JVM still comes up and is
    reused (or ended at exit) like any started one."""
    failures: list[meteor_java.MeteorError] = []

    def start() -> None:
        try:
            scorer.start()
        except meteor_java.MeteorError as error:
            failures.append(error)

    thread = threading.Thread(target=start, name="meteor-start", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failures:
            raise failures[0]

    return wait
