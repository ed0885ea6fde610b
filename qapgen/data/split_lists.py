"""Splits defined by lists of article titles, shipped with qapgen as the splits' definition.

``du2017``: Du, Shao and Cardie (2017), "Learning to Ask", the split QG-Bench and most
question generation papers use. Its train (398 articles) and test (44) lists name articles
of SQuAD v1.1 train; its dev list names the 48 articles of SQuAD v1.1 dev. Files:
``splits/du2017/doclist-{train,dev,test}.txt``, one title a line, as the authors released.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPLITS_DIR = Path(__file__).parent / "splits"

# split name -> {our split: (the raw split, i.e. source file, its articles come from, list)}
SPLIT_LISTS: dict[str, dict[str, tuple[str, str]]] = {
    "du2017": {
        "train": ("train", "doclist-train.txt"),
        "val": ("dev", "doclist-dev.txt"),
        "test": ("train", "doclist-test.txt"),
    },
}


@dataclass(frozen=True)
class ArticleLists:
    name: str
    splits: dict[str, tuple[str, tuple[str, ...]]]  # our split -> (raw split, titles)
    files: dict[str, Path]


def load_article_lists(name: str, directory: Path | None = None) -> ArticleLists:
    """The title lists of split ``name`` (from ``directory``, default the shipped ones)."""
    if name not in SPLIT_LISTS:
        raise ValueError(f"unknown article-list split {name!r}; known: {sorted(SPLIT_LISTS)}")
    folder = directory or SPLITS_DIR / name
    splits, files = {}, {}
    seen: dict[str, str] = {}
    for split, (raw_split, file_name) in SPLIT_LISTS[name].items():
        path = folder / file_name
        titles = tuple(line.strip() for line in path.read_text("utf-8").splitlines())
        titles = tuple(t for t in titles if t)
        for title in titles:
            other = seen.setdefault(f"{raw_split}/{title}", split)
            if other != split:
                raise ValueError(f"{path}: article {title!r} is listed in both {other} and {split}")
        splits[split] = (raw_split, titles)
        files[split] = path
    return ArticleLists(name, splits, files)
