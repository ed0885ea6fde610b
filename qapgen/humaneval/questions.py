"""The paper's three human-evaluation questions (4.5) and the columns of a rating sheet.

(1) Is the QA pair grammatical and complete (Yes / No / Understandable)? (2) Is it
semantically matched and relevant to the context (Yes / No)? (3) Is it matched, relevant
AND different from the gold pair (Yes / No)?
"""

from __future__ import annotations

QUESTIONS = {
    "q1_grammatical": (
        "Is the question-answer pair grammatical and complete?",
        ("Yes", "No", "Understandable"),
    ),
    "q2_relevant": ("Is the pair semantically matched and relevant to the context?", ("Yes", "No")),
    "q3_different": ("Is it matched, relevant AND different from the gold pair?", ("Yes", "No")),
}
# form.csv as exported; a rater's sheet needs only the item and the answers.
FORM_COLUMNS = ("item", "context", "question", "answer", *QUESTIONS)
ANSWER_COLUMNS = ("item", *QUESTIONS)
# The system name of the gold pairs in the key; no predicted system may take it.
GOLD = "gold"
