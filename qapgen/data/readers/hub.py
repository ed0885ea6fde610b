"""Fetching the datasets from the Hugging Face hub, written out as the official files.

Hub copies are converted into the official source formats on disk, so that one reader per
format validates, counts and records provenance the same way for local and hub data.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from qapgen.atomic_files import atomic_write_bytes, atomic_write_text


class HubCopy(NamedTuple):
    """A hub dataset and how it is written out: as ``source``'s official files by that
    source's writer, unless ``writer`` is given; ``revision``: the hub branch to read."""

    name: str
    subset: str | None
    source: str
    writer: Callable[..., None] | None = None
    revision: str | None = None


HUB_SPLITS = {"train": "train", "validation": "dev", "test": "test"}
# Pre-split SQuAD-format files written from lmqg/qg_squad (raw split "own").
QG_SQUAD_FILES = {
    "train": "qg_squad/train.json",
    "dev": "qg_squad/dev.json",
    "test": "qg_squad/test.json",
}
# lmqg/qg_squad's rows as they are, one file per split (dataset qg_squad, raw split "own");
# names of the form lmqg gives its own split files, so as not to pass for the files above.
QG_BENCH_FILES = {
    "train": "qg_squad/train.jsonl",
    "dev": "qg_squad/validation.jsonl",
    "test": "qg_squad/test.jsonl",
}
# What a QG-Bench row keeps: what the reader needs (qg_bench.ROW_FIELDS), the sentence as
# QG-Bench gives it, and the paragraph's id where the hub gives one.
QG_BENCH_KEPT = (
    "question",
    "paragraph",
    "answer",
    "sentence",
    "paragraph_answer",
    "paragraph_sentence",
    "paragraph_id",
)
# lmqg's repositories hold a loading script beside the data; the hub's parquet export of
# the same rows loads as data alone (datasets no longer runs scripts, and nothing loaded
# here may run code).
PARQUET_EXPORT = "refs/convert/parquet"


def write_squad(
    rows_by_split: Mapping[str, Iterable[Mapping[str, Any]]], out_dir: Path, subset: None = None
) -> None:
    """Hub SQuAD rows (one per question) -> ``train-v1.1.json`` / ``dev-v1.1.json``."""
    from qapgen.data.readers.squad import OFFICIAL_FILES

    for split, rows in rows_by_split.items():
        articles: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            answers = row["answers"]
            articles[row["title"]][row["context"]].append(
                {
                    "id": row["id"],
                    "question": row["question"],
                    "answers": [
                        {"text": t, "answer_start": s}
                        for t, s in zip(answers["text"], answers["answer_start"], strict=True)
                    ],
                }
            )
        data = [
            {"title": title, "paragraphs": [{"context": c, "qas": q} for c, q in paras.items()]}
            for title, paras in articles.items()
        ]
        _write_json(out_dir / OFFICIAL_FILES[split], {"version": "1.1", "data": data})


def write_qg_squad(
    rows_by_split: Mapping[str, Iterable[Mapping[str, Any]]], out_dir: Path, subset: None = None
) -> None:
    """lmqg/qg_squad rows (one per question: paragraph, sentence, answer) -> SQuAD-format
    ``qg_squad/{train,dev,test}.json``. The rows carry no answer offset: the answer is placed
    at its first occurrence inside its sentence (else in the paragraph), and no title: each
    paragraph is its own article."""
    for split, rows in rows_by_split.items():
        paragraphs: dict[str, dict[str, Any]] = {}
        for index, row in enumerate(rows):
            paragraph, answer = row["paragraph"], row["answer"]
            key = str(row.get("paragraph_id") or paragraph)
            entry = paragraphs.setdefault(key, {"context": paragraph, "qas": []})
            sentence_at = paragraph.find(row.get("sentence") or "\0")
            start = paragraph.find(answer, max(sentence_at, 0))
            if start < 0:
                start = paragraph.find(answer)
            entry["qas"].append(
                {
                    "id": f"qg_squad-{split}-{index}",
                    "question": row["question"],
                    "answers": [{"text": answer, "answer_start": start}],
                }
            )
        data = [
            {"title": f"qg_squad-{split}-{n}", "paragraphs": [entry]}
            for n, entry in enumerate(paragraphs.values())
        ]
        _write_json(out_dir / QG_SQUAD_FILES[split], {"version": "1.1", "data": data})


