"""`qapgen data stats`: Table 1 for a prepared dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qapgen.data.prepare import PrepareOptions, prepare
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
        help="an official source file or a folder holding them "
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
        default=None,
        metavar="TRAIN,VAL,TEST",
        help="pool every record and split by article counts, e.g. 38,5,5 for the squad-dev "
        "reduced-data protocol (SQuAD dev alone)",
    )
    stats.add_argument("--cache-dir", type=Path, default=None)
    stats.add_argument("--no-cache", action="store_true", help="prepare afresh, write no cache")
    stats.set_defaults(handler=run_stats)


def run_stats(args: argparse.Namespace) -> int:
    from qapgen.cli.main import CommandError

    article_split = None
    if args.article_split:
        try:
            article_split = tuple(int(n) for n in args.article_split.split(","))
        except ValueError:
            article_split = ()
        if len(article_split) != 3:
            raise CommandError(
                f"--article-split wants TRAIN,VAL,TEST counts, got {args.article_split!r}"
            )
    options = PrepareOptions(
        coqa_context=args.coqa_context,
        coqa_unanswerable=args.coqa_unanswerable,
        split=args.split,
        sentence_policy=args.sentence_policy,
        split_seed=args.split_seed,
        article_split=article_split,
    )
    try:
        options = options.resolved(args.dataset)
    except ValueError as error:
        raise CommandError(str(error)) from None
    prepared = prepare(
        args.dataset, args.path, options, cache_dir=args.cache_dir, use_cache=not args.no_cache
    )
    stats = dataset_stats(prepared, args.length_unit)
    if args.format == "json":
        print(json.dumps(stats, indent=2))
    else:
        print(render_table1(stats))
    return 0
