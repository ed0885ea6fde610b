"""Export blinded rating forms for two systems, and score two raters' answers (Table 4).

The paper's three questions (4.5) are in ``qapgen.humaneval.questions``. Items from both
systems (and, optionally, the gold pairs) are shuffled together and shown without their
source; the key that unblinds them is written to a separate file.

An export never replaces an earlier one unasked: raters' sheets of the old form would be
scored against the new key. With ``overwrite`` the three files are first written whole to
temporary files, then renamed over the old ones, the key last; item names carry a tag of
the form's content (``item-<tag>-0001``), so a sheet from another export is refused as
"unknown item" instead of being scored against the wrong key. ``form.csv`` cells that a
spreadsheet would run as formulas (= + - @ ...) are written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from qapgen.atomic_files import atomic_open, check_output
from qapgen.humaneval.questions import FORM_COLUMNS, GOLD, QUESTIONS
from qapgen.humaneval.readers import HumanEvalError, read_answers, read_key, read_predictions
from qapgen.spreadsheet import safe_row

__all__ = [
    "FORM_COLUMNS",
    "GOLD",
    "QUESTIONS",
    "HumanEvalError",
    "export_forms",
    "read_answers",
    "read_key",
    "read_predictions",
    "render_table4",
    "score_answers",
]

# kind -> file name in the export folder; the key is written (renamed) last.
FORM_FILES = {"csv": "form.csv", "html": "form.html", "key": "key.json"}
TAG_LENGTH = 6


@dataclass(frozen=True)
class Item:
    item: str
    system: str
    example_id: str
    context: str
    question: str
    answer: str


@dataclass
class FormExport:
    """What ``export_forms`` wrote and what it left out."""

    paths: dict[str, Path]
    sampled: int  # examples sampled
    requested: int  # examples asked for
    shared: int  # examples every system predicted
    unshared: int  # examples only some systems predicted (left out)
    items: int
    sources: list[str]  # the systems, and gold when shown

    def lines(self) -> list[str]:
        lines = [
            f"{self.sampled} examples sampled of {self.shared} that every system predicted: "
            f"{self.items} items ({' + '.join(self.sources)})"
        ]
        if self.requested > self.shared:
            lines.append(f"asked for {self.requested} examples, only {self.shared} are shared")
        if self.unshared:
            lines.append(f"{self.unshared} examples predicted by only some systems left out")
        return lines


def export_forms(
    systems: Mapping[str, Path],
    out_dir: Path,
    *,
    n: int = 200,
    seed: int = 0,
    include_gold: bool = True,
    overwrite: bool = False,
) -> FormExport:
    """Sample ``n`` examples every system predicted, blind and shuffle them into forms.

    Writes ``form.csv`` (one row per item, the answer columns empty), ``form.html`` (the
    same as a static page that saves a CSV), and ``key.json`` (item -> system, example).
    Any of the three that exists already is replaced only with ``overwrite``.
    """
    out_dir = Path(out_dir)
    if n < 1:
        raise HumanEvalError(f"the number of examples must be at least 1, not {n}")
    if len(systems) < 2:
        raise HumanEvalError("give two systems to compare")
    if GOLD in systems:
        raise HumanEvalError(
            f"the system name {GOLD!r} is reserved for the gold pairs; name the system otherwise"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise HumanEvalError(f"{out_dir}: a file, not a folder for the forms")
    paths = {kind: out_dir / name for kind, name in FORM_FILES.items()}
    for path in paths.values():
        check_output(path, overwrite=overwrite, inputs=systems.values(), what="form file")
    predictions = {
        name: read_predictions(path, need_gold=include_gold) for name, path in systems.items()
    }
    every = set.union(*(set(p) for p in predictions.values()))
    common = sorted(set.intersection(*(set(p) for p in predictions.values())))
    if not common:
        raise HumanEvalError("the prediction files share no example ids")
    rng = random.Random(seed)
    chosen = rng.sample(common, min(n, len(common)))
    items = []
    for example_id in chosen:
        first = next(iter(predictions.values()))[example_id]
        for name, rows in predictions.items():
            row = rows[example_id]
            items.append(
                (
                    name,
                    example_id,
                    row["context"],
                    row["predicted_question"],
                    row["predicted_answer"],
                )
            )
        if include_gold:
            items.append(
                (GOLD, example_id, first["context"], first["gold_question"], first["gold_answer"])
            )
    rng.shuffle(items)
    tag = hashlib.sha256(json.dumps(items).encode("utf-8")).hexdigest()[:TAG_LENGTH]
    blinded = [Item(f"item-{tag}-{i:04d}", *fields) for i, fields in enumerate(items, start=1)]
    key = {
        "seed": seed,
        "systems": {name: str(path) for name, path in systems.items()},
        "items": {i.item: {"system": i.system, "id": i.example_id} for i in blinded},
    }
    _write_all(
        paths,
        {
            "csv": render_csv(blinded),
            "html": render_html(blinded),
            "key": json.dumps(key, indent=2) + "\n",
        },
    )
    return FormExport(
        paths,
        sampled=len(chosen),
        requested=n,
        shared=len(common),
        unshared=len(every) - len(common),
        items=len(blinded),
        sources=[*systems, *([GOLD] if include_gold else [])],
    )


def _write_all(paths: dict[str, Path], texts: dict[str, str]) -> None:
    """Every file complete on disk before any replaces an old one; the key renamed last."""
    with ExitStack() as stack:
        # Contexts close in reverse order: the key, entered first, is renamed last, so a
        # key never lands before its form.
        for kind in reversed(FORM_FILES):
            handle = stack.enter_context(atomic_open(paths[kind], "w", newline=""))
            handle.write(texts[kind])


def render_csv(items: Sequence[Item]) -> str:
    """form.csv: one row per item, the answer columns empty, formulas neutralised."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(FORM_COLUMNS)
    blanks = [""] * len(QUESTIONS)
    for item in items:
        writer.writerow(safe_row([item.item, item.context, item.question, item.answer, *blanks]))
    return buffer.getvalue()


