"""Figure 5: per-task METEOR over training steps (question vs answer), one panel a model.

The paper's optimisation-balance argument: OneStop's question METEOR peaks early and
falls while its answer METEOR keeps rising; IGJA-QAP's two curves rise together. The
curves come from the CSV logs of the runs (``val/question/meteor``, ``val/answer/meteor``),
so they never depend on W&B.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402

from qapgen.atomic_files import atomic_open  # noqa: E402

TASK_STYLES = {"question": ("ques", "tab:blue", "o"), "answer": ("ans", "tab:orange", "s")}


def read_logged_curves(run_dir: Path, prefix: str = "val/") -> dict[str, list[tuple[int, float]]]:
    """(step, value) of every logged key that starts with ``prefix``, from every metrics.csv
    under ``run_dir``, sorted by step.

    A resumed run logs into a new version folder; rows of all versions are merged by step.
    """
    curves: dict[str, dict[int, float]] = {}
    for path in sorted(run_dir.glob("**/metrics.csv")):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                for key, value in row.items():
                    if key and key.startswith(prefix) and value:
                        curves.setdefault(key, {})[int(row["step"])] = float(value)
    return {key: sorted(points.items()) for key, points in sorted(curves.items())}


def read_curves(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """(step, value) of val/<task>/meteor per task, from the run's CSV logs."""
    logged = read_logged_curves(run_dir)
    return {task: logged.get(f"val/{task}/meteor", []) for task in TASK_STYLES}


def plot_figure5(panels: dict[str, Path], out_stem: Path, title_suffix: str = "") -> list[Path]:
    """Draw one panel per model (label -> run folder); write ``out_stem``.png and .pdf."""
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for axis, (label, run_dir) in zip(axes[0], panels.items(), strict=True):
        curves = read_curves(run_dir)
        for task, (name, colour, marker) in TASK_STYLES.items():
            points = curves[task]
            if points:
                steps, values = zip(*points, strict=True)
                axis.plot(steps, values, label=name, color=colour, marker=marker)
        if not any(curves.values()):
            axis.text(0.5, 0.5, "no validation curves found", ha="center", transform=axis.transAxes)
        axis.set_title(label)
        axis.set_xlabel("training step")
        axis.set_ylabel("METEOR")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(f"Figure 5: per-task METEOR during training{title_suffix}")
    figure.tight_layout()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [out_stem.with_suffix(".png"), out_stem.with_suffix(".pdf")]
    for path in paths:
        with atomic_open(path, "wb") as handle:
            figure.savefig(handle, dpi=150, format=path.suffix[1:])
    plt.close(figure)
    return paths
