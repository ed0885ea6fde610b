"""SQuAD's Table 1 under each preparation variant qapgen offers, beside the paper's and Du et
al.'s counts: the evidence behind the default segmenter and sentence policy.

    python -m experiments.table1_variants --data-dir ../shared/data/squad-v1.1

Writes ``experiments/results/table1/squad-variants.{json,md}``: for the paper's split, every
segmenter x sentence policy with counts and pooled average lengths in PTB tokens and in
whitespace words; for the du2017 split, its default. Each variant prepares the real files
afresh or from the preparation cache (a first run takes a few minutes a variant).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from experiments.sweep import ROOT
from qapgen.atomic_files import atomic_write_text
from qapgen.data.prepare import PrepareOptions, prepare
from qapgen.data.segment import SEGMENTERS, SENTENCE_POLICIES
from qapgen.data.stats import dataset_stats, reference_numbers

LENGTH_KEYS = ("avg_context", "avg_question", "avg_answer")


def variants() -> list[PrepareOptions]:
    paper = [
        PrepareOptions(segmenter=segmenter, sentence_policy=policy)
        for segmenter in SEGMENTERS
        for policy in SENTENCE_POLICIES
    ]
    return [*paper, PrepareOptions(split="du2017")]


def measure(data_dir: Path, options: PrepareOptions) -> dict:
    prepared = prepare("squad", data_dir, options)
    ptb, words = dataset_stats(prepared, "ptb"), dataset_stats(prepared, "words")
    return {
        "options": ptb["options"],
        "counts": {split: entry["count"] for split, entry in ptb["splits"].items()},
        "dropped": ptb["dropped"],
        "ptb": {key: ptb["all"][key] for key in LENGTH_KEYS},
        "words": {key: words["all"][key] for key in LENGTH_KEYS},
        "reference": reference_numbers(ptb),
    }


def _difference(ours: float, reference: float | None) -> str:
    return f"{100 * (ours - reference) / reference:+.1f}%" if reference else "-"


def render(rows: list[dict]) -> str:
    lines = [
        "| split | segmenter | policy | train | val | test | vs reference (train / val / test) "
        "| PTB context / question / answer | vs the paper | words |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        options, counts = row["options"], row["counts"]
        source, reference = row["reference"]
        against = " / ".join(
            _difference(counts[split], reference.get(split)) for split in ("train", "val", "test")
        )
        ptb = row["ptb"]
        lengths = " / ".join(f"{ptb[key]:.2f}" for key in LENGTH_KEYS)
        paper = (
            " / ".join(_difference(ptb[key], reference[key]) for key in LENGTH_KEYS)
            if "avg_context" in reference
            else "-"
        )
        words = " / ".join(f"{row['words'][key]:.2f}" for key in LENGTH_KEYS)
        lines.append(
            f"| {options['split']} | {options['segmenter']} | {options['sentence_policy']} "
            f"| {counts['train']:,} | {counts['val']:,} | {counts['test']:,} "
            f"| {against} ({source}) | {lengths} | {paper} | {words} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments.table1_variants", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="SQuAD v1.1 train + dev")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "experiments" / "results" / "table1")
    args = parser.parse_args(argv)
    rows = []
    for options in variants():
        print(f"[table1-variants] {options}", file=sys.stderr, flush=True)
        rows.append(measure(args.data_dir, options))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out_dir / "squad-variants.json", json.dumps(rows, indent=2) + "\n")
    table = render(rows)
    atomic_write_text(args.out_dir / "squad-variants.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
