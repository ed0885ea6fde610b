"""Export blinded rating forms for two systems, and score two raters' answers (Table 4).

The paper's three questions (4.5): (1) is the QA pair grammatical and complete
(Yes / No / Understandable)? (2) is it semantically matched and relevant to the context
(Yes / No)? (3) is it matched, relevant AND different from the gold pair (Yes / No)?
Items from both systems (and, optionally, the gold pairs) are shuffled together and
shown without their source; the key that unblinds them is written to a separate file.
"""

from __future__ import annotations

import csv
import html
import json
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

QUESTIONS = {
    "q1_grammatical": (
        "Is the question-answer pair grammatical and complete?",
        ("Yes", "No", "Understandable"),
    ),
    "q2_relevant": ("Is the pair semantically matched and relevant to the context?", ("Yes", "No")),
    "q3_different": ("Is it matched, relevant AND different from the gold pair?", ("Yes", "No")),
}
FORM_COLUMNS = ("item", "context", "question", "answer", *QUESTIONS)
GOLD = "gold"


class HumanEvalError(ValueError):
    """A prediction file or answer sheet cannot be used; says which file and row."""


@dataclass(frozen=True)
class Item:
    item: str
    system: str
    example_id: str
    context: str
    question: str
    answer: str


def read_predictions(path: Path) -> dict[str, dict]:
    """Test predictions JSONL (``predictions/test.jsonl`` of a run), keyed by id."""
    rows = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise HumanEvalError(f"{path} line {lineno}: not valid JSON ({error.msg})") from error
        missing = {"id", "context", "predicted_question", "predicted_answer"} - set(row)
        if missing:
            raise HumanEvalError(
                f"{path} line {lineno}: missing field(s) {', '.join(sorted(missing))}"
            )
        rows[str(row["id"])] = row
    return rows


def export_forms(
    systems: dict[str, Path],
    out_dir: Path,
    *,
    n: int = 200,
    seed: int = 0,
    include_gold: bool = True,
) -> dict[str, Path]:
    """Sample ``n`` examples both systems predicted, blind and shuffle them into forms.

    Writes ``form.csv`` (one row per item, the answer columns empty), ``form.html`` (the
    same as a static page that saves a CSV), and ``key.json`` (item -> system, example).
    """
    predictions = {name: read_predictions(path) for name, path in systems.items()}
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
    blinded = [Item(f"item-{i:04d}", *fields) for i, fields in enumerate(items, start=1)]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "csv": out_dir / "form.csv",
        "html": out_dir / "form.html",
        "key": out_dir / "key.json",
    }
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FORM_COLUMNS)
        for item in blinded:
            writer.writerow([item.item, item.context, item.question, item.answer, "", "", ""])
    paths["html"].write_text(render_html(blinded), encoding="utf-8")
    key = {
        "seed": seed,
        "systems": {name: str(path) for name, path in systems.items()},
        "items": {i.item: {"system": i.system, "id": i.example_id} for i in blinded},
    }
    paths["key"].write_text(json.dumps(key, indent=2) + "\n")
    return paths


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


def read_answers(path: Path, key: dict) -> dict[str, dict[str, str]]:
    """A rater's sheet (form.csv filled in, or the page's answers.csv): item -> answers."""
    answers = {}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for rowno, row in enumerate(csv.DictReader(handle), start=2):
            item = row.get("item", "")
            if item not in key["items"]:
                raise HumanEvalError(f"{path} row {rowno}: unknown item {item!r}")
            for column, (_, options) in QUESTIONS.items():
                value = (row.get(column) or "").strip()
                if value not in options:
                    raise HumanEvalError(
                        f"{path} row {rowno} ({item}), column {column}: {value!r} is not one of "
                        f"{', '.join(options)}"
                    )
            answers[item] = {c: row[c].strip() for c in QUESTIONS}
    missing = set(key["items"]) - set(answers)
    if missing:
        raise HumanEvalError(
            f"{path}: {len(missing)} item(s) unanswered, e.g. {sorted(missing)[0]}"
        )
    return answers


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
