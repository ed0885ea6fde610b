"""Figure 5 from the runs of a sweep: IGJA-QAP and OneStop, per-task METEOR over steps.

python -m experiments.figure5 [--profile offline] [--dataset squad] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.recipes import FIGURE5_MODELS
from experiments.sweep import ROOT
from qapgen.paper import DATASET_NAMES, MODEL_NAMES
from qapgen.reporting.figures import plot_figure5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments.figure5", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="offline")
    parser.add_argument("--dataset", default="squad", choices=sorted(DATASET_NAMES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    args = parser.parse_args(argv)
    profile_dir = args.results_dir / args.profile
    panels = {}
    for model in FIGURE5_MODELS:
        run_dir = profile_dir / args.dataset / model / f"seed{args.seed}" / "run"
        if not run_dir.exists():
            print(
                f"figure5: no runs for {model} at {run_dir}; run `make reproduce-table2 "
                f"PROFILE={args.profile}` first",
                file=sys.stderr,
            )
            return 1
        panels[MODEL_NAMES[model]] = run_dir
    paths = plot_figure5(
        panels, profile_dir / "figure5", f" ({DATASET_NAMES[args.dataset]}, {args.profile})"
    )
    for path in paths:
        print(f"figure5: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
