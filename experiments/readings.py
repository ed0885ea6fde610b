"""Open readings measured on real data: one run per reading, same budget and seed.

Study ``igja_qap`` (the default): the paper leaves three things open (see
``qapgen/models/gate.py`` and ``igja_qap.py``): how the gate's h_ques reaches the question
generator (``gate_fusion``), whether each task has its own generator
(``separate_generators``) and how eq. 14 reduces the task losses (``loss_reduction``). Every
IGJA-QAP variant below states all three, so the study does not depend on what
``conf/model/igja_qap.yaml`` ships; T5-QG and the no-gate ablation run beside them as
references.

Study ``info_qap``: Info-QAP's question generator with and without the answer tagged in its
input (``answer_conditioning``), the change that builds it as Info-HCVAE is built.

    python -m experiments.readings [--study igja_qap|info_qap] [--profile cpu-real]
        [--dataset squad] [--data-dir DIR] [--variants a,b] [--seed 0] [--conf-dir conf]
        [--results-dir results] [--out DIR] [--export-only]

Runs go through the sweep runner (finished cells are skipped, killed ones resume) into
``<results>/<profile>/``; ``--out`` then receives the light artefacts: each cell's
``metrics.json`` (test scores, floors, validation curves, provenance), ``table.md`` and
``curves.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.sweep import CONF, ROOT, Cell, run_sweep
from qapgen.atomic_files import atomic_open, atomic_write_text


@dataclass(frozen=True)
class Variant:
    name: str
    model: str  # conf/model/<model>.yaml
    readings: dict[str, Any]  # model.init_args overrides
    description: str

    def cell(self, dataset: str, seed: int) -> Cell:
        overrides = tuple(
            f"model.init_args.{key}={str(value).lower() if isinstance(value, bool) else value}"
            for key, value in self.readings.items()
        )
        return Cell(dataset, self.model, seed, variant=self.name, overrides=overrides)


def _igja(fusion: str, separate: bool, reduction: str) -> dict[str, Any]:
    return {"gate_fusion": fusion, "separate_generators": separate, "loss_reduction": reduction}


IGJA_VARIANTS: tuple[Variant, ...] = (
    Variant("t5_qg", "t5_qg", {}, "T5-QG: context → question (reference)"),
    Variant(
        "igja_no_gate",
        "igja_qap_no_gate",
        {"separate_generators": True, "loss_reduction": "sequence"},
        "Ours-gate ablation: h^q straight to W_q (separate generators, sequence loss)",
    ),
    Variant(
        "igja_replace",
        "igja_qap",
        _igja("replace", True, "sequence"),
        "h_ques alone feeds W_q (the earlier code); separate generators, sequence loss",
    ),
    Variant(
        "igja_residual",
        "igja_qap",
        _igja("residual", True, "sequence"),
        "h^q + h_ques feeds W_q; separate generators, sequence loss",
    ),
    Variant(
        "igja_residual_tied_head",
        "igja_qap",
        _igja("residual", False, "sequence"),
        "as igja_residual, but both tasks on T5's one tied head",
    ),
    Variant(
        "igja_residual_token_loss",
        "igja_qap",
        _igja("residual", True, "token"),
        "as igja_residual, but eq. 14 as a sum of per-task token means",
    ),
)

INFO_QAP_VARIANTS: tuple[Variant, ...] = (
    Variant(
        "info_qap_tagged",
        "info_qap",
        {"answer_conditioning": "tag"},
        "Info-QAP, question decoded from the context with the answer span tagged (gold in "
        "training, extracted at test)",
    ),
    Variant(
        "info_qap_untagged",
        "info_qap",
        {"answer_conditioning": "none"},
        "Info-QAP, question decoded from the context alone, paired with the answer by rank",
    ),
    Variant(
        "info_qap_tagged_no_mi",
        "info_qap",
        {"answer_conditioning": "tag", "mi_weight": 0.0},
        "as info_qap_tagged, without the InfoMax term (λ_mi = 0): what the term costs or gives",
    ),
)


FAMILY_VARIANTS: tuple[Variant, ...] = (
    Variant(
        "igja_t5_v1_1",
        "igja_qap",
        {"backbone_family": "t5-v1.1"},
        "IGJA-QAP on a random-init T5 v1.1 (gated GELU, no rescaling before the head)",
    ),
    Variant(
        "igja_bart",
        "igja_qap",
        {"backbone_family": "bart"},
        "IGJA-QAP on a random-init BART of the same size (learned positions; answer and "
        "question decoded in two passes)",
    ),
)


@dataclass(frozen=True)
class Study:
    title: str
    variants: tuple[Variant, ...]
    out: str  # default --out, under the repository root


STUDIES = {
    "igja_qap": Study("IGJA-QAP readings", IGJA_VARIANTS, "experiments/results/cpu-real"),
    "info_qap": Study(
        "Info-QAP answer conditioning", INFO_QAP_VARIANTS, "experiments/results/cpu-real-info-qap"
    ),
    "families": Study(
        "IGJA-QAP on other backbone families",
        FAMILY_VARIANTS,
        "experiments/results/cpu-real-families",
    ),
}
# The default study's variants, under the name earlier callers use.
VARIANTS = IGJA_VARIANTS

# Test columns of the table: (label, task, metric key).
TEST_COLUMNS = (
    ("Q BLEU-1", "question", "bleu1"),
    ("Q ROUGE-L", "question", "rougeL"),
    ("Q METEOR", "question", "meteor"),
    ("A BLEU-1", "answer", "bleu1"),
    ("A METEOR", "answer", "meteor"),
)
LOSS_CAVEAT = (
    "Losses are teacher-forced, in nats per token: a question loss conditioned on the gold "
    "answer (IGJA-QAP, Info-QAP tagged) reads lower than one on the context alone (T5-QG, "
    "Info-QAP untagged), so compare question losses within a kind only; the test scores use "
    "generated answers throughout."
)
# Validation curves drawn in curves.png: (key, panel title).
CURVES = (
    ("val/question_loss", "validation question loss (nats/token)"),
    ("val/answer_loss", "validation answer loss (nats/token)"),
    ("val/question/meteor", "validation question METEOR"),
    ("val/answer/meteor", "validation answer METEOR"),
)


def final_value(record: dict[str, Any], key: str) -> float | None:
    points = record.get("validation", {}).get(key) or []
    return points[-1][1] if points else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render_table(records: dict[str, dict[str, Any]], variants: list[Variant]) -> str:
    """Markdown: test scores, final validation and test losses (nats per token) and cost per
    variant, then the floors."""
    header = ["variant", *(label for label, *_ in TEST_COLUMNS)]
    header += ["val Q loss", "val A loss", "test Q loss", "test A loss", "steps", "wall (min)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant in variants:
        record = records.get(variant.name)
        if record is None:
            lines.append(
                "| " + " | ".join([variant.name, "not run", *["–"] * (len(header) - 2)]) + " |"
            )
            continue
        metrics = record["metrics"]
        cells = [variant.name]
        cells += [_fmt(metrics.get(f"test/{task}/{key}")) for _, task, key in TEST_COLUMNS]
        cells += [
            _fmt(final_value(record, "val/question_loss"), 3),
            _fmt(final_value(record, "val/answer_loss"), 3),
            _fmt(metrics.get("test/question_loss"), 3),
            _fmt(metrics.get("test/answer_loss"), 3),
            str(record.get("steps")),
            _fmt(record["wall_time_s"] / 60),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Floors (same metrics, test split):", ""]
    lines += ["| floor | " + " | ".join(label for label, *_ in TEST_COLUMNS) + " |"]
    lines += ["|" + "---|" * (len(TEST_COLUMNS) + 1)]
    floors = {v.name: records[v.name].get("floors") or {} for v in variants if v.name in records}
    # The constant floor depends on the training split only; take the one with both tasks.
    constants = [f["constant"] for f in floors.values() if f.get("constant")]
    if constants:
        constant = max(constants, key=len)
        lines.append(_floor_row("constant: most frequent training text", constant))
    for name, floor in floors.items():
        if floor.get("shuffled"):
            lines.append(_floor_row(f"shuffled {name} predictions", floor["shuffled"]))
    return "\n".join(lines) + "\n"


def _floor_row(label: str, scores: dict[str, dict[str, float]]) -> str:
    cells = [_fmt(scores.get(task, {}).get(key)) for _, task, key in TEST_COLUMNS]
    return "| " + " | ".join([label, *cells]) + " |"


def plot_curves(records: dict[str, dict[str, Any]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for axis, (key, panel_title) in zip(axes.flat, CURVES, strict=True):
        # One colour per variant in every panel, also where a variant lacks a task.
        for index, (name, record) in enumerate(records.items()):
            points = record.get("validation", {}).get(key)
            if points:
                steps, values = zip(*points, strict=True)
                axis.plot(steps, values, marker="o", markersize=3, label=name, color=f"C{index}")
        axis.set_title(panel_title)
        axis.set_xlabel("training step")
        axis.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, dpi=120, format=path.suffix[1:])
    plt.close(figure)
    return path


def export(
    records: dict[str, dict[str, Any]],
    variants: list[Variant],
    out: Path,
    profile: str,
    title: str = "IGJA-QAP readings",
) -> list[Path]:
    """Each cell's metrics.json, table.md and curves.png under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, record in records.items():
        target = out / name / "metrics.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, json.dumps(record, indent=2) + "\n")
        written.append(target)
    table = out / "table.md"
    descriptions = "\n".join(f"- `{v.name}`: {v.description}" for v in variants)
    heading = (
        f"# {title}, profile `{profile}` (test split; validation losses at the last validation)"
    )
    atomic_write_text(
        table, "\n\n".join([heading, descriptions, LOSS_CAVEAT, render_table(records, variants)])
    )
    written.append(table)
    written.append(plot_curves(records, out / "curves.png", f"{title} ({profile})"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="experiments.readings", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--study", choices=sorted(STUDIES), default="igja_qap")
    parser.add_argument("--profile", default="cpu-real")
    parser.add_argument("--dataset", default="squad")
    parser.add_argument("--data-dir", type=Path, default=None, help="sets data.path")
    parser.add_argument("--variants", default="", help="comma list (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conf-dir", type=Path, default=CONF)
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    parser.add_argument("--out", type=Path, default=None, help="default: the study's")
    parser.add_argument("--export-only", action="store_true", help="only rewrite --out")
    args = parser.parse_args(argv)

    study = STUDIES[args.study]
    out = args.out or ROOT / study.out
    wanted = {name for name in args.variants.split(",") if name}
    unknown = wanted - {v.name for v in study.variants}
    if unknown:
        print(f"readings: unknown variants {sorted(unknown)}; choose from "
              f"{[v.name for v in study.variants]}", file=sys.stderr)  # fmt: skip
        return 2
    variants = [v for v in study.variants if not wanted or v.name in wanted]
    cells = [v.cell(args.dataset, args.seed) for v in variants]
    overrides = (f"data.path={args.data_dir}",) if args.data_dir else ()
    failed = 0
    if not args.export_only:
        outcomes = run_sweep(cells, args.profile, args.results_dir, args.conf_dir, overrides)
        failed = sum(o["status"] == "failed" for o in outcomes)
    records = {}
    for variant, cell in zip(variants, cells, strict=True):
        path = cell.directory(args.results_dir, args.profile) / "metrics.json"
        if path.exists():
            records[variant.name] = json.loads(path.read_text())
    for path in export(records, variants, out, args.profile, study.title):
        print(f"readings: wrote {path}", file=sys.stderr)
    print((out / "table.md").read_text())
    if failed:
        print(f"readings: {failed} run(s) failed; see their status.json", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
