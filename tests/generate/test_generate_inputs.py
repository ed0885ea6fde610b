"""Property-based tests of the readers, the segmentation into sentences, and generate's
input handling: any input either yields sentences of its own text or fails with InputError."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qapgen.data.segment import text_windows
from qapgen.data.tokenizer import start_token_ids
from qapgen.export import LoadedModel
from qapgen.generate import Document, InputError, QAPGenerator, read_documents
from qapgen.generate.readers import ReadReport, decode_text, parse_jsonl
from qapgen.generate.sentences import SegmentReport, iter_sentences
from qapgen.models.base import QAPModule, Vocabulary

PROPERTY = settings(max_examples=60, deadline=None)
words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=200,
)


@PROPERTY
@given(words)
def test_utf8_text_decodes_to_itself(text):
    data = text.encode("utf-8")
    if not data:
        with pytest.raises(InputError, match="empty"):
            decode_text(data, "x", ReadReport())
        return
    report = ReadReport()
    assert decode_text(data, "x", report) == text.removeprefix("\ufeff")
    assert report.undecodable_bytes == 0


@PROPERTY
@given(st.binary(max_size=400))
def test_any_bytes_decode_or_fail_with_input_error(data):
    report = ReadReport()
    try:
        text = decode_text(data, "x", report)
    except InputError as error:
        assert str(error).startswith("x: ") and "\n" not in str(error)
        return
    assert "\x00" not in text[:8192]
    assert report.undecodable_bytes <= max(1, 0.1 * len(data))


@PROPERTY
@given(st.binary(max_size=100), st.binary(max_size=100))
def test_a_nul_byte_means_binary(before, after):
    with pytest.raises(InputError, match="binary"):
        decode_text(before + b"\x00" + after, "x", ReadReport())


@PROPERTY
@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=10)), words), max_size=8))
def test_jsonl_documents_round_trip(rows):
    lines = [json.dumps({"text": t} if i is None else {"id": i, "text": t}) for i, t in rows]
    documents = list(parse_jsonl("\n".join(lines), "x.jsonl"))
    assert [d.text for d in documents] == [t for _, t in rows]
    for number, ((key, _), document) in enumerate(zip(rows, documents, strict=True), start=1):
        assert document.id == (key if key is not None else f"line-{number}")


@PROPERTY
@given(st.text(max_size=60))
def test_bad_jsonl_lines_fail_with_the_line_number(line):
    try:
        row = json.loads(line)
    except ValueError:
        row = None
    if isinstance(row, dict) and isinstance(row.get("text", row.get("context")), str):
        return
    if not line.strip():
        return
    with pytest.raises(InputError, match=r"x.jsonl, line 2"):
        list(parse_jsonl('{"text": "ok"}\n' + line.replace("\n", " "), "x.jsonl"))


@PROPERTY
@given(st.text(max_size=300), st.integers(min_value=5, max_value=50))
def test_windows_cover_the_line_within_the_limit(line, size):
    line = line.replace("\n", " ")  # a document line holds no line break
    pieces = [line[start:end] for start, end in text_windows(line, size)]
    assert "".join(pieces) == line
    assert all(len(piece) <= size for piece in pieces)


sentence_text = st.lists(
    st.one_of(
        st.sampled_from(["Paris is big.", "Is it?", "Yes!", "Dr. Smith came.", "", "  "]),
        st.text(alphabet="abc .?!\n\t", max_size=30),
    ),
    max_size=8,
).map(" ".join)


@PROPERTY
@given(sentence_text)
def test_sentences_are_trimmed_pieces_of_their_document_in_order(text):
    report = SegmentReport()
    sentences = list(iter_sentences([Document("d", text)], report, max_line_chars=40))
    assert [s.index for s in sentences] == list(range(len(sentences)))
    assert report.sentences == len(sentences)
    squeezed = "".join(text.split())
    position = 0
    for sentence in sentences:
        assert sentence.text and sentence.text == sentence.text.strip()
        piece = "".join(sentence.text.split())
        found = squeezed.find(piece, position)
        assert found >= 0, (sentence.text, text)
        position = found + len(piece)


class FirstWordModel(QAPModule):
    """A stand-in pair model: answers with the sentence's first word, asks a fixed question."""

    def build(self, vocab: Vocabulary) -> None:
        pass

    def generate_batch(self, batch):
        answers = [c.split()[0] if c.split() else "" for c in batch["contexts"]]
        return {"answer": answers, "question": ["what is it ?"] * len(answers)}


@pytest.fixture(scope="module")
def first_word_generator(fixture_tokenizer):
    answer_start, question_start = start_token_ids(fixture_tokenizer)
    vocab = Vocabulary(len(fixture_tokenizer), 0, 1, answer_start, question_start)
    model = FirstWordModel(meteor="none", vocab=asdict(vocab))
    model.configure_model()
    return QAPGenerator(LoadedModel(model, fixture_tokenizer, "stand-in", 16), batch_size=3)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(sentence_text, max_size=4))
def test_generate_handles_any_texts(first_word_generator, texts):
    pairs = first_word_generator.generate(texts)
    documents = {f"text-{i}": t for i, t in enumerate(texts)}
    for pair in pairs:
        assert pair.sentence.split()[0] == pair.answer
        assert "".join(pair.sentence.split()) in "".join(documents[pair.document].split())
    keys = [(p.document, p.sentence_index) for p in pairs]
    assert keys == sorted(keys, key=lambda k: (int(k[0].split("-")[1]), k[1]))


@PROPERTY
@given(st.binary(max_size=200))
def test_read_documents_from_a_file_yields_text_or_fails_with_input_error(tmp_path_factory, data):
    path: Path = tmp_path_factory.mktemp("input") / "input.txt"
    path.write_bytes(data)
    try:
        documents = list(read_documents(path))
    except InputError as error:
        assert "\n" not in str(error) and str(path) in str(error)
        return
    assert len(documents) == 1 and documents[0].text.strip()


def test_a_huge_line_is_windowed_at_sentence_ends_without_losing_sentences():
    sentences = [f"Sentence number {i} is here." for i in range(30)]
    text = "Title line\n" + " ".join(sentences) + "\nLast line."
    report = SegmentReport()
    found = [s.text for s in iter_sentences([Document("d", text)], report, max_line_chars=100)]
    assert found == ["Title line", *sentences, "Last line."]
    assert report.windowed_lines == 1
