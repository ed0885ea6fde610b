"""Features a model can ask the DataModule for, and how records become them.

A model declares ``data_features``: a tuple of feature objects. Text features render a
template over the record's fields (``{context}``, ``{question}``, ``{answer}``,
``{context_hl}``: the context with its answer between ``<hl>`` tokens, and
``{context_sentence_hl}``: the paragraph with the answer's sentence between them) and
tokenize it, so pipeline baselines get their prompts ("generate question: ...") without the
DataModule knowing any model. Each feature names the batch keys it fills (the Collator writes
them under these names, models read them through the same attributes):

- input feature ``N``: ``ids_key`` ``N_ids`` and ``mask_key`` ``N_attention_mask`` (padded
  with the pad id / 0);
- target feature ``N``: ``labels_key`` ``N_labels`` (padded with -100, the loss's ignore
  index);
- ``AnswerSpan``: ``start_key`` / ``end_key`` (``answer_start_positions`` /
  ``answer_end_positions``), the answer's first and last token in an input feature, or -100
  where the answer is not a span of it.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal

from transformers import PreTrainedTokenizerBase

from qapgen.data.highlight import HIGHLIGHT_TOKEN, highlight_answer, highlight_sentence
from qapgen.data.records import QARecord

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TextFeature:
    name: str
    template: str
    role: Literal["input", "target"]
    max_length_key: Literal["source", "answer", "question"] = "source"

    @property
    def ids_key(self) -> str:
        return self._key("input", "ids")

    @property
    def mask_key(self) -> str:
        return self._key("input", "attention_mask")

    @property
    def labels_key(self) -> str:
        return self._key("target", "labels")

    def keys(self) -> tuple[str, ...]:
        if self.role == "input":
            return (self.ids_key, self.mask_key)
        return (self.labels_key,)

    def _key(self, role: str, suffix: str) -> str:
        if self.role != role:
            raise AttributeError(f"the {self.role} feature {self.name!r} has no {suffix} key")
        return f"{self.name}_{suffix}"


@dataclass(frozen=True)
class AnswerSpan:
    """Answer token start/end in the tokenized ``input`` feature (extractive baselines).

    Rule for answers that are not spans (free-form CoQA answers, an answer cut off by
    truncation, no known char offset): both positions are -100, so span losses skip the
    example.
    """

    input: str = "input"
    start_key = "answer_start_positions"
    end_key = "answer_end_positions"

    def keys(self) -> tuple[str, ...]:
        return (self.start_key, self.end_key)


Feature = TextFeature | AnswerSpan

CONTEXT_INPUT = TextFeature("input", "{context}", "input", "source")
ANSWER_TARGET = TextFeature("answer", "{answer}", "target", "answer")
QUESTION_TARGET = TextFeature("question", "{question}", "target", "question")
ANSWER_SPAN = AnswerSpan("input")
# What a joint model such as IGJA-QAP needs; also the DataModule's default.
DEFAULT_FEATURES: tuple[Feature, ...] = (CONTEXT_INPUT, ANSWER_TARGET, QUESTION_TARGET)


HIGHLIGHTED_CONTEXT = "{context_hl}"
HIGHLIGHTED_SENTENCE = "{context_sentence_hl}"


TEMPLATE_FIELDS = ("context", "context_hl", "context_sentence_hl", "question", "answer")


def source_feature(template: str, *, allowed: tuple[str, ...] = TEMPLATE_FIELDS) -> TextFeature:
    """The ``input`` feature rendered from ``template`` (e.g. QG-Bench's ``"generate question:
    {context_hl}"``); a field outside ``allowed`` (one that would show the model its own
    target) or no field at all is refused."""
    fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    unknown = [name for name in fields if name not in allowed]
    if unknown or not fields:
        raise ValueError(
            f"source_template {template!r} may use {', '.join('{' + f + '}' for f in allowed)}"
            + (
                f", not {', '.join('{' + f + '}' for f in unknown)}"
                if unknown
                else ", and needs one"
            )
        )
    return TextFeature("input", template, "input", "source")


# Tokens a template may write that a tokenizer must keep whole: QG-Bench's and T5's sentinels.
_WHOLE_TOKEN = re.compile(r"<hl>|<sep>|<extra_id_\d+>")


def format_tokens(features: tuple[Feature, ...]) -> tuple[str, ...]:
    """The whole tokens ``features`` write (``<hl>``, ``<sep>``, T5 sentinels such as T5-E2E's
    ``<extra_id_2>``): a tokenizer that lacks one (BART's lacks all) must get it, as those
    formats' models were trained with it."""
    needed: list[str] = []
    for feature in features:
        if isinstance(feature, TextFeature):
            if HIGHLIGHTED_CONTEXT in feature.template or HIGHLIGHTED_SENTENCE in feature.template:
                needed.append(HIGHLIGHT_TOKEN)
            needed += _WHOLE_TOKEN.findall(feature.template)
    return tuple(dict.fromkeys(needed))


def render(template: str, record: QARecord) -> str:
    """The template with the record's fields: ``{context}``, ``{question}``, ``{answer}``,
    ``{context_hl}``, the context with ``<hl> answer <hl>`` as QG-Bench writes it
    (``paragraph_answer``), and ``{context_sentence_hl}``, the paragraph with ``<hl> sentence
    <hl>`` around the answer's sentence (``paragraph_sentence``). Each is the plain context
    where there is nothing to highlight (an answer that is not a span, a record that marks no
    sentence); ``encode_features`` counts those."""
    fields = {"context": record.context, "question": record.question, "answer": record.answer}
    if HIGHLIGHTED_CONTEXT in template:
        fields["context_hl"] = highlight_answer(record) or record.context
    if HIGHLIGHTED_SENTENCE in template:
        fields["context_sentence_hl"] = highlight_sentence(record) or record.context
    return template.format(**fields)


def encode_features(
    records: list[QARecord],
    features: tuple[Feature, ...],
    tokenizer: PreTrainedTokenizerBase,
    max_lengths: dict[str, int],
) -> tuple[list[dict[str, object]], dict[str, int]]:
    """Tokenize every record for every feature; returns per-record features and counters.

    Counters report truncations per feature and answers that are not spans, so that
    nothing is cut or skipped without being reported.
    """
    rows: list[dict[str, object]] = [{} for _ in records]
    counters: dict[str, int] = {}
    text_features = [f for f in features if isinstance(f, TextFeature)]
    for feature in text_features:
        texts = [render(feature.template, r) for r in records]
        limit = max_lengths[feature.max_length_key]
        encoded = tokenizer(
            texts,
            truncation=True,
            max_length=limit,
            return_offsets_mapping=feature.role == "input",
            return_overflowing_tokens=False,
            return_length=False,
        )
        full_lengths = [len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]]
        counters[f"truncated/{feature.name}"] = sum(n > limit for n in full_lengths)
        if HIGHLIGHTED_CONTEXT in feature.template:
            counters[f"unhighlighted/{feature.name}"] = sum(
                highlight_answer(r) is None for r in records
            )
        if HIGHLIGHTED_SENTENCE in feature.template:
            counters[f"unhighlighted_sentence/{feature.name}"] = sum(
                highlight_sentence(r) is None for r in records
            )
        for index, ids in enumerate(encoded["input_ids"]):
            rows[index][feature.name] = list(ids)
            if feature.role == "input":
                rows[index][f"{feature.name}_offsets"] = [
                    tuple(o) for o in encoded["offset_mapping"][index]
                ]
    for feature in features:
        if isinstance(feature, AnswerSpan):
            source = next(f for f in text_features if f.name == feature.input)
            missing = 0
            for record, row in zip(records, rows, strict=True):
                span = answer_token_span(record, source, row[f"{feature.input}_offsets"])
                row["answer_span"] = span
                missing += span is None
            counters["answer_not_a_span"] = missing
    for row in rows:
        for key in [k for k in row if k.endswith("_offsets")]:
            del row[key]
    return rows, counters


def answer_token_span(
    record: QARecord, source: TextFeature, offsets: list[tuple[int, int]]
) -> tuple[int, int] | None:
    """First and last token (inclusive) of the answer in the tokenized source, or None."""
    if record.answer_start is None:
        return None
    # Where the context starts inside the rendered template (prompts put text before it).
    prefix = source.template.split("{context}")[0]
    if "{context}" not in source.template or "{" in prefix:
        return None
    char_start = len(prefix) + record.answer_start
    char_end = char_start + len(record.answer)
    first = last = None
    for index, (start, end) in enumerate(offsets):
        if end <= start:  # special tokens (</s>) have empty offsets
            continue
        if first is None and end > char_start:
            first = index
        if start < char_end:
            last = index
    if first is None or last is None or last < first or offsets[last][1] < char_end:
        return None  # truncated away, or not aligned
    return first, last
