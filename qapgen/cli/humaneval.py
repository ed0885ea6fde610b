"""`qapgen humaneval export|score`: blinded rating forms and Table 4 from raters' sheets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qapgen.humaneval.kit import (
    HumanEvalError,
    export_forms,
    read_answers,
    render_table4,
    score_answers,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("humaneval", help="human evaluation kit (Table 4)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="sample, blind and shuffle two systems' pairs into forms"
    )
    export.add_argument(
        "--system",
        nargs=2,
        action="append",
        metavar=("NAME", "PREDICTIONS"),
        required=True,
        help="a system's name and its predictions/test.jsonl (twice)",
    )
    export.add_argument("--n", type=int, default=200, help="examples to sample (default 200)")
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--no-gold", action="store_true", help="leave the gold pairs out")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(handler=run_export)
    score = actions.add_parser("score", help="Table 4 percentages and Cohen's kappa")
    score.add_argument("--key", type=Path, required=True, help="key.json written by export")
    score.add_argument(
        "--rater",
        type=Path,
        action="append",
        required=True,
        help="a rater's answer sheet (CSV); give two for kappa",
    )
    score.add_argument("--format", choices=("table", "json"), default="table")
    score.set_defaults(handler=run_score)


def run_export(args: argparse.Namespace) -> int:
    from qapgen.cli.main import CommandError

    systems = {name: Path(path) for name, path in args.system}
    if len(systems) < 2:
        raise CommandError("give two systems: --system NAME PREDICTIONS twice")
    try:
        paths = export_forms(
            systems, args.out, n=args.n, seed=args.seed, include_gold=not args.no_gold
        )
    except HumanEvalError as error:
        raise CommandError(str(error)) from error
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from qapgen.cli.main import CommandError

    key = json.loads(args.key.read_text())
    try:
        raters = [read_answers(path, key) for path in args.rater]
    except HumanEvalError as error:
        raise CommandError(str(error)) from error
    scores = score_answers(key, raters)
    print(json.dumps(scores, indent=2) if args.format == "json" else render_table4(scores), end="")
    return 0
