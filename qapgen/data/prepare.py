"""The paper's data preparation: source files -> sentence-level QA records in train/val/test.

Steps (paper 4.1): read the official files; for SQuAD and NewsQA keep sentences that hold
exactly one QA pair (``segment.py``); for CoQA build the context from the answer's
rationale; carve val and test from dev by article with a fixed seed (NewsQA's combined file
keeps its official splits). Every dropped QA pair is counted by reason. Prepared splits are
cached as parquet, keyed by the source files' hashes and the options.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from qapgen.data.readers import get_source, read_source
from qapgen.data.readers.base import ReadResult
from qapgen.data.readers.hub import fetch_from_hub
from qapgen.data.records import QARecord
from qapgen.data.segment import segment_records, split_sentences

# Bump when preparation logic changes, so stale caches are not reused.
PREPARATION_VERSION = 1
SPLITS = ("train", "val", "test")

# The paper's val : test sizes, carved from each dataset's dev set (Table 1). NewsQA's MRQA
# release has no test split, so its dev set is carved in NewsQA's official proportion.
DEV_CARVE = {"squad": (1584, 4009), "coqa": (2395, 5588), "newsqa": (5166, 5122)}
# Datasets whose answers are spans, prepared at sentence level with the one-QA-pair rule.
SENTENCE_LEVEL = {"squad", "newsqa"}

CoQAContext = Literal["rationale", "rationale_sentence", "story"]


@dataclass(frozen=True)
class PrepareOptions:
    """How to prepare a dataset. Defaults reproduce the paper's preparation.

    coqa_context: the CoQA context: the rationale span (the paper's contexts average 10.6
        words, which matches the rationale), the sentence(s) holding it, or the whole story.
    split_seed: seed of the article shuffle that carves val/test from dev.
    dev_carve: val : test proportion for carving dev; None takes the paper's (DEV_CARVE).
    article_split: if set, pool every record and split by ARTICLE COUNTS (train, val, test),
        e.g. (38, 5, 5) for the reduced-data protocol on SQuAD dev alone.
    """

    coqa_context: CoQAContext = "rationale"
    split_seed: int = 0
    dev_carve: tuple[int, int] | None = None
    article_split: tuple[int, int, int] | None = None

    def key(self) -> dict:
        return asdict(self)


@dataclass
class PreparedData:
    dataset: str
    splits: dict[str, list[QARecord]]
    dropped: Counter[str] = field(default_factory=Counter)
    source_records: int = 0
    files: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)

    @property
    def kept(self) -> int:
        return sum(len(records) for records in self.splits.values())


def default_cache_dir() -> Path:
    return Path(os.environ.get("QAPGEN_CACHE_DIR", Path.home() / ".cache" / "qapgen"))


def resolve_source_path(dataset: str, path: str | Path | None, cache_dir: Path) -> Path:
    """Where to read ``dataset`` from: the given path, QAPGEN_DATA_DIR, or the hub."""
    if path is not None:
        return Path(path).expanduser()
    data_dir = os.environ.get("QAPGEN_DATA_DIR")
    if data_dir:
        return Path(data_dir).expanduser()
    return fetch_from_hub(dataset, cache_dir / "hub" / dataset)


def prepare(
    dataset: str,
    path: str | Path | None = None,
    options: PrepareOptions | None = None,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> PreparedData:
    """Prepare ``dataset`` from ``path`` (a file or a folder of official files)."""
    options = options or PrepareOptions()
    get_source(dataset)  # fail early on an unknown name
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    source_path = resolve_source_path(dataset, path, cache_root)
    files = [p for _, p in get_source(dataset).locate(source_path)]
    key = _cache_key(dataset, files, options)
    cache_path = cache_root / "prepared" / f"{dataset}-{key}"
    if use_cache and (cache_path / "meta.json").exists():
        return load_prepared(cache_path)
    prepared = _prepare_uncached(dataset, source_path, options)
    if use_cache:
        save_prepared(prepared, cache_path)
    return prepared


def _prepare_uncached(dataset: str, path: Path, options: PrepareOptions) -> PreparedData:
    raw, files = read_source(dataset, path)
    dropped: Counter[str] = Counter()
    source_records = 0
    by_raw_split: dict[str, list[QARecord]] = {}
    for raw_split, result in raw.items():
        source_records += result.source_records
        dropped.update(result.dropped)
        by_raw_split[raw_split] = _to_segments(dataset, result, options, dropped)

    splits: dict[str, list[QARecord]] = {name: [] for name in SPLITS}
    if options.article_split is not None:
        pooled = [r for records in by_raw_split.values() for r in records]
        carved = split_by_article_counts(pooled, options.article_split, options.split_seed)
        splits.update(zip(SPLITS, carved, strict=True))
    else:
        for raw_split, records in by_raw_split.items():
            if raw_split == "own":
                for record in records:
                    splits[record.split].append(record)
            elif raw_split == "train":
                splits["train"].extend(records)
            else:
                proportion = options.dev_carve or DEV_CARVE[dataset]
                val, test = carve_by_article(records, proportion, options.split_seed)
                splits["val"].extend(val)
                splits["test"].extend(test)
    splits = {name: [replace(r, split=name) for r in records] for name, records in splits.items()}
    return PreparedData(
        dataset=dataset,
        splits=splits,
        dropped=dropped,
        source_records=source_records,
        files=[str(f) for f in files],
        options=options.key(),
    )


def _to_segments(
    dataset: str, result: ReadResult, options: PrepareOptions, dropped: Counter[str]
) -> list[QARecord]:
    if dataset in SENTENCE_LEVEL:
        return segment_records(result.records, dropped)
    return [
        r for r in (coqa_context(r, options.coqa_context, dropped) for r in result.records) if r
    ]


def coqa_context(record: QARecord, mode: CoQAContext, dropped: Counter[str]) -> QARecord | None:
    """Build a CoQA record's context from its rationale span, per ``mode``."""
    story = record.context
    start, end = record.source["rationale_start"], record.source["rationale_end"]
    if mode == "story":
        context = story
    elif mode == "rationale":
        context = story[start:end].strip()
    else:
        covering = [s for s in split_sentences(story) if s.start < end and start < s.end]
        context = story[covering[0].start : covering[-1].end] if covering else ""
    if not context:
        dropped["empty_rationale"] += 1
        return None
    found = context.find(record.answer)
    return replace(record, context=context, answer_start=found if found >= 0 else None)


