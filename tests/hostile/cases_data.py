"""Hostile cases for `qapgen data stats`: unreadable and malformed source files, values that
Python's types accept but the formats do not, ids shared across files, impossible splits,
over-long lines, and damaged prepared-data caches."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from hostile.corpus import Case
from hostile.faults import disk_full_at_parquet_write

from qapgen.data.fixtures import fixture_path
from qapgen.data.prepare import load_prepared, prepare

STATS = ("data", "stats", "--dataset")
CONTEXT = "The red door opened at noon. A bell rang."

UNREADABLE = "`data stats` and `evaluate`: JSON nested 100,000 deep raises RecursionError"
ENCODING = "non-UTF-8 and Windows-1252 files -> one line naming the file (and offset/line)"
SILENT = "silent acceptances in the data readers"
TRACEBACK = "tracebacks instead of one line"


def squad_qa(qid: str = "q1", question: str = "What opened?", start: object = 4) -> dict:
    return {"id": qid, "question": question, "answers": [{"text": "red", "answer_start": start}]}


def squad(*qas: dict, context: str = CONTEXT) -> str:
    paragraph = {"context": context, "qas": list(qas or [squad_qa()])}
    document = {"version": "1.1", "data": [{"title": "T", "paragraphs": [paragraph]}]}
    return json.dumps(document, ensure_ascii=False)


def mrqa(*qas: dict) -> str:
    lines = [{"header": {"dataset": "NewsQA", "split": "train"}}]
    lines.append({"id": "c1", "context": CONTEXT, "qas": list(qas)})
    return "".join(json.dumps(line) + "\n" for line in lines)


def mrqa_qa(qid: str = "m1", span: list = (4, 6)) -> dict:
    answer = {"text": "red", "char_spans": [list(span)]}
    return {"qid": qid, "question": "What opened?", "detected_answers": [answer]}


def newsqa(**consensus) -> str:
    question = {"q": "What opened?", "consensus": consensus or {"s": 4, "e": 7}}
    story = {"storyId": "s1", "type": "train", "text": CONTEXT, "questions": [question]}
    return json.dumps({"version": "1", "data": [story]})


def coqa(answers: list[dict] | None = None) -> str:
    answers = answers or [{"input_text": "red", "span_start": 4, "span_end": 7, "turn_id": 1}]
    story = {
        "id": "st",
        "story": CONTEXT,
        "questions": [{"input_text": "What opened?", "turn_id": 1}],
        "answers": answers,
    }
    return json.dumps({"version": "1.0", "data": [story]})


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def gzipped(text: str):
    def write(path: Path) -> None:
        path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))

    return write


def long_line_squad(size: int):
    """A SQuAD dev file whose one paragraph is a single line of ``size`` characters."""
    sentences = [f"Sentence {n} tells of door {n % 7}." for n in range(size // 28 + 1)]
    context = " ".join(sentences)
    answer_at = context.index("door 3")
    qa = {
        "id": "long",
        "question": "Which door?",
        "answers": [{"text": "door 3", "answer_start": answer_at}],
    }
    return squad(qa, context=context)


def corrupted_cache(damage):
    """A prepared-data cache of the SQuAD fixtures (as `--path fixtures` keys it), damaged."""

    def write(path: Path) -> None:
        prepare("squad", fixture_path("squad"), cache_dir=path)
        (entry,) = (path / "prepared").iterdir()
        damage(entry)

    return write


def truncate_train(entry: Path) -> None:
    parquet = entry / "train.parquet"
    parquet.write_bytes(parquet.read_bytes()[:100])


def keep_ten_rows(entry: Path) -> None:
    """A valid parquet file that holds only the first ten of the split's rows."""
    import pyarrow.parquet as pq

    parquet = entry / "train.parquet"
    pq.write_table(pq.read_table(parquet).slice(0, 10), parquet)


