"""nltk's METEOR: a fast pure-Python option, never interchangeable with METEOR 1.5.

nltk implements the original METEOR (Banerjee & Lavie 2005: exact, stem and WordNet
synonym matches, fixed alpha/beta/gamma, no paraphrases, no per-language tuning), so
its values run far above METEOR 1.5's. It is reported only under ``meteor_nltk``.
The corpus value is the mean of sentence scores, each the best over its references.
"""

from __future__ import annotations

from collections.abc import Sequence

import nltk
from nltk.translate.meteor_score import meteor_score

from qapgen.metrics.wordnet import load_wordnet


def implementation() -> str:
    """One line naming this METEOR and its WordNet for stored results."""
    _, source = load_wordnet()
    return f"nltk {nltk.__version__} meteor_score, mean over sentences; {source}"


def corpus_meteor_nltk(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]]
) -> float:
    """Mean nltk METEOR of tokenised hypotheses, in 0-100.

    Raises :class:`qapgen.metrics.wordnet.WordNetUnavailableError` without WordNet.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference sets")
    if not hypotheses:
        raise ValueError("METEOR of an empty corpus is undefined")
    wordnet, _ = load_wordnet()
    total = sum(
        meteor_score([list(r) for r in refs], list(hyp), wordnet=wordnet)
        for hyp, refs in zip(hypotheses, references, strict=True)
    )
    return 100.0 * total / len(hypotheses)