def _shuffled_articles(records: Sequence[QARecord], seed: int) -> list[list[QARecord]]:
    groups: dict[str, list[QARecord]] = defaultdict(list)
    for record in records:
        groups[record.article_id].append(record)
    names = sorted(groups)
    random.Random(seed).shuffle(names)
    return [groups[name] for name in names]


def carve_by_article(
    records: Sequence[QARecord], proportion: tuple[int, int], seed: int
) -> tuple[list[QARecord], list[QARecord]]:
    """Split dev records into (val, test) by whole articles, val taking its share first."""
    target_val = len(records) * proportion[0] / sum(proportion)
    val: list[QARecord] = []
    test: list[QARecord] = []
    for group in _shuffled_articles(records, seed):
        # An article goes to val while that brings val closer to its target size.
        if abs(len(val) + len(group) - target_val) < abs(len(val) - target_val):
            val.extend(group)
        else:
            test.extend(group)
    return val, test


def split_by_article_counts(
    records: Sequence[QARecord], counts: tuple[int, int, int], seed: int
) -> tuple[list[QARecord], list[QARecord], list[QARecord]]:
    """Split records into train/val/test holding ``counts`` whole articles each."""
    groups = _shuffled_articles(records, seed)
    if sum(counts) > len(groups):
        raise ValueError(
            f"article_split {counts} asks for {sum(counts)} articles; the data has {len(groups)}"
        )
    out: list[list[QARecord]] = [[], [], []]
    bounds = [0, counts[0], counts[0] + counts[1], sum(counts)]
    for index in range(3):
        for group in groups[bounds[index] : bounds[index + 1]]:
            out[index].extend(group)
    return out[0], out[1], out[2]


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_key(dataset: str, files: Sequence[Path], options: PrepareOptions) -> str:
    payload = {
        "version": PREPARATION_VERSION,
        "dataset": dataset,
        "files": sorted((Path(f).name, _file_digest(Path(f))) for f in files),
        "options": options.key(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def save_prepared(prepared: PreparedData, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, records in prepared.splits.items():
        rows = [{**r.to_dict(), "source": json.dumps(r.source)} for r in records]
        table = pa.Table.from_pylist(rows, schema=_SCHEMA)
        pq.write_table(table, directory / f"{name}.parquet")
    meta = {
        "dataset": prepared.dataset,
        "dropped": dict(prepared.dropped),
        "source_records": prepared.source_records,
        "files": prepared.files,
        "options": prepared.options,
    }
    # meta.json is written last: its presence marks a complete cache entry.
    (directory / "meta.json").write_text(json.dumps(meta, indent=2))


def load_prepared(directory: Path) -> PreparedData:
    meta = json.loads((directory / "meta.json").read_text())
    splits = {}
    for name in SPLITS:
        rows = pq.read_table(directory / f"{name}.parquet").to_pylist()
        splits[name] = [QARecord.from_dict({**r, "source": json.loads(r["source"])}) for r in rows]
    return PreparedData(
        dataset=meta["dataset"],
        splits=splits,
        dropped=Counter(meta["dropped"]),
        source_records=meta["source_records"],
        files=meta["files"],
        options=meta["options"],
    )


_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("context", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("answer_start", pa.int64()),
        ("article_id", pa.string()),
        ("source", pa.string()),
    ]
)
