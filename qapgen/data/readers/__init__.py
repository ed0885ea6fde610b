"""Readers for the real source formats, and where each dataset's official files live.

``SOURCES`` maps a dataset name to its official files (possibly in several layouts, e.g.
NewsQA as Maluuba's combined JSON or as MRQA JSON lines) and to its hub copy.
``read_source`` reads every file of a dataset found at a path, or fetched from the hub.

``qg_squad`` is QG-Bench's SQuAD (Ushio et al., 2022): paragraph-level records in Du et al.
(2017)'s split, read from the official SQuAD v1.1 files or from the hub's ``lmqg/qg_squad``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from qapgen.atomic_files import atomic_write_text
from qapgen.data.errors import DataFormatError, DataNotFoundError
from qapgen.data.readers import hub
from qapgen.data.readers.base import ReadResult
from qapgen.data.readers.coqa import read_coqa
from qapgen.data.readers.mrqa import read_mrqa
from qapgen.data.readers.newsqa import read_newsqa_combined
from qapgen.data.readers.qg_bench import qg_bench_reader
from qapgen.data.readers.squad import read_squad

# A reader takes (path, raw split) and returns records. Raw splits are the file's own:
# "train" and "dev" (carved later into val/test), or "own" for a file that labels each
# record's split itself (NewsQA's combined file).
Reader = Callable[[Path, str], ReadResult]


@dataclass(frozen=True)
class SourceFile:
    raw_split: str
    relative_path: str  # official name; a folder prefix where the name alone is ambiguous
    reader: Reader
    # False for a file only qapgen writes (a hub copy not in an official format): it is
    # read where found, but not what a user is told to provide.
    official: bool = True

    def matches(self, path: Path) -> bool:
        parts = Path(self.relative_path).parts
        return tuple(path.parts[-len(parts) :]) == parts


@dataclass(frozen=True)
class DatasetSource:
    name: str
    layouts: tuple[tuple[SourceFile, ...], ...]  # alternatives, most preferred first
    hub_writer: Callable[..., None]

    def file_names(self, official_only: bool = False) -> list[str]:
        return [
            f.relative_path
            for layout in self.layouts
            for f in layout
            if f.official or not official_only
        ]

    def locate(self, path: Path) -> list[tuple[SourceFile, Path]]:
        """The official files at ``path``: the file itself, or those found under a folder."""
        if path.is_file():
            for layout in self.layouts:
                for source_file in layout:
                    if source_file.matches(path):
                        return [(source_file, path)]
            raise DataFormatError(
                path,
                f"not an official {self.name} file name; expected one of "
                f"{', '.join(self.file_names())} (rename the file, or pass its folder)",
            )
        if not path.exists():
            raise DataNotFoundError(f"{path} does not exist")
        if not path.is_dir():
            raise DataFormatError(path, "is neither a regular file nor a folder")
        candidates = sorted(p for p in path.rglob("*") if p.is_file())
        for layout in self.layouts:
            found = []
            for source_file in layout:
                hits = [p for p in candidates if source_file.matches(p)]
                if hits:
                    found.append((source_file, hits[0]))
            if found:
                return found
        raise DataNotFoundError(
            f"no {self.name} files under {path}: looked for {', '.join(self.file_names())}"
        )


def _read_newsqa_own_splits(path: Path, raw_split: str) -> ReadResult:
    return read_newsqa_combined(path)


def _read_qg_squad(split: str) -> Reader:
    """A reader of one pre-split SQuAD-format file: its records carry ``split``."""

    def read(path: Path, raw_split: str) -> ReadResult:
        result = read_squad(path, "own")
        result.records = [replace(r, split=split) for r in result.records]
        return result

    return read


def _read_squad_as(dataset: str) -> Reader:
    """read_squad, its records named as ``dataset``'s."""

    def read(path: Path, raw_split: str) -> ReadResult:
        result = read_squad(path, raw_split)
        result.records = [replace(r, dataset=dataset) for r in result.records]
        return result

    return read


