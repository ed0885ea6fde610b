"""QG-Bench's SQuAD (``qg_squad``): paragraph-level records in Du et al.'s split, from the
official files (fixtures, with du2017 lists over their articles) or from lmqg/qg_squad's
rows (hand-made here), and the paragraph with the answer's sentence highlighted."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from qapgen.data.errors import DataFormatError, DataNotFoundError, PreparationOptionError
from qapgen.data.features import (
    QUESTION_TARGET,
    encode_features,
    format_tokens,
    render,
    source_feature,
)
from qapgen.data.fixtures import fixture_path
from qapgen.data.highlight import highlight_answer, highlight_sentence
from qapgen.data.prepare import PrepareOptions, prepare
from qapgen.data.readers.hub import QG_BENCH_FILES, write_qg_bench
from qapgen.data.readers.qg_bench import read_qg_bench
from qapgen.data.readers.squad import read_squad
from qapgen.data.records import QARecord, sentence_span, with_sentence_mark
from qapgen.data.segment import mark_answer_sentences

FIXTURES = fixture_path("squad")
DU2017 = PrepareOptions(split="du2017")

# -- highlighting the sentence ------------------------------------------------------------

PARAGRAPH = "Cats purr. Dogs bark loudly. Birds sing."


def paragraph_record(answer: str, **source) -> QARecord:
    return QARecord("r", "qg_squad", "train", PARAGRAPH, "Who?", answer,
                    PARAGRAPH.find(answer), "animals", source)  # fmt: skip


def test_the_answer_s_sentence_is_highlighted_as_qg_bench_writes_paragraph_sentence():
    middle = with_sentence_mark(paragraph_record("Dogs"), 11, 28)
    assert middle.source["sentence"] == "Dogs bark loudly."
    assert highlight_sentence(middle) == "Cats purr. <hl> Dogs bark loudly. <hl> Birds sing."
    first = with_sentence_mark(paragraph_record("Cats"), 0, 10)
    assert highlight_sentence(first) == "<hl> Cats purr. <hl> Dogs bark loudly. Birds sing."
    last = with_sentence_mark(paragraph_record("Birds"), 29, 40)
    assert highlight_sentence(last) == "Cats purr. Dogs bark loudly. <hl> Birds sing. <hl>"


def test_a_record_without_a_sentence_mark_is_not_highlighted():
    assert highlight_sentence(paragraph_record("Dogs")) is None
    # sentence-level records carry where their sentence sat, not a mark over their context
    assert highlight_sentence(paragraph_record("Dogs", sentence_start=11)) is None
    # a mark whose text is no longer at its span is no mark
    stale = paragraph_record("Dogs", sentence="Dogs bark.", sentence_start=11, sentence_end=21)
    assert sentence_span(stale) is None


def test_the_template_field_renders_counts_and_asks_for_the_hl_token(fixture_tokenizer):
    template = "extract answers: {context_sentence_hl}"
    marked = with_sentence_mark(paragraph_record("Dogs"), 11, 28)
    assert render(template, marked) == (
        "extract answers: Cats purr. <hl> Dogs bark loudly. <hl> Birds sing."
    )
    plain = paragraph_record("Dogs")
    assert render(template, plain) == f"extract answers: {PARAGRAPH}"
    features = (source_feature(template), QUESTION_TARGET)
    assert format_tokens(features) == ("<hl>",)
    limits = {"source": 64, "answer": 16, "question": 16}
    _, counters = encode_features([marked, plain, plain], features, fixture_tokenizer, limits)
    assert counters["unhighlighted_sentence/input"] == 2


# -- offline: the official files in Du et al.'s split ---------------------------------------


def test_offline_records_are_paragraphs_in_du_s_split_with_the_answer_s_sentence_marked(
    fixture_lists,
):
    prepared = prepare("qg_squad", FIXTURES, DU2017)
    assert prepared.options["segmenter"] == "punkt" and prepared.options["sentence_policy"] is None
    source = {
        r.id: r
        for name in ("train-v1.1.json", "dev-v1.1.json")
        for r in read_squad(FIXTURES / name, "x").records
    }
    for split in ("train", "val", "test"):
        records = prepared.splits[split]
        assert records and {r.article_id for r in records} == set(fixture_lists[split])
        for record in records:
            original = source[record.id]
            assert record.dataset == "qg_squad" and record.split == split
            assert record.context == original.context  # the whole paragraph
            assert record.answer_start == original.answer_start
            start, end = sentence_span(record)
            assert start <= record.answer_start
            assert record.answer_start + len(record.answer) <= end
    left_out = sum(r.article_id == fixture_lists["left_out"] for r in source.values())
    assert prepared.dropped == {"answer_not_in_context": 1, "article_not_in_du2017": left_out}
    assert prepared.kept + sum(prepared.dropped.values()) == prepared.source_records


def test_offline_sentences_are_those_of_squad_s_du2017_sentence_level_records(fixture_lists):
    paragraphs = prepare("qg_squad", FIXTURES, DU2017)
    sentences = prepare("squad", FIXTURES, DU2017)
    for split in ("train", "val", "test"):
        by_id = {r.id: r for r in sentences.splits[split]}
        assert [r.id for r in paragraphs.splits[split]] == list(by_id)  # one per question
        for record in paragraphs.splits[split]:
            assert record.source["sentence"] == by_id[record.id].context
    crossing = [r for rs in paragraphs.splits.values() for r in rs if "sentence_count" in r.source]
    assert len(crossing) == 2  # the fixtures' cross_sentence answers: both sentences marked


def test_qg_squad_is_du2017_only_and_has_no_sentence_policy():
    with pytest.raises(PreparationOptionError, match="split 'paper' is not offered.*du2017"):
        prepare("qg_squad", FIXTURES)
    with pytest.raises(PreparationOptionError, match="sentence_policy does not apply"):
        prepare("qg_squad", FIXTURES, PrepareOptions(split="du2017", sentence_policy="unique"))


def test_the_marks_survive_the_cache(fixture_lists, isolated_cache):
    first = prepare("qg_squad", FIXTURES, DU2017)
    again = prepare("qg_squad", FIXTURES, DU2017)
    assert (isolated_cache / "prepared").is_dir()
    assert [highlight_sentence(r) for r in again.splits["val"]] == [
        highlight_sentence(r) for r in first.splits["val"]
    ]


def test_the_datamodule_feeds_qg_bench_s_paragraph_level_input(fixture_lists):
    from qapgen.data.datamodule import QAPDataModule

    features = (source_feature("generate question: {context_hl}"), QUESTION_TARGET)
    data = QAPDataModule(
        dataset="qg_squad", path="fixtures", split="du2017", tokenizer="train",
        tokenizer_vocab_size=600, max_source_length=256, limit_examples=8, features=features,
    )  # fmt: skip
    data.setup("fit")
    assert data.report["train"]["unhighlighted/input"] == 0
    hl = data.tokenizer.convert_tokens_to_ids("<hl>")
    batch = next(iter(data.train_dataloader()))
    assert all(row.tolist().count(hl) == 2 for row in batch["input_ids"])
    assert all(context in {r.context for r in data.prepared.splits["train"]}
               for context in batch["contexts"])  # fmt: skip


# -- the hub's lmqg/qg_squad rows ----------------------------------------------------------

# Two spaces after the first sentence: QG-Bench collapses them in its highlighted copies.
HERESY = (
    "Heresy is any belief at variance with established beliefs or customs.  A heretic "
    "holds such claims. A heretic may be shunned, and a heretic may be tried."
)


def qg_bench_row(paragraph: str, answer: str, question: str, at: int | None = None) -> dict:
    """A row as lmqg writes it: the answer highlighted at ``at`` (default: its first
    occurrence), the sentence holding it highlighted, tokenised as QG-Bench's are."""
    start = paragraph.find(answer) if at is None else at
    end = start + len(answer)
    sentence_start = paragraph.rfind(". ", 0, start) + 1
    sentence_end = paragraph.find(".", end) + 1
    sentence = paragraph[sentence_start:sentence_end].strip()
    tokenised = re.sub(r"([.,])", r" \1", sentence)

    def collapsed(text: str) -> str:
        return re.sub(r"\s+", " ", text)

    return {
        "question": question,
        "paragraph": paragraph,
        "answer": answer,
        "sentence": tokenised,
        "paragraph_answer": collapsed(f"{paragraph[:start]}<hl> {answer} <hl>{paragraph[end:]}"),
        "paragraph_sentence": collapsed(
            f"{paragraph[:sentence_start]} <hl> {tokenised} <hl> {paragraph[sentence_end:]}"
        ).strip(),
        "sentence_answer": "",
        "paragraph_id": "heresy",
    }


