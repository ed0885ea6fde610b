"""Du et al. (2017)'s split: the shipped title lists, selection by title, and the hub copy."""

from __future__ import annotations

import pytest

from qapgen.data import split_lists
from qapgen.data.datamodule import fixture_path
from qapgen.data.errors import DataFormatError
from qapgen.data.prepare import PrepareOptions, prepare
from qapgen.data.readers.hub import write_qg_squad
from qapgen.data.readers.squad import read_squad
from qapgen.data.stats import dataset_stats, render_table1
from qapgen.paper import DU2017_COUNTS

FIXTURES = fixture_path("squad")


def test_the_shipped_lists_are_the_split_s_definition():
    lists = split_lists.load_article_lists("du2017")
    sizes = {split: len(titles) for split, (_, titles) in lists.splits.items()}
    assert sizes == {"train": 398, "val": 48, "test": 44}
    raw = {split: raw_split for split, (raw_split, _) in lists.splits.items()}
    assert raw == {"train": "train", "val": "dev", "test": "train"}
    train, test = (set(lists.splits[s][1]) for s in ("train", "test"))
    assert not train & test and len(train | test) == 442  # every SQuAD train article once
    assert "University_of_Notre_Dame" in test


def test_du2017_selects_articles_by_title_and_keeps_every_pair(fixture_lists, isolated_cache):
    prepared = prepare("squad", FIXTURES, PrepareOptions(split="du2017"))
    assert prepared.options["sentence_policy"] == "every_pair"
    for split in ("train", "val", "test"):
        assert {r.article_id for r in prepared.splits[split]} == set(fixture_lists[split])
    left_out = sum(
        1 for r in read_squad(FIXTURES / "train-v1.1.json", "x").records
        if r.article_id == fixture_lists["left_out"]
    )  # fmt: skip
    assert prepared.dropped["article_not_in_du2017"] == left_out
    # every source pair is kept or counted
    assert prepared.kept + sum(prepared.dropped.values()) == prepared.source_records
    stats = render_table1(dataset_stats(prepared))
    assert "Du et al. (2017)" in stats and str(DU2017_COUNTS["test"]) in stats


def test_a_listed_title_missing_from_the_files_is_an_error(fixture_lists, tmp_path):
    lists = tmp_path / "du2017" / "doclist-test.txt"
    lists.write_text(lists.read_text() + "No_Such_Article\n")
    with pytest.raises(DataFormatError, match="doclist-test.txt.*No_Such_Article"):
        prepare("squad", FIXTURES, PrepareOptions(split="du2017"), use_cache=False)


def test_du2017_needs_both_files(fixture_lists, tmp_path):
    only_train = tmp_path / "only-train"
    only_train.mkdir()
    (only_train / "train-v1.1.json").write_bytes((FIXTURES / "train-v1.1.json").read_bytes())
    with pytest.raises(DataFormatError, match="dev file"):
        prepare("squad", only_train, PrepareOptions(split="du2017"), use_cache=False)


def qg_squad_row(paragraph: str, sentence: str, answer: str, question: str) -> dict:
    return {"paragraph": paragraph, "sentence": sentence, "answer": answer, "question": question,
            "paragraph_id": paragraph[:8]}  # fmt: skip


def test_the_hub_copy_keeps_its_splits_and_places_answers_in_their_sentence(tmp_path):
    paragraph = "The cat sat. The cat ran home."
    rows = {
        "train": [qg_squad_row(paragraph, "The cat ran home.", "The cat", "Who ran?")],
        "dev": [qg_squad_row(paragraph, "The cat sat.", "The cat", "Who sat?")],
        "test": [qg_squad_row(paragraph, "The cat ran home.", "home", "Where to?")],
    }
    write_qg_squad(rows, tmp_path)
    prepared = prepare("squad", tmp_path, PrepareOptions(split="du2017"), use_cache=False)
    got = {s: [(r.question, r.context) for r in rs] for s, rs in prepared.splits.items()}
    assert got == {
        "train": [("Who ran?", "The cat ran home.")],  # the 2nd "The cat": its sentence's
        "val": [("Who sat?", "The cat sat.")],
        "test": [("Where to?", "The cat ran home.")],
    }
    with pytest.raises(DataFormatError, match="split: du2017"):
        prepare("squad", tmp_path, use_cache=False)


def test_without_local_files_du2017_is_read_from_its_hub_copy(isolated_cache, monkeypatch):
    import datasets

    asked = []
    paragraph = "The cat sat. The cat ran home."

    def fake_load_dataset(name, **kwargs):
        asked.append((name, kwargs))
        row = qg_squad_row(paragraph, "The cat sat.", "The cat", "Who sat?")
        return {"train": [row], "validation": [row], "test": [row]}

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    prepared = prepare("squad", None, PrepareOptions(split="du2017"))
    # the hub's parquet export: the repository's loading script is never run
    assert asked == [("lmqg/qg_squad", {"revision": "refs/convert/parquet"})]
    assert {split: len(records) for split, records in prepared.splits.items()} == {
        "train": 1, "val": 1, "test": 1}  # fmt: skip
