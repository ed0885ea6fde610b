"""`qapgen humaneval export|score`: blinded rating forms and Table 4 from raters' sheets.

``export`` refuses to replace an earlier export's form.csv, form.html or key.json unless
``--overwrite`` is given, and says on stderr how many examples it sampled and left out.
``score`` reads raters' sheets as the form page saves them or as a spreadsheet does (Excel's
byte-order mark and ``;`` separators included); every bad file, row or field is one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qapgen.cli.arguments import positive_int
from qapgen.humaneval.kit import (
    GOLD,
    HumanEvalError,
    export_forms,
    read_answers,
    read_key,
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
    export.add_argument(
        "--n", type=positive_int, default=200, help="examples to sample (default 200)"
    )
    export.add_argument("--seed", type=int, default=0)
    export.add_argument("--no-gold", action="store_true", help="leave the gold pairs out")
    export.add_argument("--out", type=Path, required=True, help="the folder for the forms")
    export.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier export's form.csv, form.html and key.json (its raters' "
        "sheets no longer score)",
    )
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
    from qapgen.cli.errors import CommandError, UsageError

    systems: dict[str, Path] = {}
    for name, path in args.system:
        if not name.strip():
            raise UsageError("--system needs a name: --system NAME PREDICTIONS")
        if name in systems:
            raise UsageError(f"two systems are named {name!r}; give each its own name")
        if name == GOLD:
            raise UsageError(
                f"the system name {GOLD!r} is reserved for the gold pairs; name the system "
                "otherwise"
            )
        systems[name] = Path(path)
    if len(systems) < 2:
        raise UsageError("give two systems: --system NAME PREDICTIONS twice")
    try:
        export = export_forms(
            systems,
            args.out,
            n=args.n,
            seed=args.seed,
            include_gold=not args.no_gold,
            overwrite=args.overwrite,
        )
    except HumanEvalError as error:
        raise CommandError(str(error)) from error
    for line in export.lines():
        print(f"qapgen humaneval export: {line}", file=sys.stderr)
    for kind, path in export.paths.items():
        print(f"{kind}: {path}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from qapgen.cli.errors import CommandError, UsageError

    seen: dict[Path, Path] = {}
    for path in args.rater:
        first = seen.setdefault(path.resolve(), path)
        if first is not path:
            also = "" if first == path else f" (also as {first})"
            raise UsageError(f"--rater {path} is given twice{also}; one sheet per rater")
    try:
        key = read_key(args.key)
        raters = [read_answers(path, key) for path in args.rater]
    except HumanEvalError as error:
        raise CommandError(str(error)) from error
    scores = score_answers(key, raters)
    print(json.dumps(scores, indent=2) if args.format == "json" else render_table4(scores), end="")
    return 0