def test_hub_rows_map_to_paragraph_records_with_offsets_and_sentence_marks(tmp_path):
    second = HERESY.find("a heretic may be tried")
    rows = [
        qg_bench_row(HERESY, "established beliefs or customs", "What is heresy at odds with?"),
        qg_bench_row(HERESY, "A heretic", "Who holds such claims?"),
        qg_bench_row(HERESY, "a heretic", "Who may be tried?", at=second),
    ]
    assert rows[0]["paragraph_sentence"].startswith("<hl> Heresy is any belief")
    assert "customs . <hl> A heretic holds" in rows[0]["paragraph_sentence"]
    write_qg_bench({"train": rows}, tmp_path)
    result = read_qg_bench(tmp_path / QG_BENCH_FILES["train"], "train")
    assert not result.dropped and result.source_records == 3
    first, heretic, tried = result.records
    assert first.context == HERESY and first.article_id == "heresy"
    assert first.answer_start == HERESY.find("established")
    assert first.source["sentence"] == HERESY[: HERESY.find("  ")]  # the paragraph's own text
    assert heretic.answer_start == HERESY.find("A heretic")
    assert heretic.source["sentence"] == "A heretic holds such claims."
    assert tried.answer_start == second  # the occurrence highlighted, not the first
    assert tried.source["sentence"] == "A heretic may be shunned, and a heretic may be tried."
    assert re.sub(r"\s+", " ", highlight_answer(first)) == rows[0]["paragraph_answer"]
    assert [r.id for r in result.records] == ["qg_squad-train-0", "qg_squad-train-1",
                                              "qg_squad-train-2"]  # fmt: skip


