"""Table 1 (prepared data statistics) for every dataset, beside the paper's.

    python -m experiments.table1 [--profile offline] [--data-dir DIR] [--length-unit ptb|words]

The offline profile reads the project's fixtures; other profiles read ``--data-dir``,
else ``$QAPGEN_DATA_DIR``, else the hub. A dataset that cannot be found says why.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from experiments.recipes import DATASETS
from experiments.sweep import ROOT
from qapgen.atomic_files import atomic_write_text
from qapgen.data.datamodule import fixture_path
from qapgen.data.errors import DataFormatError, DataNotFoundError
from qapgen.data.prepare import prepare
from qapgen.data.stats import LENGTH_UNITS, dataset_stats, render_table1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments.table1", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="offline")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    parser.add_argument("--length-unit", choices=sorted(LENGTH_UNITS), default="ptb")
    args = parser.parse_args(argv)
    sections, stats_by_dataset, failed = [], {}, 0
    for dataset in DATASETS:
        path = fixture_path(dataset) if args.profile == "offline" else args.data_dir
        try:
            stats = dataset_stats(prepare(dataset, path), args.length_unit)
        except (DataNotFoundError, DataFormatError, OSError) as error:
            sections.append(f"## {dataset}\n\ncould not prepare: {error}\n")
            failed += 1
            continue
        stats_by_dataset[dataset] = stats
        sections.append(f"## {dataset}\n\n```\n{render_table1(stats)}\n```\n")
    out_dir = args.results_dir / args.profile
    out_dir.mkdir(parents=True, exist_ok=True)
    text = f"# Table 1: prepared data, profile `{args.profile}`\n\n" + "\n".join(sections)
    atomic_write_text(out_dir / "table1.md", text)
    atomic_write_text(out_dir / "table1.json", json.dumps(stats_by_dataset, indent=2) + "\n")
    print(text)
    print(f"table1: wrote {out_dir / 'table1.md'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
