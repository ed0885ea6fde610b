"""The table renderer on a hand-made result store, and Figure 5's plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.recipes import RECIPES
from experiments.sweep import Cell, plan
from qapgen.reporting.figures import plot_figure5, read_curves
from qapgen.reporting.tables import collect_results, render_latex, render_markdown


def store(root: Path, dataset: str, model: str, seed: int, **scores: float) -> None:
    directory = root / dataset / model / f"seed{seed}"
    directory.mkdir(parents=True)
    metrics = {f"test/{k.replace('__', '/')}": v for k, v in scores.items()}
    (directory / "metrics.json").write_text(json.dumps({"metrics": metrics}))


def fail(root: Path, dataset: str, model: str, seed: int, reason: str) -> None:
    directory = root / dataset / model / f"seed{seed}"
    directory.mkdir(parents=True)
    (directory / "status.json").write_text(json.dumps({"status": "failed", "reason": reason}))


def test_table2_shows_ours_paper_difference_and_seed_spread(tmp_path):
    recipe = RECIPES["table2"]
    store(
        tmp_path,
        "squad",
        "t5_qg",
        0,
        question__bleu1=30.0,
        question__rougeL=40.0,
        question__meteor=20.0,
    )
    store(
        tmp_path,
        "squad",
        "t5_qg",
        1,
        question__bleu1=34.0,
        question__rougeL=40.0,
        question__meteor=22.0,
    )
    fail(tmp_path, "newsqa", "t5_qg", 0, "DataNotFoundError: no newsqa files under /data")
    cells = plan(recipe, ["squad", "newsqa"], ["t5_qg"], [0, 1])
    results = collect_results(tmp_path, cells)
    text = render_markdown(recipe, results, "offline")
    row = next(line for line in text.splitlines() if line.startswith("| SQuAD | T5-QG"))
    # BLEU-1: mean 32.0, sample std 2.8; the paper's 37.3; difference -5.3.
    assert row == (
        "| SQuAD | T5-QG | 2 | 32.0 ± 2.8 | 37.3 | -5.3 | 40.0 ± 0.0 | 40.5 | -0.5 "
        "| 21.0 ± 1.4 | 26.7 | -5.7 |"
    )
    assert "- NewsQA / T5-QG: could not run: DataNotFoundError: no newsqa files under /data" in text
    assert "- CoQA / T5-QG: not run yet" in text
    assert "| CoQA | T5-QG | 0 | – | 30.5 | – |" in text
    assert "not comparable with the paper's" in text


def test_floors_are_reported_beside_the_table(tmp_path):
    recipe = RECIPES["table2"]
    store(
        tmp_path,
        "squad",
        "t5_qg",
        0,
        question__bleu1=30.0,
        question__rougeL=40.0,
        question__meteor=20.0,
    )
    record_path = tmp_path / "squad" / "t5_qg" / "seed0" / "metrics.json"
    record = json.loads(record_path.read_text())
    record["floors"] = {
        "shuffled": {"question": {"bleu1": 12.0, "rougeL": 8.0, "meteor": 4.0}},
        "constant": {
            "question": {"text": "What is it?", "bleu1": 5.0, "rougeL": 6.0, "meteor": 2.0}
        },
    }
    record_path.write_text(json.dumps(record))
    text = render_markdown(
        recipe, collect_results(tmp_path, plan(recipe, ["squad"], ["t5_qg"], [0])), "x"
    )
    assert "| SQuAD | constant: most frequent training text | 5.0 | 6.0 | 2.0 |" in text
    assert "| SQuAD | shuffled T5-QG predictions | 12.0 | 8.0 | 4.0 |" in text


def test_every_table2_row_of_the_paper_is_present(tmp_path):
    recipe = RECIPES["table2"]
    text = render_markdown(recipe, collect_results(tmp_path, plan(recipe, [], [], [0])), "paper")
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("| SQuAD") or line.startswith("| NewsQA") or line.startswith("| CoQA")
    ]
    assert len(rows) == 19  # 7 + 7 + 5 (CoQA has no extractive models)
    assert not any("OneStop" in r for r in rows if r.startswith("| CoQA"))


def test_table5_reads_both_tasks_and_latex_renders(tmp_path):
    recipe = RECIPES["table5"]
    store(
        tmp_path,
        "coqa",
        "igja_qap_no_gate",
        0,
        question__bleu1=10.0,
        answer__bleu1=20.0,
        question__rougeL=1.0,
        answer__rougeL=2.0,
        question__meteor=3.0,
        answer__meteor=4.0,
    )
    results = collect_results(tmp_path, plan(recipe, ["coqa"], ["igja_qap_no_gate"], [0]))
    text = render_markdown(recipe, results, "offline")
    row = next(line for line in text.splitlines() if line.startswith("| CoQA | Ours-gate"))
    assert row.startswith("| CoQA | Ours-gate | 1 | 10.0 | 9.6 | +0.4 | 20.0 | 17.7 | +2.3 |")
    latex = render_latex(recipe, results, "offline")
    assert r"\begin{tabular}" in latex and "CoQA & Ours-gate & 10.0 & 9.6 & +0.4" in latex


@pytest.mark.parametrize("name", ["table2", "table3", "table5"])
def test_recipes_only_name_models_with_paper_rows(name):
    recipe = RECIPES[name]
    assert len(recipe.cells) == len(recipe.paper)
    assert all(isinstance(c, Cell) for c in plan(recipe, [], [], [0]))


def test_figure5_reads_resumed_csv_logs_and_writes_png_and_pdf(tmp_path):
    for version, rows in (
        ("version_0", [(9, 1.0, 2.0), (19, 3.0, 4.0)]),
        ("version_1", [(29, 5.0, 6.0)]),
    ):
        folder = tmp_path / "run" / "lightning_logs" / version
        folder.mkdir(parents=True)
        lines = ["epoch,step,train/loss,val/question/meteor,val/answer/meteor", "0,4,2.5,,"]
        lines += [f"0,{s},,{q},{a}" for s, q, a in rows]
        (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    curves = read_curves(tmp_path / "run")
    assert curves == {
        "question": [(9, 1.0), (19, 3.0), (29, 5.0)],
        "answer": [(9, 2.0), (19, 4.0), (29, 6.0)],
    }
    paths = plot_figure5(
        {"IGJA-QAP": tmp_path / "run", "OneStop": tmp_path / "run"}, tmp_path / "fig"
    )
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"


def test_table1_variants_report_counts_and_lengths_per_preparation(tmp_path, monkeypatch,
                                                                   isolated_cache):  # fmt: skip
    from experiments import table1_variants
    from qapgen.data.datamodule import fixture_path
    from qapgen.data.prepare import PrepareOptions

    chosen = [
        PrepareOptions(sentence_policy="unique"),
        PrepareOptions(sentence_policy="every_pair"),
    ]
    monkeypatch.setattr(table1_variants, "variants", lambda: chosen)
    out = tmp_path / "table1"
    assert (
        table1_variants.main(["--data-dir", str(fixture_path("squad")), "--out-dir", str(out)]) == 0
    )
    rows = json.loads((out / "squad-variants.json").read_text())
    assert [r["options"]["sentence_policy"] for r in rows] == ["unique", "every_pair"]
    unique, every = rows
    # every_pair keeps what unique drops for sharing a sentence or crossing one
    assert sum(every["counts"].values()) == sum(unique["counts"].values()) + unique["dropped"][
        "segment_has_multiple_qa"] + unique["dropped"]["answer_crosses_sentences"]  # fmt: skip
    table = (out / "squad-variants.md").read_text()
    assert "| paper | punkt | unique |" in table and "(the paper)" in table


def test_pair_level_scores_get_their_own_table_only_where_logged(tmp_path):
    recipe = RECIPES["table2"]
    store(
        tmp_path,
        "squad",
        "igja_qap",
        0,
        question__bleu1=30.0,
        pair__qa_aligned_f1=80.0,
        pair__qa_aligned_precision=82.0,
        pair__qa_aligned_recall=78.0,
    )
    store(
        tmp_path,
        "squad",
        "igja_qap",
        1,
        question__bleu1=31.0,
        pair__qa_aligned_f1=84.0,
        pair__qa_aligned_precision=86.0,
        pair__qa_aligned_recall=82.0,
    )
    store(tmp_path, "squad", "t5_qg", 0, question__bleu1=30.0)  # fmt: skip
    cells = plan(recipe, ["squad"], ["igja_qap", "t5_qg"], [0, 1])
    text = render_markdown(recipe, collect_results(tmp_path, cells), "offline")

    assert (
        "| Dataset | Model | QA-aligned F1 | QA-aligned P | QA-aligned R | answerability F1 |"
        in text
    )
    # Mean ± sample std of the two seeds; answerability was not scored.
    assert "| SQuAD | IGJA-QAP | 82.0 ± 2.8 | 84.0 ± 2.8 | 80.0 ± 2.8 | – |" in text
    assert not any(line.startswith("| SQuAD | T5-QG | 8") for line in text.splitlines())

    bare = tmp_path / "bare"
    store(bare, "squad", "t5_qg", 0, question__bleu1=30.0)
    plain = render_markdown(
        recipe, collect_results(bare, plan(recipe, ["squad"], ["t5_qg"], [0])), "offline"
    )
    assert "QA-aligned" not in plain
