"""Corpus BLEU-1..4 with sacrebleu, configured to match the coco-caption scorer.

coco-caption's ``Bleu(4)`` (the QG scripts' BLEU) counts clipped n-grams against the
maximum count over references, uses for each sentence the reference length closest to
the hypothesis (ties go to the shorter), sums statistics over the corpus, applies one
brevity penalty and takes the geometric mean of the first k precisions for BLEU-k.
sacrebleu's corpus BLEU does the same with ``tokenize="none"`` on pre-tokenised text and
no smoothing. The only residual difference is coco's epsilons (it adds 1e-15 to matches
and 1e-9 to counts), which move a score by far less than 0.01 points, except that where
an n-gram order has no match at all coco returns a tiny positive BLEU-k and sacrebleu 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import sacrebleu
from sacrebleu.metrics.bleu import BLEU

MAX_ORDER = 4
IMPLEMENTATION = (
    f"sacrebleu {sacrebleu.__version__} corpus BLEU, tokenize=none, smooth=none, "
    "closest reference length"
)

_BLEU = BLEU(tokenize="none", smooth_method="none", max_ngram_order=MAX_ORDER, force=True)


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """BLEU-1..4 (keys ``bleu1`` .. ``bleu4``, 0-100) of normalised, space-joined text.

    ``references[i]`` holds the references of ``hypotheses[i]``; their number may vary.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference sets")
    if not hypotheses:
        raise ValueError("BLEU of an empty corpus is undefined")
    # sacrebleu takes references as parallel streams; shorter reference sets are padded
    # with None, which it skips per segment.
    width = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]
    stats = _BLEU.corpus_score(list(hypotheses), streams)
    # One pass collects the statistics for order 4; BLEU-k uses their first k orders.
    return {
        f"bleu{k}": BLEU.compute_bleu(
            correct=list(stats.counts[:k]),
            total=list(stats.totals[:k]),
            sys_len=stats.sys_len,
            ref_len=stats.ref_len,
            smooth_method="none",
            max_ngram_order=k,
        ).score
        for k in range(1, MAX_ORDER + 1)
    }
