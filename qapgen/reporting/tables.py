"""Render a recipe's table (Markdown and LaTeX): our scores, the paper's, the difference.

A result store holds one ``metrics.json`` per (dataset, model, seed) cell, or a
``status.json`` saying why the cell could not run. Scores over several seeds are shown as
mean ± sample standard deviation.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qapgen.atomic_files import atomic_write_text
from qapgen.json_input import JSONFileError, read_json_object
from qapgen.paper import DATASET_NAMES, MODEL_NAMES


class CellLike(Protocol):
    dataset: str
    model: str
    seed: int


class RecipeLike(Protocol):
    name: str
    title: str
    cells: tuple[tuple[str, str], ...]
    columns: tuple[tuple[str, str, str, str], ...]
    paper: dict[tuple[str, str], dict[str, float]]


@dataclass
class CellResults:
    runs: list[dict[str, Any]] = field(default_factory=list)  # one metrics.json per seed
    failures: list[str] = field(default_factory=list)  # why seeds could not run
    missing: int = 0  # seeds with neither metrics nor a failure (never started)

    def values(self, task: str, metric: str) -> list[float]:
        key = f"test/{task}/{metric}"
        return [run["metrics"][key] for run in self.runs if run["metrics"].get(key) is not None]


def collect_results(
    profile_dir: Path, cells: Iterable[CellLike]
) -> dict[tuple[str, str], CellResults]:
    results: dict[tuple[str, str], CellResults] = {}
    for cell in cells:
        entry = results.setdefault((cell.dataset, cell.model), CellResults())
        directory = profile_dir / cell.dataset / cell.model / f"seed{cell.seed}"
        metrics, status = directory / "metrics.json", directory / "status.json"
        try:
            if metrics.exists():
                entry.runs.append(_read_object(metrics))
            elif status.exists():
                entry.failures.append(str(_read_object(status).get("reason", "no reason given")))
            else:
                entry.missing += 1
        except ValueError as error:
            # A damaged record makes its cell a failure in the table, not the table fail.
            entry.failures.append(str(error))
    return results


def _read_object(path: Path) -> dict[str, Any]:
    try:
        return read_json_object(path)
    except JSONFileError as error:
        raise ValueError(f"{path.name} is damaged ({error.reason}); rerun the sweep") from error


def summarise(values: list[float]) -> tuple[float, float | None] | None:
    if not values:
        return None
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def _fmt(summary: tuple[float, float | None] | None, plus_minus: str) -> str:
    if summary is None:
        return "–"
    mean, std = summary
    return f"{mean:.1f}" if std is None else f"{mean:.1f} {plus_minus} {std:.1f}"


def _cell_note(entry: CellResults | None) -> str | None:
    """Why a row has no numbers, or None when it has some."""
    if entry is None or (not entry.runs and not entry.failures):
        return "not run yet"
    if not entry.runs:
        return "could not run: " + entry.failures[0]
    return None


def table_rows(recipe: RecipeLike, results: dict[tuple[str, str], CellResults], plus_minus: str):
    """Yield (dataset label, model label, [(ours, paper, diff) per column], note, seeds)."""
    for dataset, model in recipe.cells:
        entry = results.get((dataset, model))
        paper_scores = recipe.paper.get((dataset, MODEL_NAMES[model]), {})
        columns = []
        for _, task, metric, paper_key in recipe.columns:
            summary = summarise(entry.values(task, metric)) if entry else None
            paper = paper_scores.get(paper_key)
            diff = summary[0] - paper if summary is not None and paper is not None else None
            columns.append(
                (
                    _fmt(summary, plus_minus),
                    "–" if paper is None else f"{paper:.1f}",
                    "–" if diff is None else f"{diff:+.1f}",
                )
            )
        seeds = len(entry.runs) if entry else 0
        yield DATASET_NAMES[dataset], MODEL_NAMES[model], columns, _cell_note(entry), seeds


def render_markdown(
    recipe: RecipeLike, results: dict[tuple[str, str], CellResults], profile: str
) -> str:
    header = ["Dataset", "Model", "seeds"]
    for label, *_ in recipe.columns:
        header += [label, "paper", "Δ"]
    lines = [
        f"# {recipe.title} — profile `{profile}`",
        "",
        "Ours: mean ± std over seeds, scores 0-100, per-example protocol, METEOR 1.5 (Java, "
        "`-l en -norm`), lowercased PTB tokens. Paper: the IGJA-QAP paper's table. "
        "Δ = ours − paper.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    notes = []
    for dataset, model, columns, note, seeds in table_rows(recipe, results, "±"):
        cells = [dataset, model, str(seeds)]
        for ours, paper, diff in columns:
            cells += [ours, paper, diff]
        lines.append("| " + " | ".join(cells) + " |")
        if note:
            notes.append(f"- {dataset} / {model}: {note}")
    if notes:
        lines += ["", "Cells without numbers:", *notes]
    lines += render_pair_markdown(recipe, results, plus_minus="±")
    lines += render_floors_markdown(recipe, results, plus_minus="±")
    if profile == "offline":
        lines += [
            "",
            "Profile `offline` trains a tiny random-init T5 on the project's fixtures for a "
            "few hundred CPU steps: it shows that every model trains and is scored end to "
            "end. Its numbers are not comparable with the paper's.",
        ]
    return "\n".join(lines) + "\n"


# Pair-level test scores (``test/pair/<key>``), shown where a run logged them.
PAIR_COLUMNS = (
    ("qa_aligned_f1", "QA-aligned F1"),
    ("qa_aligned_precision", "QA-aligned P"),
    ("qa_aligned_recall", "QA-aligned R"),
    ("answerability_f1", "answerability F1"),
)


def render_pair_markdown(
    recipe: RecipeLike, results: dict[tuple[str, str], CellResults], plus_minus: str
) -> list[str]:
    """A second table of the pair-level scores, for the cells whose runs logged any; no lines
    when none did (the paper reports no such scores, so there is nothing to compare with)."""
    rows = []
    for dataset, model in recipe.cells:
        entry = results.get((dataset, model))
        if entry is None:
            continue
        summaries = [summarise(entry.values("pair", key)) for key, _ in PAIR_COLUMNS]
        if any(summary is not None for summary in summaries):
            cells = [DATASET_NAMES[dataset], MODEL_NAMES[model]]
            cells += [_fmt(summary, plus_minus) for summary in summaries]
            rows.append("| " + " | ".join(cells) + " |")
    if not rows:
        return []
    header = ["Dataset", "Model", *(label for _, label in PAIR_COLUMNS)]
    return [
        "",
        "Pair-level scores (0-100): QA-aligned scores on BERTScore and answerability F1, as "
        "`qapgen evaluate --task pairs` defines them; the paper reports none.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *rows,
    ]


def floor_rows(recipe: RecipeLike, results: dict[tuple[str, str], CellResults]):
    """(dataset, label, [value per column]) for each dataset's constant floor, then each
    model's shuffled-prediction floor; only for cells that have run."""
    seen_constant = set()
    for dataset, model in recipe.cells:
        entry = results.get((dataset, model))
        runs = [run for run in (entry.runs if entry else []) if run.get("floors")]
        if not runs:
            continue
        if dataset not in seen_constant:
            constant = runs[0]["floors"].get("constant", {})
            values = [constant.get(task, {}).get(metric) for _, task, metric, _ in recipe.columns]
            if any(v is not None for v in values):
                seen_constant.add(dataset)
                yield DATASET_NAMES[dataset], "constant: most frequent training text", values
        columns = []
        for _, task, metric, _ in recipe.columns:
            scores = [run["floors"].get("shuffled", {}).get(task, {}).get(metric) for run in runs]
            scores = [v for v in scores if v is not None]
            columns.append(statistics.fmean(scores) if scores else None)
        yield DATASET_NAMES[dataset], f"shuffled {MODEL_NAMES[model]} predictions", columns


