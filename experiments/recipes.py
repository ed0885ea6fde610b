"""Which (dataset, model) cells make each of the paper's tables.

The cells of a table are exactly the rows the paper reports (CoQA has no extractive
models, since its answers are free-form). A cell's run scores every task its model
produces, so Tables 2 and 3 share the runs of the joint models.
"""

from __future__ import annotations

from dataclasses import dataclass

from qapgen.paper import MODEL_NAMES, TABLE2, TABLE3, TABLE5

DATASETS = ("squad", "newsqa", "coqa")
PAPER_NAME_TO_MODEL = {paper: name for name, paper in MODEL_NAMES.items()}


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    # (dataset, model config name) in the paper's row order.
    cells: tuple[tuple[str, str], ...]
    # metric columns: (column label, task, metric key, paper key)
    columns: tuple[tuple[str, str, str, str], ...]
    paper: dict[tuple[str, str], dict[str, float]]


def _cells(table: dict[tuple[str, str], dict[str, float]]) -> tuple[tuple[str, str], ...]:
    return tuple((dataset, PAPER_NAME_TO_MODEL[model]) for dataset, model in table)


RECIPES: dict[str, Recipe] = {
    "table2": Recipe(
        "table2",
        "Table 2: question generation",
        _cells(TABLE2),
        (
            ("BLEU-1", "question", "bleu1", "bleu1"),
            ("ROUGE-L", "question", "rougeL", "rougeL"),
            ("METEOR", "question", "meteor", "meteor"),
        ),
        TABLE2,
    ),
    "table3": Recipe(
        "table3",
        "Table 3: answer generation",
        _cells(TABLE3),
        (
            ("BLEU-1", "answer", "bleu1", "bleu1"),
            ("ROUGE-L", "answer", "rougeL", "rougeL"),
            ("METEOR", "answer", "meteor", "meteor"),
        ),
        TABLE3,
    ),
    "table5": Recipe(
        "table5",
        "Table 5: ablations (question / answer)",
        _cells(TABLE5),
        (
            ("Q BLEU-1", "question", "bleu1", "q_bleu1"),
            ("A BLEU-1", "answer", "bleu1", "a_bleu1"),
            ("Q ROUGE-L", "question", "rougeL", "q_rougeL"),
            ("A ROUGE-L", "answer", "rougeL", "a_rougeL"),
            ("Q METEOR", "question", "meteor", "q_meteor"),
            ("A METEOR", "answer", "meteor", "a_meteor"),
        ),
        TABLE5,
    ),
}

# Figure 5 compares the per-task METEOR curves of these two models (paper: on SQuAD).
FIGURE5_MODELS = ("igja_qap", "onestop")
