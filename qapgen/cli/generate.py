"""``qapgen generate``: question-answer pairs from any text with a trained model.

Input: a plain-text file (one document), a ``.jsonl`` file (one document per line, field
``text`` or ``context``, optional ``id``), a folder of ``.txt`` files, or ``-`` for stdin.
Output: one record per pair (JSONL or CSV) on stdout or ``--output``: document, sentence
index, sentence, question, answer, rank and sequence log-probabilities. A summary of what
was read, repaired and dropped goes to stderr.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import TextIO

FORMATS = ("jsonl", "csv")


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` subcommand."""
    parser = subparsers.add_parser(
        "generate",
        help="generate question-answer pairs from text with a trained model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, help="an exported folder (qapgen export) or a .ckpt"
    )
    parser.add_argument("--input", required=True, help="FILE, FOLDER of .txt files, or -")
    parser.add_argument("--input-format", choices=("auto", "text", "jsonl"), default="auto")
    parser.add_argument("--output", type=Path, help="write here instead of stdout")
    parser.add_argument("--format", choices=FORMATS, default="jsonl")
    parser.add_argument("--pairs-per-sentence", type=int, default=1, metavar="K")
    parser.add_argument("--num-beams", type=positive_int, metavar="B", help="default: the model's")
    parser.add_argument("--sample", action="store_true", help="nucleus sampling, not beams")
    parser.add_argument("--top-p", type=float, default=0.9, metavar="P")
    parser.add_argument("--seed", type=int, default=0, help="for --sample")
    parser.add_argument(
        "--answer-in-context",
        action="store_true",
        help="answers may only be token sequences of their sentence",
    )
    parser.add_argument(
        "--filter-consistency",
        type=float,
        metavar="T",
        help="drop pairs whose answer a QA model does not reproduce (token F1 below T)",
    )
    parser.add_argument(
        "--qa-model",
        help="the QA model for --filter-consistency (a model with answer_questions, e.g. "
        "QA2QG); default: the generating model",
    )
    parser.add_argument(
        "--keep-inconsistent",
        action="store_true",
        help="keep pairs that fail the consistency check, flagged, instead of dropping them",
    )
    parser.add_argument("--batch-size", type=positive_int, default=16)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--class-path", help="model class, for checkpoints that lack it")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write; user errors become ``CommandError``."""
    import torch

    from qapgen.cli.main import CommandError
    from qapgen.export import ModelLoadError
    from qapgen.generate import InputError, QAPGenerator, read_documents
    from qapgen.generate.readers import ReadReport
    from qapgen.models.base import GenerationNotSupportedError

    try:
        options = QAPGenerator.options(
            args.pairs_per_sentence, args.sample, args.top_p, args.answer_in_context
        )
    except ValueError as error:
        raise CommandError(str(error)) from error
    report = ReadReport()
    try:
        documents = read_documents(args.input, args.input_format, report)
        # The first document is read now, so that a missing, empty or binary input fails
        # before the model loads.
        first = next(documents)
        generator = QAPGenerator.from_pretrained(
            args.model,
            class_path=args.class_path,
            device=args.device,
            batch_size=args.batch_size,
            num_beams=args.num_beams,
        )
        generator.summary.read = report
        consistency = _consistency_filter(args, generator)
        torch.manual_seed(args.seed)
        with _open_output(args.output) as handle:
            write = _writer(args.format, handle)
            for pair in generator.generate_from_documents(
                chain([first], documents), options, consistency=consistency, progress=args.progress
            ):
                write(pair.to_dict())
    except (InputError, ModelLoadError, GenerationNotSupportedError) as error:
        raise CommandError(str(error)) from error
    for line in generator.summary.lines(generator.max_source_length):
        print(f"qapgen generate: {line}", file=sys.stderr)
    return 0


def _consistency_filter(args: argparse.Namespace, generator):
    from qapgen.cli.main import CommandError
    from qapgen.export import load_model
    from qapgen.generate import ConsistencyFilter

    if args.filter_consistency is None:
        return None
    qa_model = load_model(args.qa_model).model if args.qa_model else generator.model
    answer_questions = getattr(qa_model, "answer_questions", None)
    if answer_questions is None:
        raise CommandError(
            f"--filter-consistency needs a question-answering model: {type(qa_model).__name__} "
            "has no answer_questions; pass --qa-model with one (e.g. a QA2QG export)"
        )
    qa_model.to(generator.device)
    return ConsistencyFilter(
        answer_questions, args.filter_consistency, keep_inconsistent=args.keep_inconsistent
    )


@contextmanager
def _open_output(path: Path | None):
    if path is None:
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def _writer(output_format: str, handle: TextIO):
    if output_format == "jsonl":
        return lambda row: handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    from qapgen.generate.generator import GeneratedPair

    fields = [f.name for f in dataclasses.fields(GeneratedPair)]
    writer = csv.DictWriter(handle, fieldnames=fields)
    writer.writeheader()
    return writer.writerow