def test_a_sentence_tokenised_with_ptb_quotes_and_brackets_is_still_placed(tmp_path):
    paragraph = 'The sign said "keep out" (twice).  Nobody did.'
    row = qg_bench_row(paragraph, "keep out", "What did the sign say?")
    row["paragraph_sentence"] = (
        "<hl> The sign said `` keep out '' -LRB- twice -RRB- . <hl> Nobody did."
    )
    write_qg_bench({"test": [row]}, tmp_path)
    (record,) = read_qg_bench(tmp_path / QG_BENCH_FILES["test"], "test").records
    assert record.source["sentence"] == 'The sign said "keep out" (twice).'
    assert highlight_sentence(record) == (
        '<hl> The sign said "keep out" (twice). <hl>  Nobody did.'
    )


def test_hub_rows_that_fail_are_counted_or_named(tmp_path):
    good = qg_bench_row(HERESY, "A heretic", "Who holds such claims?")
    missing_answer = {**good, "answer": "a bishop"}
    elsewhere = {**good, "answer": "customs"}  # in the paragraph, not where highlighted
    no_sentence = {**good, "paragraph_sentence": "<hl> something else entirely <hl>"}
    write_qg_bench({"dev": [good, missing_answer, elsewhere, no_sentence]}, tmp_path)
    path = tmp_path / QG_BENCH_FILES["dev"]
    result = read_qg_bench(path, "val")
    assert result.dropped == {"answer_not_in_context": 1, "answer_not_at_highlight": 1}
    assert result.source_records == len(result.records) + sum(result.dropped.values()) == 4
    kept_unmarked = result.records[1]
    assert sentence_span(kept_unmarked) is None  # kept, for preparation to find its sentence
    # ... which marks it with the segmenter's sentence
    marked = mark_answer_sentences(result.records, Counter())
    assert marked[1].source["sentence"] == "A heretic holds such claims."

    lines = path.read_text().splitlines()
    row = json.loads(lines[0])
    del row["paragraph_answer"]
    path.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    with pytest.raises(DataFormatError) as error:
        read_qg_bench(path, "val")
    message = str(error.value)
    assert "validation.jsonl" in message and "qg_squad-dev-0" in message
    assert "'paragraph_answer'" in message and "\n" not in message


def fake_hub(asked: list):
    def load_dataset(name, **kwargs):
        asked.append((name, kwargs))
        good = qg_bench_row(HERESY, "A heretic", "Who holds such claims?")
        unplaced = {**good, "paragraph_sentence": "no highlight here"}
        return {"train": [good, unplaced], "validation": [good], "test": [good]}

    return load_dataset


def test_without_local_files_qg_squad_is_read_from_lmqg_s_rows(monkeypatch, isolated_cache):
    import datasets

    asked: list = []
    monkeypatch.setattr(datasets, "load_dataset", fake_hub(asked))
    prepared = prepare("qg_squad", None, DU2017)
    assert asked == [("lmqg/qg_squad", {"revision": "refs/convert/parquet"})]
    assert {s: len(rs) for s, rs in prepared.splits.items()} == {"train": 2, "val": 1, "test": 1}
    assert prepared.repaired == {"sentence_from_segmenter": 1}
    assert [r.id for r in prepared.splits["train"]] == ["qg_squad-train-0", "qg_squad-train-1"]
    for records in prepared.splits.values():
        for record in records:
            assert highlight_sentence(record) == (
                "Heresy is any belief at variance with established beliefs or customs.  "
                "<hl> A heretic holds such claims. <hl> A heretic may be shunned, and a "
                "heretic may be tried."
            )


def test_a_failed_download_says_what_failed_and_names_the_local_files(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no route to the hub\nsecond line")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataNotFoundError) as error:
        prepare("qg_squad", None, DU2017)
    message = str(error.value)
    assert "\n" not in message
    assert "'lmqg/qg_squad'" in message and "no route to the hub" in message
    assert "--path" in message and "train-v1.1.json, dev-v1.1.json" in message
    assert "jsonl" not in message  # files only the hub copy writes are not asked for
