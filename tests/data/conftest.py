"""Fixtures for the data tests: Du et al. (2017)-style article lists over the SQuAD fixtures."""

from __future__ import annotations

import pytest

from qapgen.data import split_lists
from qapgen.data.fixtures import fixture_path
from qapgen.data.readers.squad import read_squad


def fixture_titles(file_name: str) -> list[str]:
    """The article titles of a SQuAD fixture file, in file order."""
    records = read_squad(fixture_path("squad") / file_name, "x").records
    return list(dict.fromkeys(r.article_id for r in records))


@pytest.fixture
def fixture_lists(tmp_path, monkeypatch):
    """du2017 lists over the fixture articles, in place of the shipped ones: the first two
    train articles are the test split, the last train article is in no list."""
    train_titles, dev_titles = fixture_titles("train-v1.1.json"), fixture_titles("dev-v1.1.json")
    folder = tmp_path / "du2017"
    folder.mkdir()
    (folder / "doclist-train.txt").write_text("\n".join(train_titles[2:-1]) + "\n")
    (folder / "doclist-test.txt").write_text("\n".join(train_titles[:2]) + "\n")
    (folder / "doclist-dev.txt").write_text("\n".join(dev_titles) + "\n")
    monkeypatch.setattr(split_lists, "SPLITS_DIR", tmp_path)
    return {"train": train_titles[2:-1], "test": train_titles[:2], "val": dev_titles,
            "left_out": train_titles[-1]}  # fmt: skip