SOURCES: dict[str, DatasetSource] = {
    "squad": DatasetSource(
        "squad",
        (
            (
                SourceFile("train", "train-v1.1.json", read_squad),
                SourceFile("dev", "dev-v1.1.json", read_squad),
            ),
            # Du et al.'s split from the hub (lmqg/qg_squad), already split.
            tuple(
                SourceFile("own", name, _read_qg_squad(split), official=False)
                for split, name in (
                    ("train", hub.QG_SQUAD_FILES["train"]),
                    ("val", hub.QG_SQUAD_FILES["dev"]),
                    ("test", hub.QG_SQUAD_FILES["test"]),
                )
            ),
        ),
        hub.write_squad,
    ),
    # Paragraph-level SQuAD in Du et al.'s split (QG-Bench): from the official files (the
    # split and the answers' sentences made here), or lmqg/qg_squad's rows.
    "qg_squad": DatasetSource(
        "qg_squad",
        (
            (
                SourceFile("train", "train-v1.1.json", _read_squad_as("qg_squad")),
                SourceFile("dev", "dev-v1.1.json", _read_squad_as("qg_squad")),
            ),
            tuple(
                SourceFile("own", name, qg_bench_reader(split), official=False)
                for split, name in (
                    ("train", hub.QG_BENCH_FILES["train"]),
                    ("val", hub.QG_BENCH_FILES["dev"]),
                    ("test", hub.QG_BENCH_FILES["test"]),
                )
            ),
        ),
        hub.write_qg_bench,
    ),
    "newsqa": DatasetSource(
        "newsqa",
        (
            (SourceFile("own", "combined-newsqa-data-v1.json", _read_newsqa_own_splits),),
            (
                SourceFile("train", "train/NewsQA.jsonl.gz", read_mrqa),
                SourceFile("dev", "dev/NewsQA.jsonl.gz", read_mrqa),
                SourceFile("train", "train/NewsQA.jsonl", read_mrqa),
                SourceFile("dev", "dev/NewsQA.jsonl", read_mrqa),
            ),
        ),
        hub.write_mrqa,
    ),
    "coqa": DatasetSource(
        "coqa",
        (
            (
                SourceFile("train", "coqa-train-v1.0.json", read_coqa),
                SourceFile("dev", "coqa-dev-v1.0.json", read_coqa),
            ),
        ),
        hub.write_coqa,
    ),
}


def get_source(dataset: str) -> DatasetSource:
    try:
        return SOURCES[dataset]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(SOURCES)}") from None


def read_source(dataset: str, path: Path) -> tuple[dict[str, ReadResult], list[Path]]:
    """Read every official file of ``dataset`` at ``path``; results keyed by raw split.

    A QA id must be unique across the files of a dataset: an id in both train and dev would
    put one question on both sides of the split, so it is refused, naming both files.
    """
    source = get_source(dataset)
    results: dict[str, ReadResult] = {}
    files = []
    first_file: dict[str, Path] = {}
    for source_file, file_path in source.locate(Path(path)):
        result = source_file.reader(file_path, source_file.raw_split)
        for record_id in result.ids:
            seen = first_file.setdefault(record_id, file_path)
            if seen != file_path:
                raise DataFormatError(
                    file_path,
                    f"id also in {seen}: QA ids must be unique across a dataset's files",
                    record=record_id,
                    field="id",
                )
        results.setdefault(source_file.raw_split, ReadResult()).extend(result)
        files.append(file_path)
    return results, files


def fetch_from_hub(dataset: str, out_dir: Path) -> Path:
    """Download ``dataset`` from the hub into ``out_dir`` as official files; return the dir.

    A failed download raises DataNotFoundError saying what failed and how to use a local
    copy instead; it never falls back silently.
    """
    copy = hub.HUB_NAMES[dataset]
    marker = out_dir / ".complete"
    if marker.exists():
        return out_dir
    try:
        from datasets import load_dataset

        revision = {"revision": copy.revision} if copy.revision else {}
        loaded = load_dataset(copy.name, **revision)
    except Exception as error:  # noqa: BLE001 - any hub failure gets the same advice
        raise DataNotFoundError(
            f"could not load {dataset!r} from the Hugging Face hub as {copy.name!r} "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            f"Use a local copy: pass --path DIR (or set data.path in YAML, or QAPGEN_DATA_DIR) "
            f"to a folder holding the official files ({', '.join(official_names(copy.source))})."
        ) from error
    rows = {hub.HUB_SPLITS[s]: loaded[s] for s in loaded if s in hub.HUB_SPLITS}
    (copy.writer or SOURCES[copy.source].hub_writer)(rows, out_dir, copy.subset)
    atomic_write_text(marker, copy.name)
    return out_dir


def official_names(dataset: str) -> list[str]:
    """The files a user provides for ``dataset`` (not those only a hub copy writes)."""
    return SOURCES[dataset].file_names(official_only=True)


__all__ = [
    "SOURCES",
    "DatasetSource",
    "ReadResult",
    "SourceFile",
    "fetch_from_hub",
    "get_source",
    "read_source",
]
