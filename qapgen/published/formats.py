"""The input and output formats of published question-generation checkpoints, so that they
can be run over a qapgen split and scored with qapgen's protocol.

A format says how a record becomes the checkpoint's input text, what the checkpoint writes
(one question, several questions, or question-answer pairs) and how that text is read back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from qapgen.data.highlight import SEPARATOR_TOKEN, highlight_answer
from qapgen.data.records import QARecord

Output = Literal["question", "questions", "pairs"]


@dataclass(frozen=True)
class CheckpointFormat:
    name: str
    description: str
    prefix: str
    # "answer": one input per record, the answer highlighted in its context; "context": one
    # input per distinct context, no answer given.
    unit: Literal["answer", "context"]
    output: Output
    spaced_highlight: bool = False
    # patil-suraj's pipelines append a literal " </s>" before tokenising (the tokenizer adds
    # its own as well); their checkpoints were trained on such inputs.
    eos_suffix: bool = False

    def source(self, record: QARecord) -> str | None:
        """The input text for ``record``; None when the format needs the answer highlighted
        and the answer is not a span of the context."""
        if self.unit == "answer":
            text = highlight_answer(record, spaced=self.spaced_highlight)
            if text is None:
                return None
        else:
            text = record.context
        return f"{self.prefix}{text}{' </s>' if self.eos_suffix else ''}"


FORMATS: dict[str, CheckpointFormat] = {
    "lmqg-qg": CheckpointFormat(
        "lmqg-qg",
        "lmqg / QG-Bench answer-aware QG (e.g. lmqg/t5-base-squad-qg): 'generate question: "
        "...<hl> answer <hl>...' -> a question",
        prefix="generate question: ",
        unit="answer",
        output="question",
    ),
    "valhalla-hl": CheckpointFormat(
        "valhalla-hl",
        "patil-suraj's answer-aware QG (valhalla/t5-base-qg-hl): 'generate question: ... <hl> "
        "answer <hl> ... </s>' -> a question",
        prefix="generate question: ",
        unit="answer",
        output="question",
        spaced_highlight=True,
        eos_suffix=True,
    ),
    "lmqg-qag": CheckpointFormat(
        "lmqg-qag",
        "lmqg end-to-end QAG (e.g. lmqg/t5-base-squad-qag): 'generate question and answer: "
        "context' -> 'question: Q, answer: A | question: ...'",
        prefix="generate question and answer: ",
        unit="context",
        output="pairs",
    ),
    "valhalla-e2e": CheckpointFormat(
        "valhalla-e2e",
        "patil-suraj's end-to-end QG (valhalla/t5-base-e2e-qg): 'generate questions: context "
        "</s>' -> 'Q1 <sep> Q2 <sep>'",
        prefix="generate questions: ",
        unit="context",
        output="questions",
        eos_suffix=True,
    ),
}

_PAIR = re.compile(r"^\s*question:\s*(?P<question>.+?),\s*answer:\s*(?P<answer>.+?)\s*$")


def parse_pairs(text: str) -> tuple[list[tuple[str, str]], int]:
    """lmqg's QAG output read back: the (question, answer) pairs, and how many '|'-separated
    parts were not a 'question: Q, answer: A' pair (counted, never silently dropped)."""
    pairs, rejected = [], 0
    for part in text.split(" | "):
        match = _PAIR.match(part)
        if match is None:
            rejected += bool(part.strip())
            continue
        pairs.append((match["question"].strip(), match["answer"].strip()))
    return pairs, rejected


def parse_questions(text: str) -> list[str]:
    """patil-suraj's end-to-end output read back: the questions between ``<sep>`` tokens."""
    return [part.strip() for part in text.split(SEPARATOR_TOKEN) if part.strip()]
