"""The paper's preparation on the fixtures: counts, carving, CoQA contexts, the cache."""

from __future__ import annotations

import pytest

from qapgen.data.datamodule import fixture_path
from qapgen.data.errors import PreparationOptionError
from qapgen.data.fixtures import content
from qapgen.data.prepare import (
    PrepareOptions,
    carve_by_article,
    prepare,
    split_by_article_counts,
)
from qapgen.data.readers.coqa import read_coqa
from qapgen.data.records import QARecord
from qapgen.data.segment import split_sentences

COUNTS = content.EXPECTED_COUNTS


def expected_kept(fmt: str, split: str) -> int:
    entry = COUNTS[fmt][split]
    return entry["single"] + entry["repeated_answer"]


def test_squad_preparation_counts_every_drop():
    prepared = prepare("squad", fixture_path("squad"))
    train, dev = COUNTS["squad"]["train"], COUNTS["squad"]["dev"]
    assert prepared.source_records == train["total"] + dev["total"]
    assert len(prepared.splits["train"]) == expected_kept("squad", "train")
    assert len(prepared.splits["val"]) + len(prepared.splits["test"]) == expected_kept(
        "squad", "dev"
    )
    assert prepared.dropped == {
        "answer_not_in_context": train["answer_missing"] + dev["answer_missing"],
        "answer_crosses_sentences": train["cross_sentence"] + dev["cross_sentence"],
        "segment_has_multiple_qa": train["shared_sentence"] + dev["shared_sentence"],
    }
    # Nothing vanishes: kept + dropped == seen.
    assert prepared.kept + sum(prepared.dropped.values()) == prepared.source_records


def test_kept_records_are_sentences_holding_their_answer():
    prepared = prepare("squad", fixture_path("squad"))
    single = {content.squad_id(i) for i in content.EXPECTED_CASES[content.SINGLE]}
    repeated = {content.squad_id(i) for i in content.EXPECTED_CASES[content.REPEATED]}
    for records in prepared.splits.values():
        for r in records:
            assert r.id in single | repeated
            assert r.context[r.answer_start : r.answer_start + len(r.answer)] == r.answer
            assert r.context.count(". ") <= 1  # one sentence ("Dr." aside)


def test_val_and_test_are_carved_from_dev_by_whole_articles():
    prepared = prepare("squad", fixture_path("squad"))
    val_articles = {r.article_id for r in prepared.splits["val"]}
    test_articles = {r.article_id for r in prepared.splits["test"]}
    assert val_articles and test_articles and not val_articles & test_articles
    again = prepare("squad", fixture_path("squad"), use_cache=False)
    assert [r.id for r in again.splits["val"]] == [r.id for r in prepared.splits["val"]]


def records_for(articles: dict[str, int]) -> list[QARecord]:
    return [
        QARecord(f"{a}-{i}", "squad", "dev", "c", "q", "a", 0, a)
        for a, n in articles.items()
        for i in range(n)
    ]


def test_carve_by_article_hits_the_proportion_with_whole_articles():
    records = records_for({f"art{i}": 10 for i in range(20)})  # 200 records, 20 articles
    val, test = carve_by_article(records, (1584, 4009), seed=0)
    assert len(val) + len(test) == 200
    assert len(val) == 60  # 200 * 1584 / 5593 = 56.6 -> nearest whole articles: 60
    assert not {r.article_id for r in val} & {r.article_id for r in test}
    assert carve_by_article(records, (1584, 4009), seed=0) == (val, test)
    assert carve_by_article(records, (1584, 4009), seed=1) != (val, test)


def test_split_by_article_counts_and_its_error():
    records = records_for({f"art{i}": 3 for i in range(6)})
    train, val, test = split_by_article_counts(records, (4, 1, 1), seed=0)
    assert (len(train), len(val), len(test)) == (12, 3, 3)
    with pytest.raises(
        PreparationOptionError, match="asks for 7 articles; the prepared data has 6"
    ):
        split_by_article_counts(records, (5, 1, 1), seed=0)


def test_article_split_option_pools_the_dev_file_into_three_splits():
    options = PrepareOptions(article_split=(3, 1, 1))
    prepared = prepare("squad", fixture_path("squad") / "dev-v1.1.json", options)
    assert all(prepared.splits[s] for s in ("train", "val", "test"))
    assert {r.split for r in prepared.splits["train"]} == {"train"}


def every_pair_kept(fmt: str, split: str) -> int:
    entry = COUNTS[fmt][split]
    return entry["total"] - entry["answer_missing"] - entry.get("bad_question", 0)


def test_newsqa_keeps_its_official_splits_and_every_answerable_pair():
    # The paper's NewsQA counts are the official split sizes: pairs sharing a sentence, and
    # answers crossing one, are kept (policy every_pair, the default for NewsQA).
    prepared = prepare("newsqa", fixture_path("newsqa"))
    assert prepared.options["sentence_policy"] == "every_pair"
    assert len(prepared.splits["train"]) == every_pair_kept("newsqa", "train")
    assert len(prepared.splits["val"]) == every_pair_kept("newsqa", "dev")
    assert len(prepared.splits["test"]) == every_pair_kept("newsqa", "test")
    assert prepared.dropped == {"bad_question": 1, "no_answer": 1}
    assert prepared.kept + sum(prepared.dropped.values()) == prepared.source_records


