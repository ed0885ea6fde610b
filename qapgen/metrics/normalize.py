"""Text normalisation shared by every metric: lowercase, then PTB-style tokens.

Question-generation papers (Du et al. 2017 and those that reuse their script) score
lowercased, Penn-Treebank-tokenised text, with punctuation kept as tokens ("?" counts).
nltk's Treebank tokenizer is a set of regular expressions: it needs no Punkt model and no
download, so scoring works offline. It treats its input as one sentence, which is what
questions and short answers are; in longer text only the final period is split off.
"""

from __future__ import annotations

from functools import lru_cache

from nltk.tokenize import TreebankWordTokenizer

NORMALISATION = "lowercase + PTB tokens (nltk TreebankWordTokenizer), punctuation kept"

_TOKENIZER = TreebankWordTokenizer()


def tokenize(text: str) -> list[str]:
    """Lowercased PTB tokens of ``text``; ``[]`` for empty or whitespace-only text."""
    return _TOKENIZER.tokenize(text.lower())


# References repeat across examples (grouped protocol, duplicated gold questions): cache.
@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """``text`` as the scorers see it: lowercased PTB tokens joined by single spaces."""
    return " ".join(tokenize(text))
