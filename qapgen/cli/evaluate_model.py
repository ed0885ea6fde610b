"""``qapgen evaluate-model``: run a published question-generation checkpoint over a qapgen
split and score it with qapgen's protocol (lowercased PTB tokens, corpus BLEU-1..4, ROUGE-L,
METEOR 1.5 and nltk's METEOR, each labelled), so that a reported number can be checked
against the same scripts qapgen's own models are scored with.

``--format`` says how the checkpoint reads and writes text (``qapgen.published.formats``).
qapgen's records are sentence-level: answer-aware formats get the record's sentence with its
answer highlighted, end-to-end formats each distinct sentence.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from qapgen.cli.generate import device_name
from qapgen.cli.prediction_files import TABLE_ROWS
from qapgen.metrics.pair_alignment import DEFAULT_BERTSCORE_LAYER
from qapgen.published.formats import FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate-model",
        help="score a published QG/QAG checkpoint (hub name or folder) on a qapgen split",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, metavar="NAME|DIR")
    parser.add_argument(
        "--format",
        required=True,
        choices=sorted(FORMATS),
        help="; ".join(f"{name}: {fmt.description}" for name, fmt in sorted(FORMATS.items())),
    )
    parser.add_argument("--dataset", default="squad")
    parser.add_argument(
        "--data",
        default=None,
        metavar="PATH",
        help="the dataset's files, a prepared folder, or 'fixtures' (default: $QAPGEN_DATA_DIR, "
        "else the hub)",
    )
    parser.add_argument(
        "--split-policy",
        choices=("paper", "du2017"),
        default=None,
        help="how the dataset is split (default: its first, paper; du2017 for qg_squad)",
    )
    parser.add_argument("--split", choices=("train", "val", "test"), default="test")
    parser.add_argument("--limit", type=int, default=None, help="score the first N records")
    parser.add_argument("--num-beams", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-input-length", type=int, default=512)
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="default 64 for formats that write one question, 256 otherwise",
    )
    parser.add_argument(
        "--device", type=device_name, default="auto", help="auto (cuda when available), cpu, cuda"
    )
    parser.add_argument("--meteor", choices=("java", "none"), default="java")
    parser.add_argument("--no-meteor-nltk", dest="meteor_nltk", action="store_false")
    parser.add_argument(
        "--bertscore-model",
        default="none",
        metavar="NAME|DIR",
        help="BERTScore encoder for the QA-aligned scores of pair formats (e.g. roberta-large "
        "or a local folder); default none",
    )
    parser.add_argument("--bertscore-layer", type=int, default=DEFAULT_BERTSCORE_LAYER)
    parser.add_argument(
        "--predictions-out",
        type=Path,
        default=None,
        metavar="FILE.jsonl",
        help="also write each input and output (an existing file only with --overwrite)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --predictions-out")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from qapgen.atomic_files import atomic_open, check_output
    from qapgen.cli.errors import CommandError, UsageError
    from qapgen.cli.prediction_files import score_records
    from qapgen.data.errors import PreparationOptionError
    from qapgen.data.prepare import PrepareOptions, default_options, prepare
    from qapgen.metrics.pair_alignment import BertScoreSimilarity, ScorerUnavailableError
    from qapgen.published.evaluation import evaluate_published
    from qapgen.published.runner import DecodingSettings, generate_texts, load_seq2seq

    checkpoint_format = FORMATS[args.format]
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, not {args.limit}")
    if args.predictions_out is not None:
        check_output(args.predictions_out, overwrite=args.overwrite, what="predictions file")
    path = _data_path(args.dataset, args.data)
    options = default_options(args.dataset)
    if args.split_policy is not None:
        options = PrepareOptions(split=args.split_policy)
    try:
        prepared = prepare(args.dataset, path, options)
    except PreparationOptionError as error:
        raise UsageError(f"--split-policy: {error}") from error
    args.split_policy = options.split
    records = prepared.splits[args.split][: args.limit]
    if not records:
        raise CommandError(f"{args.dataset} {args.split}: no records to score")
    device = _device(args.device)
    model, tokenizer = load_seq2seq(args.model, device)
    settings = DecodingSettings(
        num_beams=args.num_beams,
        max_input_length=args.max_input_length,
        max_new_tokens=args.max_new_tokens
        or (64 if checkpoint_format.output == "question" else 256),
        batch_size=args.batch_size,
    )
    keep_special = checkpoint_format.output == "questions"  # <sep> splits the questions

    def generate(sources: list[str]) -> list[str]:
        return generate_texts(model, tokenizer, sources, settings, keep_special_tokens=keep_special)

    def score(predictions: list[str], references: list[list[str]]) -> dict[str, Any]:
        rows = [
            {"prediction": p, "references": r} for p, r in zip(predictions, references, strict=True)
        ]
        return score_records(
            rows, protocol="example", meteor=args.meteor, meteor_nltk=args.meteor_nltk,
            where=f"{args.model} outputs",
        )  # fmt: skip

    similarity = None
    if checkpoint_format.output == "pairs" and args.bertscore_model != "none":
        similarity = BertScoreSimilarity(args.bertscore_model, num_layers=args.bertscore_layer)
    try:
        evaluation = evaluate_published(
            records, checkpoint_format, generate, score, similarity=similarity
        )
    except ScorerUnavailableError as error:
        raise CommandError(f"{error} with --bertscore-model") from error
    except ValueError as error:
        raise CommandError(f"{args.dataset} {args.split}: {error}") from error
    if args.predictions_out is not None:
        with atomic_open(args.predictions_out, "w") as handle:
            for row in evaluation.predictions:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    result = {
        "model": args.model,
        "format": args.format,
        "dataset": args.dataset,
        "split": f"{args.split} ({args.split_policy} split)",
        "decoding": f"beam search, {settings.num_beams} beams, at most {settings.max_new_tokens} "
        f"new tokens, inputs cut at {settings.max_input_length} tokens (transformers generate)",
        "counts": evaluation.counts,
        "question": evaluation.question,
        "pairs": evaluation.pairs,
    }
    print(json.dumps(result, indent=2) if args.json else format_result(result))
    return 0


def format_result(result: dict[str, Any]) -> str:
    lines = [
        f"{result['model']} ({result['format']}) on {result['dataset']} {result['split']}",
        "counts: " + ", ".join(f"{name} {value}" for name, value in result["counts"].items()),
    ]
    question = result["question"]
    if question is not None:
        lines.append(f"questions scored: {question['n']} (per-example protocol)")
        for key, label in TABLE_ROWS:
            value = question.get(key)
            lines.append(f"  {label:<16} {'-' if value is None else format(value, '6.2f'):>6}")
    pairs = result["pairs"]
    if pairs is not None:
        for key in ("qa_aligned_f1", "qa_aligned_precision", "qa_aligned_recall"):
            lines.append(f"  {key:<22} {pairs[key]:6.2f}")
    lines.append(f"decoding: {result['decoding']}")
    if question is not None:
        lines += ["implementations:"] + [
            f"  {name}: {line}" for name, line in question["implementations"].items()
        ]
    return "\n".join(lines)


def _data_path(dataset: str, data: str | None):
    """The source path for ``prepare``; 'fixtures' is the project's own small copy."""
    if data == "fixtures":
        from qapgen.data.fixtures import fixture_path

        return fixture_path(dataset)
    return data


def _device(requested: str) -> str:
    import torch

    from qapgen.cli.errors import CommandError

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise CommandError(f"--device {requested}: CUDA is not available here")
    return requested
