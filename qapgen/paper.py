"""The IGJA-QAP paper's reported numbers (Liu, Lin, Wang), for side-by-side reports.

Source: the paper's tables as transcribed in the project's paper notes. Table 1 gives the
prepared datasets' sizes and average lengths in words.
"""

from __future__ import annotations

# dataset -> split counts and average words of context, question and answer.
TABLE1: dict[str, dict[str, float]] = {
    "squad": {
        "train": 36078,
        "val": 1584,
        "test": 4009,
        "avg_context_words": 25.77,
        "avg_question_words": 11.6,
        "avg_answer_words": 3.8,
    },
    "newsqa": {
        "train": 92449,
        "val": 5166,
        "test": 5122,
        "avg_context_words": 36.5,
        "avg_question_words": 7.7,
        "avg_answer_words": 5.5,
    },
    "coqa": {
        "train": 108647,
        "val": 2395,
        "test": 5588,
        "avg_context_words": 10.6,
        "avg_question_words": 6.4,
        "avg_answer_words": 2.9,
    },
}
