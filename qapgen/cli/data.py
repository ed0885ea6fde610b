"""`qapgen data stats`: Table 1 for a prepared dataset, with every drop and repair counted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qapgen.data.errors import PreparationOptionError
from qapgen.data.fixtures import FIXTURES_PATH
from qapgen.data.prepare import PrepareOptions, check_article_split, prepare
from qapgen.data.readers import SOURCES
from qapgen.data.segment import SENTENCE_POLICIES
from qapgen.data.split_lists import SPLIT_LISTS
from qapgen.data.stats import LENGTH_UNITS, dataset_stats, render_table1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="inspect and prepare datasets")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    stats = actions.add_parser("stats", help="Table 1 for the prepared data, beside the paper's")
    stats.add_argument("--dataset", required=True, choices=sorted(SOURCES))
    stats.add_argument(
        "--path",
        type=Path,
        default=None,
        help=f"an official source file or a folder holding them; {FIXTURES_PATH} for the "
        f"project's own fixture files (./{FIXTURES_PATH} for a folder of that name) "
        "(default: $QAPGEN_DATA_DIR, else the Hugging Face hub)",
    )
    stats.add_argument("--format", choices=("table", "json"), default="table")
    stats.add_argument(
        "--length-unit",
        choices=sorted(LENGTH_UNITS),
        default="ptb",
        help="how average lengths count: PTB tokens (default; punctuation split off, as the "
        "metrics tokenise) or whitespace words",
    )
    stats.add_argument(
        "--split",
        choices=("paper", *SPLIT_LISTS),
        default="paper",
        help="paper: train file -> train, dev file carved into val and test (default); "
        "du2017: Du et al. (2017)'s article lists (SQuAD)",
    )
    stats.add_argument(
        "--sentence-policy",
        choices=SENTENCE_POLICIES,
        default=None,
        help="unique: keep a sentence only when one QA pair falls in it; every_pair: one "
        "record per QA pair with its answer's sentence (default: the dataset's, see README)",
    )
    stats.add_argument(
        "--coqa-context", choices=("rationale", "rationale_sentence", "story"), default="rationale"
    )
    stats.add_argument(
        "--coqa-unanswerable",
        choices=("keep", "drop"),
        default="keep",
        help="CoQA's 'unknown' answers: keep them (default; the paper's counts do) or drop them",
    )
    stats.add_argument("--split-seed", type=int, default=0)
    stats.add_argument(
        "--article-split",
        type=article_counts,
        default=None,
        metavar="TRAIN,VAL,TEST",
        help="pool every record and split by article counts, e.g. 38,5,5 for the squad-dev "
        "reduced-data protocol (SQuAD dev alone)",
    )
    stats.add_argument("--cache-dir", type=Path, default=None)
    stats.add_argument("--no-cache", action="store_true", help="prepare afresh, write no cache")
    stats.set_defaults(handler=run_stats)


def article_counts(text: str) -> tuple[int, int, int]:
    """``TRAIN,VAL,TEST`` as three article counts (argparse reports a bad value in one line)."""
    try:
        counts = tuple(int(n) for n in text.split(","))
        return check_article_split(counts)
    except (ValueError, PreparationOptionError):
        raise argparse.ArgumentTypeError(
            f"wants TRAIN,VAL,TEST article counts such as 38,5,5 (whole numbers, none "
            f"negative, not all zero), got {text!r}"
        ) from None


def run_stats(args: argparse.Namespace) -> int:
    from qapgen.cli.main import CommandError, UsageError

    options = PrepareOptions(
        coqa_context=args.coqa_context,
        coqa_unanswerable=args.coqa_unanswerable,
        split=args.split,
        sentence_policy=args.sentence_policy,
        split_seed=args.split_seed,
        article_split=args.article_split,
    )
    try:
        options = options.resolved(args.dataset)
    except PreparationOptionError as error:
        raise UsageError(str(error)) from None
    try:
        prepared = prepare(
            args.dataset, args.path, options, cache_dir=args.cache_dir, use_cache=not args.no_cache
        )
    except PreparationOptionError as error:  # e.g. more articles asked for than there are
        raise CommandError(str(error)) from None
    stats = dataset_stats(prepared, args.length_unit)
    if args.format == "json":
        print(json.dumps(stats, indent=2))
    else:
        print(render_table1(stats))
    return 0