def render_html(items: Sequence[Item]) -> str:
    """A self-contained page: the items, radio buttons, and a button that saves a CSV."""
    blocks = []
    for item in items:
        choices = []
        for column, (text, options) in QUESTIONS.items():
            radios = " ".join(
                f'<label><input type="radio" name="{item.item}:{column}" value="{o}"> {o}</label>'
                for o in options
            )
            choices.append(f"<p>{html.escape(text)}<br>{radios}</p>")
        blocks.append(
            f'<section data-item="{item.item}"><h3>{item.item}</h3>'
            f"<p><b>Context:</b> {html.escape(item.context)}</p>"
            f"<p><b>Question:</b> {html.escape(item.question)}<br>"
            f"<b>Answer:</b> {html.escape(item.answer)}</p>{''.join(choices)}</section>"
        )
    columns = json.dumps(list(QUESTIONS))
    script = f"""
const columns = {columns};
function saveCsv() {{
  const quote = v => '"' + String(v).replace(/"/g, '""') + '"';
  const rows = [["item", ...columns].join(",")];
  for (const section of document.querySelectorAll("section[data-item]")) {{
    const item = section.dataset.item;
    const values = columns.map(c => {{
      const checked = section.querySelector(`input[name="${{item}}:${{c}}"]:checked`);
      return checked ? checked.value : "";
    }});
    rows.push([item, ...values].map(quote).join(","));
  }}
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([rows.join("\\n") + "\\n"], {{type: "text/csv"}}));
  link.download = "answers.csv";
  link.click();
}}"""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>QA pair rating</title>"
        "<style>body{font-family:sans-serif;max-width:50em;margin:auto}section{border-top:1px solid #ccc}</style>"
        f"</head><body><h1>Rate each question-answer pair</h1>"
        "<p>Pairs come from several sources in random order; rate each on its own.</p>"
        f"{''.join(blocks)}<button onclick='saveCsv()'>Save answers as CSV</button>"
        f"<script>{script}</script></body></html>"
    )


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Cohen's kappa of two raters' labels: (p_o - p_e) / (1 - p_e)."""
    total = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / total
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / total**2
    return 1.0 if expected == 1.0 else (observed - expected) / (1.0 - expected)


def score_answers(key: dict, raters: Sequence[dict[str, dict[str, str]]]) -> dict:
    """Table 4: per system and question, the percentage of each option over both raters;
    Cohen's kappa per question between the first two raters."""
    tallies: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for answers in raters:
        for item, values in answers.items():
            system = key["items"][item]["system"]
            for column, value in values.items():
                tallies[system][column][value] += 1
    table = {
        system: {
            column: {
                option: round(
                    100 * counts[column][option] / max(sum(counts[column].values()), 1), 1
                )
                for option in QUESTIONS[column][1]
            }
            for column in QUESTIONS
        }
        for system, counts in sorted(tallies.items())
    }
    items = sorted(key["items"])
    kappa = (
        {
            column: round(
                cohen_kappa(
                    [raters[0][i][column] for i in items], [raters[1][i][column] for i in items]
                ),
                3,
            )
            for column in QUESTIONS
        }
        if len(raters) >= 2
        else {}
    )
    return {"table4": table, "kappa": kappa, "raters": len(raters), "items": len(items)}


def render_table4(scores: dict) -> str:
    lines = [
        "| System | Q1 Yes | Q1 No | Q1 Understandable | Q2 Yes | Q2 No | Q3 Yes | Q3 No |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for system, columns in scores["table4"].items():
        q1, q2, q3 = columns["q1_grammatical"], columns["q2_relevant"], columns["q3_different"]
        lines.append(
            f"| {system} | {q1['Yes']} | {q1['No']} | {q1['Understandable']} | {q2['Yes']} | "
            f"{q2['No']} | {q3['Yes']} | {q3['No']} |"
        )
    if scores["kappa"]:
        lines.append("")
        lines.append("Cohen's kappa: " + ", ".join(f"{c} {k}" for c, k in scores["kappa"].items()))
    return "\n".join(lines) + "\n"