def test_newsqa_under_the_unique_policy_keeps_only_lone_pairs():
    prepared = prepare("newsqa", fixture_path("newsqa"), PrepareOptions(sentence_policy="unique"))
    assert len(prepared.splits["train"]) == expected_kept("newsqa", "train")
    assert len(prepared.splits["val"]) == expected_kept("newsqa", "dev")
    assert len(prepared.splits["test"]) == expected_kept("newsqa", "test")
    counts = [COUNTS["newsqa"][split] for split in ("train", "dev", "test")]
    assert prepared.dropped == {
        "bad_question": 1,
        "no_answer": 1,
        "segment_has_multiple_qa": sum(c["shared_sentence"] for c in counts),
        "answer_crosses_sentences": sum(c["cross_sentence"] for c in counts),
    }


@pytest.mark.parametrize("segmenter", ["pysbd", "punkt"])
def test_squad_every_pair_policy_counts_per_segmenter(segmenter):
    options = PrepareOptions(sentence_policy="every_pair", segmenter=segmenter)
    prepared = prepare("squad", fixture_path("squad"), options, use_cache=False)
    assert len(prepared.splits["train"]) == every_pair_kept("squad", "train")
    assert len(prepared.splits["val"]) + len(prepared.splits["test"]) == every_pair_kept(
        "squad", "dev"
    )
    assert prepared.dropped == {
        "answer_not_in_context": COUNTS["squad"]["train"]["answer_missing"]
        + COUNTS["squad"]["dev"]["answer_missing"]
    }
    for record in (r for split in prepared.splits.values() for r in split):
        assert record.context[record.answer_start :].startswith(record.answer)


@pytest.mark.parametrize("mode", ["rationale", "rationale_sentence", "story"])
def test_coqa_context_modes(mode):
    prepared = prepare("coqa", fixture_path("coqa"), PrepareOptions(coqa_context=mode))
    train = prepared.splits["train"]
    assert len(train) == COUNTS["coqa"]["train"]["total"]  # the unanswerable one kept
    lengths = [len(r.context.split()) for r in train]
    mean = sum(lengths) / len(lengths)
    for r in train:
        if r.source.get("unanswerable"):
            continue
        story = r.source  # rationale offsets index the story
        assert story["rationale_end"] > story["rationale_start"]
        if r.answer_start is not None:
            assert r.context[r.answer_start :].startswith(r.answer)
    bounds = {"rationale": (2, 15), "rationale_sentence": (10, 35), "story": (80, 200)}[mode]
    assert bounds[0] <= mean <= bounds[1]


def test_cache_is_reused_and_keyed_by_options(isolated_cache):
    first = prepare("squad", fixture_path("squad"))
    entries = list((isolated_cache / "prepared").iterdir())
    assert len(entries) == 1
    again = prepare("squad", fixture_path("squad"))
    assert [r.to_dict() for r in again.splits["test"]] == [
        r.to_dict() for r in first.splits["test"]
    ]
    assert again.dropped == first.dropped
    prepare("squad", fixture_path("squad"), PrepareOptions(split_seed=3))
    assert len(list((isolated_cache / "prepared").iterdir())) == 2


def test_cache_key_follows_the_file_contents(tmp_path, isolated_cache):
    import shutil

    shutil.copy(fixture_path("squad") / "dev-v1.1.json", tmp_path / "dev-v1.1.json")
    prepare("squad", tmp_path / "dev-v1.1.json")
    text = (tmp_path / "dev-v1.1.json").read_text()
    (tmp_path / "dev-v1.1.json").write_text(text.replace("?", " ?", 1))
    prepare("squad", tmp_path / "dev-v1.1.json")
    assert len(list((isolated_cache / "prepared").iterdir())) == 2


def test_data_dir_environment_variable_is_used(monkeypatch):
    monkeypatch.setenv("QAPGEN_DATA_DIR", str(fixture_path("coqa").parent))
    prepared = prepare("coqa")
    assert prepared.splits["train"]


def test_coqa_keeps_unanswerable_questions_with_their_closest_sentence_or_drops_them():
    kept = prepare("coqa", fixture_path("coqa"))
    total = sum(COUNTS["coqa"][split]["total"] for split in ("train", "dev"))
    assert kept.kept == kept.source_records == total and not kept.dropped
    (unknown,) = [r for s in kept.splits.values() for r in s if r.source.get("unanswerable")]
    story = next(
        r
        for r in read_coqa(fixture_path("coqa") / "coqa-train-v1.0.json", "train").records
        if r.id == unknown.id
    ).context
    sentences = [s.text for s in split_sentences(story)]
    question_words = set(unknown.question.lower().split())
    overlaps = [len(question_words & set(s.lower().split())) for s in sentences]
    assert unknown.context == sentences[overlaps.index(max(overlaps))]
    dropped = prepare("coqa", fixture_path("coqa"), PrepareOptions(coqa_unanswerable="drop"))
    assert dropped.kept == total - 1 and dropped.dropped == {"unanswerable": 1}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (PrepareOptions(split="du2017"), "not offered for newsqa"),
        (PrepareOptions(sentence_policy="some"), "sentence_policy"),
        (PrepareOptions(segmenter="spacy"), "segmenter"),
        (PrepareOptions(coqa_unanswerable="maybe"), "coqa_unanswerable"),
    ],
)
def test_bad_preparation_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        options.resolved("newsqa")