def render_floors_markdown(recipe: RecipeLike, results, plus_minus: str) -> list[str]:
    rows = list(floor_rows(recipe, results))
    if not rows:
        return []
    header = ["Dataset", "Floor", *(label for label, *_ in recipe.columns)]
    lines = [
        "",
        "Floors, same metrics: a constant prediction (the training split's most frequent "
        "text) and each model's own predictions scored against other test items' references.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for dataset, label, values in rows:
        cells = ["–" if v is None else f"{v:.1f}" for v in values]
        lines.append("| " + " | ".join([dataset, label, *cells]) + " |")
    return lines


def _latex_escape(text: str) -> str:
    return text.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def render_latex(
    recipe: RecipeLike, results: dict[tuple[str, str], CellResults], profile: str
) -> str:
    spec = "ll" + "rrr" * len(recipe.columns)
    head = ["Dataset", "Model"]
    for label, *_ in recipe.columns:
        head += [_latex_escape(label), "paper", r"$\Delta$"]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    for dataset, model, columns, note, _ in table_rows(recipe, results, r"$\pm$"):
        cells = [dataset, _latex_escape(model)]
        for ours, paper, diff in columns:
            cells += [ours, paper, diff]
        if note:
            cells[2] = r"\textit{" + _latex_escape(note.split(":")[0]) + "}"
        lines.append(" & ".join(cells).replace("–", "--") + r" \\")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        rf"\caption{{{_latex_escape(recipe.title)} (profile {_latex_escape(profile)}; ours vs.\ the paper).}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def write_tables(
    recipe: RecipeLike, results: dict[tuple[str, str], CellResults], out_dir: Path, profile: str
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / f"{recipe.name}.md"
    latex = out_dir / f"{recipe.name}.tex"
    atomic_write_text(markdown, render_markdown(recipe, results, profile))
    atomic_write_text(latex, render_latex(recipe, results, profile))
    return [markdown, latex]
