"""``qapgen generate``: question-answer pairs from any text with a trained model.

Input: a plain-text file (one document), a ``.jsonl`` file (one document per line, field
``text`` or ``context``, optional ``id``), a folder of ``.txt`` files, or ``-`` for stdin.
Output: one record per pair (JSONL or CSV) on stdout or ``--output``: document, sentence
index, sentence, question, answer, rank and sequence log-probabilities. A summary of what
was read, repaired, skipped and dropped goes to stderr.

``--output`` is written whole or not at all (a temporary file renamed at the end), never
over an existing file without ``--overwrite`` and never over one of the inputs. In CSV, a
cell that a spreadsheet would run as a formula (text starting with = + - @) is written with
a leading apostrophe. In a folder, files that cannot be read (not .txt, binary, unreadable,
empty, links that lead out of the folder) are skipped and counted in the summary. Text that
is not UTF-8 is read as Windows-1252 when it is that, else with U+FFFD for its bad bytes;
both are counted.
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

from qapgen.cli.arguments import positive_int

FORMATS = ("jsonl", "csv")
DEFAULT_TOP_P = 0.9
# torch.manual_seed's range; a negative seed would only alias a positive one (torch maps
# it to 2**64 - 1 + seed), so none is taken.
MAX_SEED = 2**64 - 1


def seed_value(text: str) -> int:
    """argparse type: a random seed, 0 to 2**64 - 1."""
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}, not {value}")
    return value


def top_p_value(text: str) -> float:
    """argparse type: a nucleus probability mass in (0, 1]."""
    value = float(text)
    if not 0.0 < value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be in (0, 1], not {text}")
    return value


def f1_threshold(text: str) -> float:
    """argparse type: a token F1 in [0, 1]."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"is a token F1 in [0, 1], not {text}")
    return value


def device_name(text: str) -> str:
    """argparse type: auto, or a device torch knows (cpu, cuda, cuda:1 ...)."""
    if text == "auto":
        return text
    import torch

    try:
        torch.device(text)
    except (RuntimeError, ValueError) as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a device (auto, cpu, cuda, cuda:N)"
        ) from error
    return text


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
    parser.add_argument(
        "--output", type=Path, help="write here instead of stdout (atomically, at the end)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="jsonl",
        help="csv cells starting with = + - @ get a leading apostrophe (no formulas)",
    )
    parser.add_argument("--pairs-per-sentence", type=positive_int, default=1, metavar="K")
    parser.add_argument("--num-beams", type=positive_int, metavar="B", help="default: the model's")
    parser.add_argument("--sample", action="store_true", help="nucleus sampling, not beams")
    parser.add_argument(
        "--top-p", type=top_p_value, metavar="P", help=f"for --sample (default {DEFAULT_TOP_P})"
    )
    parser.add_argument("--seed", type=seed_value, default=0, help="for --sample")
    parser.add_argument(
        "--answer-in-context",
        action="store_true",
        help="answers may only be token sequences of their sentence",
    )
    parser.add_argument(
        "--filter-consistency",
        type=f1_threshold,
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
    parser.add_argument(
        "--device", type=device_name, default="auto", help="auto, cpu, cuda, cuda:N"
    )
    parser.add_argument("--class-path", help="model class, for checkpoints that lack it")
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write; user errors become ``CommandError``."""
    import torch

    from qapgen.cli.errors import CommandError
    from qapgen.export import ModelLoadError
    from qapgen.generate import InputError, QAPGenerator, read_documents
    from qapgen.generate.readers import ReadReport
    from qapgen.models.base import GenerationNotSupportedError

    _check_combinations(args)
    if args.output is not None:
        _check_output(args)
    options = QAPGenerator.options(
        args.pairs_per_sentence,
        args.sample,
        DEFAULT_TOP_P if args.top_p is None else args.top_p,
        args.answer_in_context,
    )
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
    if args.output is not None:
        print(f"qapgen generate: wrote {args.output}", file=sys.stderr)
    return 0


def _check_combinations(args: argparse.Namespace) -> None:
    """Options that would be silently ignored are refused."""
    from qapgen.cli.errors import UsageError

    if args.top_p is not None and not args.sample:
        raise UsageError("--top-p applies to --sample only; add --sample or drop --top-p")
    if args.filter_consistency is None:
        for flag, given in (
            ("--qa-model", args.qa_model),
            ("--keep-inconsistent", args.keep_inconsistent),
        ):
            if given:
                raise UsageError(
                    f"{flag} applies to --filter-consistency only; add it or drop {flag}"
                )


def _check_output(args: argparse.Namespace) -> None:
    """Refuse an --output that is a folder, that would replace or be read as an input (the
    text, the model), or that exists without --overwrite."""
    from qapgen.atomic_files import OutputIsInputError, check_output
    from qapgen.cli.errors import UsageError
    from qapgen.generate.readers import FOLDER_SUFFIX, input_files

    output: Path = args.output
    if output.is_dir():
        raise UsageError(f"--output {output} is a folder; give a file path")
    models = [args.model] + ([args.qa_model] if args.qa_model else [])
    check_output(output, overwrite=args.overwrite, inputs=[*input_files(args.input), *models])
    source = Path(args.input)
    if (
        args.input != "-"
        and source.is_dir()
        and output.suffix.lower() == FOLDER_SUFFIX
        and source.resolve() in output.resolve().parents
    ):
        # Not yet an input, but the next run over the same folder would read it as one.
        raise OutputIsInputError(
            f"output {output} is a {FOLDER_SUFFIX} file inside the input folder {source}, which "
            "a later run would read as input; pick another path"
        )


def _consistency_filter(args: argparse.Namespace, generator):
    from qapgen.cli.errors import CommandError
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
    """stdout (streamed), or a temporary file that becomes ``path`` only when the run ends
    cleanly: a failure half-way leaves an existing file as it was."""
    if path is None:
        yield sys.stdout
        return
    from qapgen.atomic_files import atomic_open

    with atomic_open(path, "w", newline="") as handle:
        yield handle


def _writer(output_format: str, handle: TextIO):
    if output_format == "jsonl":
        return lambda row: handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    from qapgen.generate.generator import GeneratedPair
    from qapgen.spreadsheet import neutralise_cell

    fields = [f.name for f in dataclasses.fields(GeneratedPair)]
    writer = csv.DictWriter(handle, fieldnames=fields)
    writer.writeheader()
    return lambda row: writer.writerow({k: neutralise_cell(v) for k, v in row.items()})