def write_qg_bench(
    rows_by_split: Mapping[str, Iterable[Mapping[str, Any]]], out_dir: Path, subset: None = None
) -> None:
    """lmqg/qg_squad rows -> ``qg_squad/{train,validation,test}.jsonl``: each row's
    QG_BENCH_KEPT fields as they are (a missing one is left for the reader to name), with an
    id, which the rows lack."""
    for split, rows in rows_by_split.items():
        lines = [
            json.dumps(
                {
                    "id": f"qg_squad-{split}-{index}",
                    **{name: row[name] for name in QG_BENCH_KEPT if name in row},
                }
            )
            for index, row in enumerate(rows)
        ]
        atomic_write_text(out_dir / QG_BENCH_FILES[split], "\n".join(lines) + "\n")


def write_coqa(
    rows_by_split: Mapping[str, Iterable[Mapping[str, Any]]], out_dir: Path, subset: None = None
) -> None:
    """Hub CoQA rows (one per story) -> ``coqa-{train,dev}-v1.0.json``."""
    from qapgen.data.readers.coqa import OFFICIAL_FILES

    for split, rows in rows_by_split.items():
        data = []
        for index, row in enumerate(rows):
            answers = row["answers"]
            story_id = row.get("id") or f"{split}-{index}"
            data.append(
                {
                    "source": row.get("source", ""),
                    "id": story_id,
                    "story": row["story"],
                    "questions": [
                        {"input_text": q, "turn_id": turn}
                        for turn, q in enumerate(row["questions"], start=1)
                    ],
                    "answers": [
                        {
                            "input_text": text,
                            "span_start": start,
                            "span_end": end,
                            "span_text": row["story"][start:end] if start >= 0 else "",
                            "turn_id": turn,
                        }
                        for turn, (text, start, end) in enumerate(
                            zip(
                                answers["input_text"],
                                answers["answer_start"],
                                answers["answer_end"],
                                strict=True,
                            ),
                            start=1,
                        )
                    ],
                }
            )
        _write_json(out_dir / OFFICIAL_FILES[split], {"version": "1.0", "data": data})


def write_mrqa(
    rows_by_split: Mapping[str, Iterable[Mapping[str, Any]]], out_dir: Path, subset: str
) -> None:
    """Hub MRQA rows (one per question) -> ``{train,dev}/NewsQA.jsonl.gz``."""
    for split, rows in rows_by_split.items():
        contexts: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row.get("subset", subset) != subset:
                continue
            entry = contexts.setdefault(
                row["context"],
                {"id": f"{split}-{len(contexts)}", "context": row["context"], "qas": []},
            )
            spans = row["detected_answers"]["char_spans"]
            entry["qas"].append(
                {
                    "qid": row["qid"],
                    "question": row["question"],
                    "answers": list(row.get("answers", [])),
                    "detected_answers": [
                        {
                            "text": text,
                            "char_spans": [
                                [s, e] for s, e in zip(span["start"], span["end"], strict=True)
                            ],
                        }
                        for text, span in zip(row["detected_answers"]["text"], spans, strict=True)
                    ],
                }
            )
        lines = [json.dumps({"header": {"dataset": subset, "split": split}})]
        lines += [json.dumps(entry) for entry in contexts.values()]
        text = "\n".join(lines) + "\n"
        atomic_write_bytes(
            out_dir / split / f"{subset}.jsonl.gz", gzip.compress(text.encode("utf-8"), mtime=0)
        )


def _write_json(path: Path, document: Any) -> None:
    atomic_write_text(path, json.dumps(document))


# key: a dataset, or dataset-split for a split with a hub copy of its own.
HUB_NAMES: dict[str, HubCopy] = {
    "squad": HubCopy("rajpurkar/squad", None, "squad"),
    "coqa": HubCopy("stanfordnlp/coqa", None, "coqa"),
    # The MRQA release holds NewsQA among other subsets; rows are filtered by `subset`.
    "newsqa": HubCopy("mrqa-workshop/mrqa", "NewsQA", "newsqa"),
    # Du et al. (2017)'s split as QG-Bench ships it: train / validation / test already split.
    "squad-du2017": HubCopy("lmqg/qg_squad", None, "squad", write_qg_squad, PARQUET_EXPORT),
    # The same, as paragraph-level records (QG-Bench's own format).
    "qg_squad-du2017": HubCopy("lmqg/qg_squad", None, "qg_squad", None, PARQUET_EXPORT),
}
