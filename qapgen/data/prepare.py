"""The paper's data preparation: source files -> sentence-level QA records in train/val/test.

Steps (paper 4.1): read the official files; cut SQuAD and NewsQA paragraphs to sentences
by the dataset's sentence policy (``segment.py``); for CoQA build the context from the
answer's rationale; split. Every dropped QA pair is counted by reason. Prepared splits are
cached as parquet, keyed by the source files' hashes and the options.

A prepared-data folder (``qapgen data prepare --out``: the same parquet files and
``meta.json`` as a cache entry) stands in for the source files: ``prepare`` given such a
folder loads it, after checking it holds the dataset, preparation version and options asked
for (``PreparedFolderError`` otherwise). It is only read, never rebuilt: a machine with no
network and no raw data can train on data prepared elsewhere.

The policies, and the numbers of the paper each reproduces (``DATASET_POLICIES``):

- SQuAD, ``split: paper``: sentence policy ``unique`` (a sentence is kept only when exactly
  one QA pair falls in it, the paper's text); train from the train file, val and test carved
  from dev by article in the paper's proportion. Closest of the count rules tried to the
  paper's 36,078 / 1,584 / 4,009 (experiments/results/table1/).
- SQuAD, ``split: du2017``: Du et al. (2017)'s split by article title (``splits/du2017``):
  train and test from the train file, val = the dev file; policy ``every_pair`` (one
  sentence-question pair per question), which gives their 11,877 test and 10,570 dev pairs.
- NewsQA: policy ``every_pair``, official splits: the paper's 92,449 / 5,166 / 5,122 are the
  official 92,549 / 5,166 / 5,126 less a few answers not in their context, so pairs that
  share a sentence were kept.
- CoQA: one record per question with its rationale as context, ``unknown`` answers kept
  (``coqa_unanswerable: keep``): the paper's 108,647 train and 2,395 + 5,588 dev records are
  the whole official train and dev sets.
- QG-Bench's SQuAD (``qg_squad``, split ``du2017`` only): paragraph-level records, one per
  question, the sentence holding the answer marked in each (``mark_answer_sentences``), in
  Du et al.'s split: 75,722 / 10,570 / 11,877, QG-Bench's counts. From the official files
  the sentences are the segmenter's (Punkt by default); from the hub's ``lmqg/qg_squad``
  they are QG-Bench's own, and a row whose sentence cannot be placed gets the segmenter's
  (counted in ``repaired`` as ``sentence_from_segmenter``).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from qapgen.atomic_files import atomic_folder
from qapgen.data.cache import check_sha256, file_sha256, load_checked, read_cache_json
from qapgen.data.errors import CorruptCacheError, DataFormatError, PreparationOptionError
from qapgen.data.fixtures import FIXTURES_PATH, fixture_path
from qapgen.data.readers import fetch_from_hub, get_source, read_source
from qapgen.data.readers.base import ReadResult
from qapgen.data.records import QARecord, sentence_span
from qapgen.data.segment import (
    SEGMENTERS,
    SENTENCE_POLICIES,
    WINDOWED,
    Segment,
    Segmenter,
    SentencePolicy,
    make_segmenter,
    mark_answer_sentences,
    needs_windows,
    segment_records,
    split_sentences,
)
from qapgen.data.split_lists import SPLIT_LISTS, ArticleLists, load_article_lists

# Bump when preparation logic or the cache layout changes, so stale caches are not reused.
PREPARATION_VERSION = 3
# The file that marks a cache entry or a prepared-data folder (``save_prepared``).
PREPARED_META = "meta.json"
SPLITS = ("train", "val", "test")

# The paper's val : test sizes, carved from each dataset's dev set (Table 1). NewsQA's MRQA
# release has no test split, so its dev set is carved in NewsQA's official proportion.
DEV_CARVE = {"squad": (1584, 4009), "coqa": (2395, 5588), "newsqa": (5166, 5122)}
# Datasets whose answers are spans, cut to sentence level by a sentence policy.
SENTENCE_LEVEL = {"squad", "newsqa"}
# Datasets that keep whole paragraphs with the answer's sentence marked (QG-Bench's
# format), and the segmenter that marks it where the source does not: Punkt, as du2017's.
PARAGRAPH_LEVEL: dict[str, Segmenter] = {"qg_squad": "punkt"}
# Counted in a preparation's repairs: a hub row's sentence that had to be found again.
SENTENCE_FROM_SEGMENTER = "sentence_from_segmenter"
# Each (dataset, split)'s default segmenter and sentence policy: what comes closest to the
# published numbers (experiments/results/table1/ for SQuAD; NewsQA's counts imply the policy
# and nothing here measures its segmenter, so it keeps pysbd, which handles its bylines).
DATASET_POLICIES: dict[tuple[str, str], tuple[Segmenter, SentencePolicy]] = {
    ("squad", "paper"): ("punkt", "unique"),
    ("squad", "du2017"): ("punkt", "every_pair"),
    ("newsqa", "paper"): ("pysbd", "every_pair"),
}
# Which splits each dataset offers: the paper's, and the named article-list splits.
# The first is the dataset's default. QG-Bench's SQuAD is Du et al.'s split by definition.
DATASET_SPLITS = {
    "squad": ("paper", *SPLIT_LISTS),
    "newsqa": ("paper",),
    "coqa": ("paper",),
    "qg_squad": ("du2017",),
}

CoQAContext = Literal["rationale", "rationale_sentence", "story"]
CoQAUnanswerable = Literal["keep", "drop"]


@dataclass(frozen=True)
class PrepareOptions:
    """How to prepare a dataset. Defaults reproduce the paper's preparation.

    coqa_context: the CoQA context: the rationale span (the paper's contexts average 10.6
        words, which matches the rationale), the sentence(s) holding it, or the whole story.
    coqa_unanswerable: ``keep`` CoQA's "unknown" answers (no rationale: the context is the
        story sentence sharing most words with the question; the paper's counts keep them)
        or ``drop`` them (counted as ``unanswerable``).
    split: ``paper`` (train file -> train, dev file carved into val and test) or ``du2017``
        (SQuAD only: Du et al.'s article lists, see ``split_lists``).
    segmenter: ``pysbd`` or ``punkt`` (see ``qapgen.data.segment``); None takes the
        dataset's and split's default (``DATASET_POLICIES``).
    sentence_policy: ``unique`` or ``every_pair`` (see ``qapgen.data.segment``); None takes
        the dataset's and split's default.
    split_seed: seed of the article shuffle that carves val/test from dev.
    dev_carve: val : test proportion for carving dev; None takes the paper's (DEV_CARVE).
    article_split: if set, pool every record and split by ARTICLE COUNTS (train, val, test),
        e.g. (38, 5, 5) for the reduced-data protocol on SQuAD dev alone.
    """

    coqa_context: CoQAContext = "rationale"
    coqa_unanswerable: CoQAUnanswerable = "keep"
    split: str = "paper"
    segmenter: Segmenter | None = None
    sentence_policy: SentencePolicy | None = None
    split_seed: int = 0
    dev_carve: tuple[int, int] | None = None
    article_split: tuple[int, int, int] | None = None

    def key(self) -> dict:
        return asdict(self)

    def resolved(self, dataset: str) -> PrepareOptions:
        """These options with the dataset's defaults filled in, each value checked
        (PreparationOptionError, a ValueError, names the one at fault)."""
        splits = DATASET_SPLITS.get(dataset, ("paper",))
        if self.split not in splits:
            raise PreparationOptionError(
                f"split {self.split!r} is not offered for {dataset}; choose one of {splits}"
            )
        if self.split != "paper" and self.article_split is not None:
            raise PreparationOptionError(
                f"split {self.split!r} fixes the split; drop article_split"
            )
        if self.article_split is not None:
            check_article_split(self.article_split)
        if self.coqa_unanswerable not in ("keep", "drop"):
            raise PreparationOptionError(
                f"coqa_unanswerable must be 'keep' or 'drop', not {self.coqa_unanswerable!r}"
            )
        if dataset in PARAGRAPH_LEVEL:
            if self.sentence_policy is not None:
                raise PreparationOptionError(
                    f"{dataset} keeps whole paragraphs, its answers' sentences marked in them; "
                    f"sentence_policy does not apply (drop it)"
                )
            segmenter = self.segmenter or PARAGRAPH_LEVEL[dataset]
            if segmenter not in SEGMENTERS:
                raise PreparationOptionError(
                    f"segmenter must be one of {SEGMENTERS}, not {segmenter!r}"
                )
            return replace(self, segmenter=segmenter)
        if dataset not in SENTENCE_LEVEL:
            return replace(self, segmenter=None, sentence_policy=None)
        segmenter, policy = DATASET_POLICIES[(dataset, self.split)]
        segmenter = self.segmenter or segmenter
        policy = self.sentence_policy or policy
        if segmenter not in SEGMENTERS:
            raise PreparationOptionError(
                f"segmenter must be one of {SEGMENTERS}, not {segmenter!r}"
            )
        if policy not in SENTENCE_POLICIES:
            raise PreparationOptionError(
                f"sentence_policy must be one of {SENTENCE_POLICIES}, not {policy!r}"
            )
        return replace(self, segmenter=segmenter, sentence_policy=policy)


def check_article_split(counts: Sequence[object]) -> tuple[int, int, int]:
    """``counts`` as (train, val, test) article counts: three whole numbers, none negative,
    not all zero; else PreparationOptionError."""
    if (
        len(counts) != 3
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)
        or not any(counts)
    ):
        raise PreparationOptionError(
            f"article_split wants three article counts TRAIN,VAL,TEST (whole numbers, none "
            f"negative, not all zero), got {tuple(counts)!r}"
        )
    return tuple(counts)  # type: ignore[return-value]


class PreparedFolderError(PreparationOptionError):
    """A prepared-data folder that cannot serve the request: it holds another dataset,
    preparation version or options, or its files fail their checks. The message names the
    folder and the field, and says how to prepare the data again; the folder is the user's,
    so it is never rebuilt or written."""


@dataclass
class PreparedData:
    """Prepared splits, with every source QA pair that was dropped (``dropped``, by reason)
    and every repair made on the way (``repaired``: contexts cut into windows)."""

    dataset: str
    splits: dict[str, list[QARecord]]
    dropped: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    source_records: int = 0
    files: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)

    @property
    def kept(self) -> int:
        return sum(len(records) for records in self.splits.values())


def default_cache_dir() -> Path:
    return Path(os.environ.get("QAPGEN_CACHE_DIR", Path.home() / ".cache" / "qapgen"))


def resolve_source_path(
    dataset: str, path: str | Path | None, cache_dir: Path, split: str = "paper"
) -> Path:
    """Where to read ``dataset`` from: the given path (``fixtures``: the project's fixture
    files), QAPGEN_DATA_DIR, or the hub (a named split has a hub copy of its own, e.g.
    ``lmqg/qg_squad`` for SQuAD's du2017)."""
    if path is not None and str(path) == FIXTURES_PATH:
        return fixture_path(dataset)
    if path is not None:
        return Path(path).expanduser()
    data_dir = os.environ.get("QAPGEN_DATA_DIR")
    if data_dir:
        return Path(data_dir).expanduser()
    hub_key = dataset if split == "paper" else f"{dataset}-{split}"
    return fetch_from_hub(hub_key, cache_dir / "hub" / hub_key)


def prepare(
    dataset: str,
    path: str | Path | None = None,
    options: PrepareOptions | None = None,
    *,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> PreparedData:
    """Prepare ``dataset`` from ``path`` (a file or a folder of official files), or load
    the prepared-data folder ``path`` is (``is_prepared_folder``; see
    ``load_prepared_folder``)."""
    get_source(dataset)  # fail early on an unknown name
    options = (options or PrepareOptions()).resolved(dataset)
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    source_path = resolve_source_path(dataset, path, cache_root, options.split)
    if is_prepared_folder(source_path):
        return load_prepared_folder(source_path, dataset, options)
    files = [p for _, p in get_source(dataset).locate(source_path)]
    key = _cache_key(dataset, files, options)
    cache_path = cache_root / "prepared" / f"{dataset}-{key}"
    if use_cache:
        cached = load_checked(cache_path, load_prepared, "prepared-data")
        if cached is not None:
            return cached
    prepared = _prepare_uncached(dataset, source_path, options)
    if use_cache:
        save_prepared(prepared, cache_path)
    return prepared


def is_prepared_folder(path: str | Path) -> bool:
    """Whether ``path`` is a prepared-data folder: a folder holding the ``meta.json`` that
    ``save_prepared`` writes (as ``qapgen data prepare --out`` does), not source files."""
    path = Path(path)
    return path.is_dir() and (path / PREPARED_META).is_file()


def default_options(dataset: str) -> PrepareOptions:
    """``dataset``'s default preparation: the defaults, in its first offered split."""
    split = DATASET_SPLITS.get(dataset, ("paper",))[0]
    return PrepareOptions(split=split).resolved(dataset)


def _prepare_again(dataset: str, options: PrepareOptions) -> str:
    """How to prepare ``dataset`` with ``options`` into a new folder: the command, with a
    flag for each option that is not the dataset's default."""
    asked, default = options.key(), default_options(dataset).key()
    flags = ""
    for name, value in asked.items():
        if value == default[name]:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        # dev_carve has no flag, and None is every option's default.
        flags += (
            f" ({name}={value})" if name == "dev_carve" else f" --{name.replace('_', '-')} {value}"
        )
    return (
        f"prepare it again with `qapgen data prepare --dataset {dataset} --path SOURCE{flags} "
        f"--out NEW_FOLDER` and pass that folder"
    )


def load_prepared_folder(folder: str | Path, dataset: str, options: PrepareOptions) -> PreparedData:
    """The prepared data in ``folder``, once it proves to hold ``dataset`` at this
    PREPARATION_VERSION with ``options`` (resolved for ``dataset``), its files intact.

    Anything else is a one-line PreparedFolderError naming the folder, the field, what the
    folder holds and what was asked, and how to prepare the data again. The folder is only
    read."""
    folder = Path(folder)
    where = f"prepared-data folder {folder}"
    again = _prepare_again(dataset, options)
    try:
        meta = read_cache_json(folder / PREPARED_META)
    except CorruptCacheError as error:
        raise PreparedFolderError(f"{where} is corrupt ({error}); {again}") from error
    held = meta.get("dataset")
    if held != dataset:
        raise PreparedFolderError(
            f"{where} holds dataset {held!r}, but {dataset!r} was asked for; ask for "
            f"{held!r}, or {again}"
        )
    held = meta.get("version")
    if held != PREPARATION_VERSION:
        raise PreparedFolderError(
            f"{where} holds preparation version {held!r}, but this qapgen reads version "
            f"{PREPARATION_VERSION}; {again}"
        )
    held_options = meta.get("options")
    if not isinstance(held_options, dict):
        raise PreparedFolderError(f"{where} is corrupt (meta.json has no valid 'options'); {again}")
    # Compared in the JSON form meta.json stores (tuples as lists).
    asked = json.loads(json.dumps(options.key()))
    names = [*asked, *(name for name in held_options if name not in asked)]
    differ = [name for name in names if asked.get(name) != held_options.get(name)]
    if differ:
        holds = ", ".join(f"{name}={held_options.get(name)!r}" for name in differ)
        wants = ", ".join(f"{name}={asked.get(name)!r}" for name in differ)
        raise PreparedFolderError(
            f"{where} was prepared with {holds}, but {wants} was asked for; ask for what it "
            f"holds, or {again}"
        )
    try:
        return load_prepared(folder)
    except CorruptCacheError as error:
        raise PreparedFolderError(f"{where} is corrupt ({error}); {again}") from error


def _prepare_uncached(dataset: str, path: Path, options: PrepareOptions) -> PreparedData:
    raw, files = read_source(dataset, path)
    dropped: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    source_records = 0
    by_raw_split: dict[str, list[QARecord]] = {}
    # Per raw split, the records whose answer's sentence is still to be found.
    unmarked = {
        raw_split: sum(sentence_span(r) is None for r in result.records)
        for raw_split, result in raw.items()
        if dataset in PARAGRAPH_LEVEL
    }
    splitter = None
    if dataset in SENTENCE_LEVEL or (dataset in PARAGRAPH_LEVEL and any(unmarked.values())):
        paragraphs = (r.context for result in raw.values() for r in result.records)
        splitter = make_segmenter(options.segmenter, paragraphs)
    for raw_split, result in raw.items():
        source_records += result.source_records
        dropped.update(result.dropped)
        if dataset in PARAGRAPH_LEVEL:
            by_raw_split[raw_split] = result.records
            if unmarked[raw_split]:
                if raw_split == "own":  # hub rows bring their sentences; these could not be placed
                    repaired[SENTENCE_FROM_SEGMENTER] += unmarked[raw_split]
                by_raw_split[raw_split] = mark_answer_sentences(
                    result.records, dropped, splitter, repaired
                )
        else:
            by_raw_split[raw_split] = _to_segments(result, options, dropped, repaired, splitter)

    splits: dict[str, list[QARecord]] = {name: [] for name in SPLITS}
    if options.split != "paper" and "own" not in by_raw_split:
        lists = load_article_lists(options.split)
        carved = split_by_article_lists(by_raw_split, lists, dropped)
        splits.update(zip(SPLITS, carved, strict=True))
    elif options.split == "paper" and "own" in by_raw_split and dataset == "squad":
        raise DataFormatError(
            path,
            "these are pre-split files (the hub's du2017 copy); use split: du2017, or pass "
            "the official train-v1.1.json and dev-v1.1.json for the paper's split",
        )
    elif options.article_split is not None:
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
        repaired=repaired,
        source_records=source_records,
        files=[str(f) for f in files],
        options=options.key(),
    )


def _to_segments(
    result: ReadResult,
    options: PrepareOptions,
    dropped: Counter[str],
    repaired: Counter[str],
    splitter: Callable[[str], list[Segment]] | None,
) -> list[QARecord]:
    if splitter is not None:
        return segment_records(
            result.records, dropped, options.sentence_policy, splitter, repaired=repaired
        )
    records = []
    windowed: dict[str, bool] = {}  # story -> cut into windows, for the stories segmented
    for record in result.records:
        if record.source.get("unanswerable") and options.coqa_unanswerable == "drop":
            dropped["unanswerable"] += 1
            continue
        segmented = options.coqa_context != "story" and (
            options.coqa_context == "rationale_sentence" or record.source.get("unanswerable")
        )
        if segmented and record.article_id not in windowed:
            windowed[record.article_id] = needs_windows(record.context)
        prepared = coqa_context(record, options.coqa_context, dropped)
        if prepared is not None:
            records.append(prepared)
    if any(windowed.values()):
        repaired[WINDOWED] += sum(windowed.values())
    return records


def coqa_context(record: QARecord, mode: CoQAContext, dropped: Counter[str]) -> QARecord | None:
    """Build a CoQA record's context from its rationale span, per ``mode``.

    An unanswerable question has no rationale; outside ``story`` mode its context is the
    story sentence that shares most words with the question (the first such), so that it
    stays as short as the others."""
    story = record.context
    if record.source.get("unanswerable"):
        context = story if mode == "story" else _closest_sentence(story, record.question)
    else:
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


def _closest_sentence(story: str, question: str) -> str:
    words = set(question.lower().split())
    sentences = split_sentences(story)
    if not sentences:
        return ""
    overlaps = [len(words & set(s.text.lower().split())) for s in sentences]
    return sentences[overlaps.index(max(overlaps))].text


def split_by_article_lists(
    by_raw_split: dict[str, list[QARecord]], lists: ArticleLists, dropped: Counter[str]
) -> tuple[list[QARecord], list[QARecord], list[QARecord]]:
    """Train, val and test by article title: each list names the raw split (file) its
    articles come from. A listed title missing from its file is an error (the files are not
    the ones the split was defined on); an article in no list is dropped and counted."""
    out: dict[str, list[QARecord]] = {name: [] for name in SPLITS}
    owner = {}
    for split, (raw_split, titles) in lists.splits.items():
        records = by_raw_split.get(raw_split)
        if records is None:
            raise DataFormatError(
                lists.files[split],
                f"the {lists.name} {split} split takes its articles from the SQuAD {raw_split} "
                f"file, which is not among the files read",
            )
        missing = sorted(set(titles) - {r.article_id for r in records})
        if missing:
            raise DataFormatError(
                lists.files[split],
                f"{len(missing)} listed article(s) are not in the {raw_split} file, e.g. "
                f"{missing[0]!r}: this split is defined on the official SQuAD v1.1 files",
            )
        for title in titles:
            owner[(raw_split, title)] = split
    for raw_split, records in by_raw_split.items():
        for record in records:
            split = owner.get((raw_split, record.article_id))
            if split is None:
                dropped[f"article_not_in_{lists.name}"] += 1
            else:
                out[split].append(record)
    return out["train"], out["val"], out["test"]


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
        raise PreparationOptionError(
            f"article_split {tuple(counts)} asks for {sum(counts)} articles; the prepared data "
            f"has {len(groups)}"
        )
    out: list[list[QARecord]] = [[], [], []]
    bounds = [0, counts[0], counts[0] + counts[1], sum(counts)]
    for index in range(3):
        for group in groups[bounds[index] : bounds[index + 1]]:
            out[index].extend(group)
    return out[0], out[1], out[2]


def _cache_key(dataset: str, files: Sequence[Path], options: PrepareOptions) -> str:
    payload = {
        "version": PREPARATION_VERSION,
        "dataset": dataset,
        "files": sorted((Path(f).name, file_sha256(Path(f))) for f in files),
        "options": options.key(),
    }
    if options.split != "paper":  # the lists define the split: edited lists, new cache
        lists = load_article_lists(options.split)
        payload["split_lists"] = sorted((p.name, file_sha256(p)) for p in lists.files.values())
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def save_prepared(prepared: PreparedData, directory: Path) -> None:
    """Write ``prepared`` as a cache entry: a parquet file per split and ``meta.json`` with
    each file's row count and sha256, built beside ``directory`` and renamed into place."""
    with atomic_folder(directory) as folder:
        splits = {}
        for name, records in prepared.splits.items():
            rows = [{**r.to_dict(), "source": json.dumps(r.source)} for r in records]
            table = pa.Table.from_pylist(rows, schema=_SCHEMA)
            pq.write_table(table, folder / f"{name}.parquet")
            splits[name] = {"rows": len(rows), "sha256": file_sha256(folder / f"{name}.parquet")}
        meta = {
            "version": PREPARATION_VERSION,
            "dataset": prepared.dataset,
            "splits": splits,
            "dropped": dict(prepared.dropped),
            "repaired": dict(prepared.repaired),
            "source_records": prepared.source_records,
            "files": prepared.files,
            "options": prepared.options,
        }
        (folder / PREPARED_META).write_text(json.dumps(meta, indent=2))


# What meta.json must hold, and of what type.
_META_FIELDS = {
    "dataset": str,
    "splits": dict,
    "dropped": dict,
    "repaired": dict,
    "source_records": int,
    "files": list,
    "options": dict,
}


def load_prepared(directory: Path) -> PreparedData:
    """Read a cache entry ``save_prepared`` wrote, checking every file against meta.json;
    CorruptCacheError says what does not match."""
    meta = read_cache_json(directory / PREPARED_META)
    for key, kind in _META_FIELDS.items():
        if not isinstance(meta.get(key), kind):
            raise CorruptCacheError(f"meta.json has no valid {key!r}")
    splits = {}
    for name in SPLITS:
        recorded = meta["splits"].get(name)
        if not isinstance(recorded, dict) or not isinstance(recorded.get("rows"), int):
            raise CorruptCacheError(f"meta.json records no row count for {name}.parquet")
        path = directory / f"{name}.parquet"
        if not path.is_file():
            raise CorruptCacheError(f"{path.name} is missing")
        try:
            rows_in_file = pq.read_metadata(path).num_rows
        except (pa.ArrowException, OSError) as error:
            raise CorruptCacheError(f"{path.name} is not a readable parquet file") from error
        if rows_in_file != recorded["rows"]:
            raise CorruptCacheError(
                f"{path.name} holds {rows_in_file} rows, meta.json records {recorded['rows']}"
            )
        check_sha256(directory, path.name, recorded.get("sha256"))
        try:
            rows = pq.read_table(path, schema=_SCHEMA).to_pylist()
        except (pa.ArrowException, OSError) as error:
            raise CorruptCacheError(f"{path.name} is not a readable parquet file") from error
        splits[name] = [QARecord.from_dict({**r, "source": json.loads(r["source"])}) for r in rows]
    return PreparedData(
        dataset=meta["dataset"],
        splits=splits,
        dropped=Counter(meta["dropped"]),
        repaired=Counter(meta["repaired"]),
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
