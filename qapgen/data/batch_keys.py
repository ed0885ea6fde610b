"""The keys of a collated batch, named once.

The Collator writes a batch under these names and every model reads it through them, so a
renamed key cannot leave a reader behind. Keys of a model's own features (a prompt, a second
input) come from that feature object (``feature.ids_key``, ``feature.labels_key``).
"""

from __future__ import annotations

from qapgen.data.features import ANSWER_SPAN, ANSWER_TARGET, CONTEXT_INPUT, QUESTION_TARGET

# One entry per example, as Python lists.
IDS = "ids"
CONTEXTS = "contexts"
QUESTIONS = "questions"
ANSWERS = "answers"
# Every gold answer of an example, the training target first.
ANSWER_REFERENCES = "answer_references"

# Tensors of the default features.
INPUT_IDS = CONTEXT_INPUT.ids_key
INPUT_MASK = CONTEXT_INPUT.mask_key
ANSWER_LABELS = ANSWER_TARGET.labels_key
QUESTION_LABELS = QUESTION_TARGET.labels_key
ANSWER_START = ANSWER_SPAN.start_key
ANSWER_END = ANSWER_SPAN.end_key
TASK_LABELS = {"answer": ANSWER_LABELS, "question": QUESTION_LABELS}

# The width of a decoder call that packs each row's answer and question labels (an int,
# present when both label features are).
ANSWER_QUESTION_WIDTH = "answer_question_width"