def _no_cache_entry(folder: Path) -> None:
    prepared = folder / "cache" / "prepared"
    assert not prepared.exists() or not list(prepared.iterdir()), list(prepared.iterdir())


def check_cache_rebuilt(folder: Path, out: str, err: str) -> None:
    (entry,) = (folder / "cache" / "prepared").iterdir()
    assert load_prepared(entry).splits["train"]


def binary(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 8)


def directory(path: Path) -> None:
    path.mkdir()


def link_loop(path: Path) -> None:
    path.symlink_to(path.name)


REBUILT = r"qapgen: warning: prepared-data cache entry \S+ is corrupt \({why}\); rebuilding it"


def cases() -> list[Case]:
    squad_stats = (*STATS, "squad", "--path", ".")
    return [
        Case(
            "data/deep-json",
            squad_stats,
            {"train-v1.1.json": nested(100_000)},
            message=r"train-v1\.1\.json: not readable JSON: nested deeper than \d+ levels",
            issue=UNREADABLE,
        ),
        Case(
            "data/deep-json-line",
            (*STATS, "newsqa", "--path", "."),
            {"train/NewsQA.jsonl": mrqa(mrqa_qa()) + nested(100_000) + "\n"},
            message=r"NewsQA\.jsonl: line 3: not readable JSON: nested deeper",
            issue=UNREADABLE,
        ),
        Case(
            "data/latin-1",
            squad_stats,
            {"train-v1.1.json": squad(context="Café doors open at noon.").encode("latin-1")},
            message=r"train-v1\.1\.json: not UTF-8: byte 0xe9 at offset \d+ \(line 1\)",
            unchanged=("train-v1.1.json",),
            issue=ENCODING,
        ),
        Case(
            "data/windows-1252",
            squad_stats,
            {
                "train-v1.1.json": squad(context="\u201cRed\u201d doors \u2013 at noon.").encode(
                    "cp1252"
                )
            },
            message=r"not UTF-8: byte 0x93 at offset \d+ \(line 1\), the file looks like Windows-1252",
            issue=ENCODING,
        ),
        Case(
            "data/utf-16",
            squad_stats,
            {"train-v1.1.json": squad().encode("utf-16")},
            message=r"not UTF-8: byte 0xff at offset 0 \(line 1\), the file looks like UTF-16",
            issue=ENCODING,
        ),
        Case(
            "data/utf-8-with-byte-order-mark",
            squad_stats,
            {"dev-v1.1.json": b"\xef\xbb\xbf" + squad().encode("utf-8")},
            exit_code=0,
            reports=(r"kept 1 of 1 source QA pairs",),
            issue=ENCODING,
        ),
        Case(
            "data/binary-file",
            squad_stats,
            {"train-v1.1.json": binary},
            message=r"train-v1\.1\.json: not UTF-8: byte 0x80 .*the file looks binary",
            issue=TRACEBACK,
        ),
        Case(
            "data/empty-file",
            squad_stats,
            {"train-v1.1.json": ""},
            message=r"train-v1\.1\.json: the file is empty",
            issue=TRACEBACK,
        ),
        Case(
            "data/truncated-json",
            squad_stats,
            {"train-v1.1.json": squad()[:40]},
            message=r"train-v1\.1\.json: not valid JSON .* line 1 column \d+\); the file may be truncated",
            issue=TRACEBACK,
        ),
        Case(
            "data/number-too-long",
            squad_stats,
            {
                "train-v1.1.json": squad(squad_qa(start=0)).replace(
                    '"answer_start": 0', '"answer_start": ' + "9" * 5000
                )
            },
            message=r"train-v1\.1\.json: not readable JSON \(Exceeds the limit",
            issue=TRACEBACK,
        ),
        Case(
            "data/wrong-top-level-type",
            squad_stats,
            {"train-v1.1.json": json.dumps([1, 2])},
            message=r"record <top level>: expected an object, got list",
            issue=TRACEBACK,
        ),
        Case(
            "data/missing-field",
            squad_stats,
            {"train-v1.1.json": squad({"id": "q1", "answers": []})},
            message=r"record q1, field 'question': missing field",
            issue=TRACEBACK,
        ),
        Case(
            "data/null-context",
            squad_stats,
            {"train-v1.1.json": squad().replace(json.dumps(CONTEXT), "null")},
            message=r"record data\[0\]\.paragraphs\[0\], field 'context': expected str, got null",
            issue=TRACEBACK,
        ),
        Case(
            "data/empty-data-list",
            squad_stats,
            {"train-v1.1.json": json.dumps({"version": "1.1", "data": []})},
            message=r"train-v1\.1\.json, record <top level>, field 'data': holds no articles",
            issue=f'{SILENT}: `"data": []` (no articles/records at all) exits 0',
        ),
        Case(
            "data/coqa-empty-data-list",
            (*STATS, "coqa", "--path", "."),
            {"coqa-train-v1.0.json": json.dumps({"data": []})},
            message=r"field 'data': holds no stories",
            issue=f'{SILENT}: `"data": []` (no articles/records at all) exits 0',
        ),
        Case(
            "data/no-qa-pairs",
            squad_stats,
            {"train-v1.1.json": json.dumps({"data": [{"title": "T", "paragraphs": []}]})},
            message=r"train-v1\.1\.json: holds no QA pairs",
            issue=f'{SILENT}: `"data": []` (no articles/records at all) exits 0',
        ),
        Case(
            "data/blank-question-counted",
            squad_stats,
            {"dev-v1.1.json": squad(squad_qa("q1"), squad_qa("q2", question=" \t "))},
            exit_code=0,
            reports=(r"kept 1 of 2 source QA pairs", r"dropped +1 +empty_question"),
            issue=f"{SILENT}: a whitespace-only question is kept as a training target",
        ),
        Case(
            "data/newsqa-blank-question-counted",
            (*STATS, "newsqa", "--path", ".", "--format", "json"),
            {"combined-newsqa-data-v1.json": newsqa().replace('"What opened?"', '"   "')},
            exit_code=0,
            reports=(r'"empty_question": 1', r'"kept": 0'),
            issue=f"{SILENT}: a whitespace-only question is kept as a training target",
        ),
        Case(
            "data/id-in-train-and-dev",
            squad_stats,
            {
                "train-v1.1.json": squad(squad_qa("shared")),
                "dev-v1.1.json": squad(squad_qa("shared", question="Why?")),
            },
            message=r"dev-v1\.1\.json, record shared, field 'id': id also in \S*train-v1\.1\.json",
            issue=f"{SILENT}: the same QA id in train and dev is not flagged",
        ),
        Case(
            "data/duplicate-id-in-one-file",
            squad_stats,
            {"train-v1.1.json": squad(squad_qa("q1"), squad_qa("q1"))},
            message=r"record q1, field 'id': duplicate id \(first seen at",
            issue=f"{SILENT}: the same QA id in train and dev is not flagged",
        ),
        Case(
            "data/bool-answer-start",
            squad_stats,
            {"train-v1.1.json": squad(squad_qa(start=True))},
            message=r"train-v1\.1\.json, record q1, field 'answer_start': expected int, got bool",
            issue=f"{SILENT}: `answer_start: true` is read as 1",
        ),
        Case(
            "data/bool-id",
            squad_stats,
            {"train-v1.1.json": squad(squad_qa(qid=False))},
            message=r"field 'id': expected str or int, got bool",
            issue=f"{SILENT}: bools where ints are expected",
        ),
        Case(
            "data/newsqa-bool-span",
            (*STATS, "newsqa", "--path", "."),
            {"combined-newsqa-data-v1.json": newsqa(s=True, e=7)},
            message=r"record s1#0, field 'consensus\.s': expected int, got bool",
            issue=f"{SILENT}: bools where ints are expected",
        ),
        Case(
            "data/mrqa-bool-span",
            (*STATS, "newsqa", "--path", "."),
            {"train/NewsQA.jsonl": mrqa(mrqa_qa(span=[4, True]))},
            message=r"record m1, field 'detected_answers\[0\]\.char_spans\[0\]\[1\]': expected int, got bool",
            issue=f"{SILENT}: bools where ints are expected",
        ),
        Case(
            "data/coqa-bool-turn",
            (*STATS, "coqa", "--path", "."),
            {
                "coqa-train-v1.0.json": coqa(
                    [{"input_text": "red", "span_start": 4, "span_end": 7, "turn_id": True}]
                )
            },
            message=r"record st answers\[0\], field 'turn_id': expected int, got bool",
            issue=f"{SILENT}: bools where ints are expected",
        ),
        Case(
            "data/coqa-answer-without-question",
            (*STATS, "coqa", "--path", "."),
            {
                "coqa-train-v1.0.json": coqa(
                    [
                        {"input_text": "red", "span_start": 4, "span_end": 7, "turn_id": 1},
                        {"input_text": "noon", "span_start": 23, "span_end": 27, "turn_id": 2},
                    ]
                )
            },
            message=r"record st, field 'answers': answer turn 2 has no question",
            issue=f"{SILENT}: check each reader for the analogous holes",
        ),
        Case(
            "data/gzip-that-is-not",
            (*STATS, "newsqa", "--path", "."),
            {"train/NewsQA.jsonl.gz": mrqa(mrqa_qa())},
            message=r"NewsQA\.jsonl\.gz: not a readable gzip file",
            issue=TRACEBACK,
        ),
        Case(
            "data/gzipped-mrqa-read",
            (*STATS, "newsqa", "--path", "."),
            {"train/NewsQA.jsonl.gz": gzipped(mrqa(mrqa_qa()))},
            exit_code=0,
            reports=(r"kept 1 of 1 source QA pairs",),
            issue=TRACEBACK,
        ),
        Case(
            "data/folder-named-like-the-file",
            (*STATS, "squad", "--path", "train-v1.1.json"),
            {"train-v1.1.json": directory},
            message=r"no squad files under train-v1\.1\.json",
            issue=TRACEBACK,
        ),
        Case(
            "data/missing-path",
            (*STATS, "squad", "--path", "nowhere"),
            message=r"nowhere does not exist",
            issue=TRACEBACK,
        ),
        Case(
            "data/link-loop",
            (*STATS, "squad", "--path", "loop"),
            {"loop": link_loop},
            message=r"loop does not exist",
            issue=TRACEBACK,
        ),
        Case(
            "data/unofficial-file-name",
            (*STATS, "squad", "--path", "my-squad.json"),
            {"my-squad.json": squad()},
            message=r"my-squad\.json: not an official squad file name",
            issue=TRACEBACK,
        ),
        Case(
            "data/article-split-too-large",
            (*STATS, "squad", "--path", "fixtures", "--article-split", "100,5,5"),
            message=r"article_split \(100, 5, 5\) asks for 110 articles; the prepared data has \d+$",
            issue="`data stats --article-split 100,5,5` (more articles than the data has)",
        ),
        Case(
            "data/article-split-malformed",
            (*STATS, "squad", "--path", "fixtures", "--article-split", "38,five,5"),
            exit_code=2,
            message=r"--article-split: wants TRAIN,VAL,TEST article counts .* got '38,five,5'",
            issue="`data stats --article-split` malformed values -> one line",
        ),
        Case(
            "data/article-split-two-counts",
            (*STATS, "squad", "--path", "fixtures", "--article-split", "38,5"),
            exit_code=2,
            message=r"--article-split: wants TRAIN,VAL,TEST article counts",
            issue="`data stats --article-split` malformed values -> one line",
        ),
        Case(
            "data/article-split-negative",
            (*STATS, "squad", "--path", "fixtures", "--article-split=-1,5,5"),
            exit_code=2,
            message=r"--article-split: wants TRAIN,VAL,TEST article counts",
            issue="`data stats --article-split` malformed values -> one line",
        ),
        Case(
            "data/split-not-offered",
            (*STATS, "newsqa", "--path", "fixtures", "--split", "du2017"),
            exit_code=2,
            message=r"split 'du2017' is not offered for newsqa",
            issue=TRACEBACK,
        ),
        Case(
            "data/path-fixtures",
            (*STATS, "coqa", "--path", "fixtures"),
            exit_code=0,
            reports=(r"Table 1 \(coqa\)", r"kept 107 of 107 source QA pairs"),
            issue="`--path fixtures` in `data stats` should select the project's fixture files",
        ),
        Case(
            "data/long-line-counted",
            squad_stats,
            {"dev-v1.1.json": long_line_squad(60_000)},
            exit_code=0,
            reports=(r"repaired +1 +contexts_windowed", r"kept 1 of 1 source QA pairs"),
            issue="sentence segmentation of a very long line is quadratic; count every windowed context",
        ),
        Case(
            "data/cache-dir-is-a-file",
            (*STATS, "squad", "--path", "fixtures", "--cache-dir", "notes.txt"),
            {"notes.txt": "my notes\n"},
            message=r"cannot write notes\.txt/prepared/\S+: Not a directory; nothing was changed",
            unchanged=("notes.txt",),
            issue="every file it writes must be atomic",
        ),
        Case(
            "data/disk-full-while-caching",
            (*STATS, "squad", "--path", "fixtures", "--cache-dir", "cache"),
            exit_code=1,
            message=r"cannot write cache/prepared/\S+: no space left on device; nothing was changed",
            fault=disk_full_at_parquet_write(),
            check=lambda folder, out, err: _no_cache_entry(folder),
            issue="every file it writes must be atomic (caches) on a full disk",
        ),
        Case(
            "data/corrupt-cache-truncated-parquet",
            (*STATS, "squad", "--path", "fixtures", "--cache-dir", "cache"),
            {"cache": corrupted_cache(truncate_train)},
            exit_code=0,
            reports=(
                REBUILT.format(why=r"train\.parquet is not a readable parquet file"),
                r"kept \d+ of \d+",
            ),
            check=check_cache_rebuilt,
            issue="a corrupt cache entry (truncated parquet, ...) is rebuilt, with ONE line on stderr",
        ),
        Case(
            "data/corrupt-cache-empty-meta",
            (*STATS, "squad", "--path", "fixtures", "--cache-dir", "cache"),
            {"cache": corrupted_cache(lambda entry: (entry / "meta.json").write_text(""))},
            exit_code=0,
            reports=(REBUILT.format(why=r"meta\.json is not valid JSON \(it is empty\)"),),
            check=check_cache_rebuilt,
            issue="a corrupt cache entry (empty or invalid meta.json, ...) is rebuilt",
        ),
        Case(
            "data/corrupt-cache-rows-missing",
            (*STATS, "squad", "--path", "fixtures", "--cache-dir", "cache"),
            {"cache": corrupted_cache(keep_ten_rows)},
            exit_code=0,
            reports=(REBUILT.format(why=r"train\.parquet holds 10 rows, meta\.json records 60"),),
            check=check_cache_rebuilt,
            issue="a valid parquet with 10 of 60 rows is used silently",
        ),
        Case(
            "data/corrupt-cache-missing-split",
            (*STATS, "squad", "--path", "fixtures", "--cache-dir", "cache"),
            {"cache": corrupted_cache(lambda entry: (entry / "val.parquet").unlink())},
            exit_code=0,
            reports=(REBUILT.format(why=r"val\.parquet is missing"),),
            check=check_cache_rebuilt,
            issue="a corrupt cache entry (a missing split file, ...) is rebuilt",
        ),
    ]
