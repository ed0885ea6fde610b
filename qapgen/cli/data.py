"""`qapgen data stats`: Table 1 for a prepared dataset, with every drop and repair counted.
`qapgen data prepare --out FOLDER`: the prepared dataset as a folder that training reads in
place of the source files (``data.path: FOLDER``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qapgen.data.errors import PreparationOptionError
from qapgen.data.fixtures import FIXTURES_PATH
from qapgen.data.prepare import (
    DATASET_SPLITS,
    PreparedData,
    PrepareOptions,
    check_article_split,
    prepare,
    save_prepared,
)
from qapgen.data.readers import SOURCES
from qapgen.data.segment import SEGMENTERS, SENTENCE_POLICIES
from qapgen.data.split_lists import SPLIT_LISTS
from qapgen.data.stats import LENGTH_UNITS, dataset_stats, render_table1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="inspect and prepare datasets")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    stats = actions.add_parser("stats", help="Table 1 for the prepared data, beside the paper's")
    add_preparation_arguments(stats)
    stats.add_argument("--format", choices=("table", "json"), default="table")
    stats.add_argument(
        "--length-unit",
        choices=sorted(LENGTH_UNITS),
        default="ptb",
        help="how average lengths count: PTB tokens (default; punctuation split off, as the "
        "metrics tokenise) or whitespace words",
    )
    stats.set_defaults(handler=run_stats)
    prepare_parser = actions.add_parser(
        "prepare",
        help="prepare a dataset into a folder that training reads in place of the sources "
        "(data.path: FOLDER), e.g. on a machine with no network or raw data",
    )
    add_preparation_arguments(prepare_parser)
    prepare_parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="FOLDER",
        help="the prepared-data folder to write; it must not exist yet (never overwritten)",
    )
    prepare_parser.set_defaults(handler=run_prepare)


def add_preparation_arguments(parser: argparse.ArgumentParser) -> None:
    """The dataset, its sources and the preparation options, as `data stats` and `data
    prepare` take them (``preparation_options`` reads them back)."""
    parser.add_argument("--dataset", required=True, choices=sorted(SOURCES))
    parser.add_argument(
        "--path",
        type=Path,
        default=None,
        help=f"an official source file or a folder holding them, or a folder `qapgen data "
        f"prepare --out` wrote; {FIXTURES_PATH} for the project's own fixture files "
        f"(./{FIXTURES_PATH} for a folder of that name) "
        "(default: $QAPGEN_DATA_DIR, else the Hugging Face hub)",
    )
    parser.add_argument(
        "--split",
        choices=("paper", *SPLIT_LISTS),
        default=None,
        help="paper: train file -> train, dev file carved into val and test; du2017: Du et "
        "al. (2017)'s article lists (SQuAD, and qg_squad's only split); default: the "
        "dataset's first (paper, du2017 for qg_squad)",
    )
    parser.add_argument(
        "--segmenter",
        choices=SEGMENTERS,
        default=None,
        help="how SQuAD and NewsQA paragraphs are cut into sentences (default: the "
        "dataset's, see README)",
    )
    parser.add_argument(
        "--sentence-policy",
        choices=SENTENCE_POLICIES,
        default=None,
        help="unique: keep a sentence only when one QA pair falls in it; every_pair: one "
        "record per QA pair with its answer's sentence (default: the dataset's, see README)",
    )
    parser.add_argument(
        "--coqa-context", choices=("rationale", "rationale_sentence", "story"), default="rationale"
    )
    parser.add_argument(
        "--coqa-unanswerable",
        choices=("keep", "drop"),
        default="keep",
        help="CoQA's 'unknown' answers: keep them (default; the paper's counts do) or drop them",
    )
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument(
        "--article-split",
        type=article_counts,
        default=None,
        metavar="TRAIN,VAL,TEST",
        help="pool every record and split by article counts, e.g. 38,5,5 for the squad-dev "
        "reduced-data protocol (SQuAD dev alone)",
    )
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--no-cache", action="store_true", help="prepare afresh, write no cache")


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


def prepare_from_arguments(args: argparse.Namespace) -> PreparedData:
    """Prepare the dataset ``add_preparation_arguments``'s arguments name (through the
    cache unless ``--no-cache``); a bad option is a one-line error."""
    from qapgen.cli.errors import CommandError, UsageError

    options = PrepareOptions(
        coqa_context=args.coqa_context,
        coqa_unanswerable=args.coqa_unanswerable,
        split=args.split or DATASET_SPLITS.get(args.dataset, ("paper",))[0],
        segmenter=args.segmenter,
        sentence_policy=args.sentence_policy,
        split_seed=args.split_seed,
        article_split=args.article_split,
    )
    try:
        options = options.resolved(args.dataset)
    except PreparationOptionError as error:
        raise UsageError(str(error)) from None
    try:
        return prepare(
            args.dataset, args.path, options, cache_dir=args.cache_dir, use_cache=not args.no_cache
        )
    except PreparationOptionError as error:  # e.g. more articles asked for than there are
        raise CommandError(str(error)) from None


def run_stats(args: argparse.Namespace) -> int:
    prepared = prepare_from_arguments(args)
    stats = dataset_stats(prepared, args.length_unit)
    if args.format == "json":
        print(json.dumps(stats, indent=2))
    else:
        print(render_table1(stats))
    return 0


def _refuse_existing(out: Path) -> None:
    from qapgen.cli.errors import CommandError

    if out.exists() or out.is_symlink():
        raise CommandError(
            f"--out {out} already exists; qapgen data prepare writes a new folder and never "
            "replaces one: name a folder that does not exist yet"
        )


def run_prepare(args: argparse.Namespace) -> int:
    """Prepare the dataset and write it to ``--out`` as a prepared-data folder."""
    _refuse_existing(args.out)
    prepared = prepare_from_arguments(args)
    _refuse_existing(args.out)  # again: preparing can take minutes
    save_prepared(prepared, args.out)
    counts = ", ".join(f"{name} {len(records)}" for name, records in prepared.splits.items())
    print(f"{args.out}: {counts}")
    return 0
