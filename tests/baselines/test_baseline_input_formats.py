"""Input formats as data features: QG-Bench's answer highlighting and task prefixes for the
T5 baselines (``source_template``), ``<sep>`` end-to-end targets (T5-E2E's ``separator``),
and the ``<hl>`` / ``<sep>`` tokens the DataModule adds for them."""

from __future__ import annotations

import copy

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from baselines.t5_e2e import T5E2EModule, split_pair
from baselines.t5_qa import T5QAModule
from baselines.t5_qg import T5QGModule
from qapgen.data.datamodule import QAPDataModule, fixture_path
from qapgen.data.features import encode_features, format_tokens
from qapgen.data.highlight import highlight_answer
from qapgen.data.prepare import prepare
from qapgen.data.tokenizer import add_missing_tokens
from qapgen.export import export_model, load_model
from zoo_testing import FIXTURE_LIMITS, fit_briefly, fixture_batch, fixture_records, tiny_model

QG_BENCH = "generate question: {context_hl}"


def with_format_tokens(tokenizer, features):
    """A copy of the session's tokenizer with the tokens ``features`` write (as the
    DataModule adds them), so that other tests keep the original."""
    tokenizer = copy.deepcopy(tokenizer)
    add_missing_tokens(tokenizer, format_tokens(features))
    return tokenizer


def test_the_datamodule_adds_the_format_tokens_a_model_writes(fixture_tokenizer):
    features = T5QGModule(source_template=QG_BENCH, backbone_size="tiny").data_features
    data = QAPDataModule(
        dataset="squad", path="fixtures", tokenizer="train", tokenizer_vocab_size=600,
        limit_examples=4, features=features,
    )  # fmt: skip
    data.prepare_data()
    size = len(data.tokenizer)
    data.setup("fit")

    assert data.added_tokens == ["<hl>"]
    assert len(data.tokenizer) == size + 1
    hl = data.tokenizer.convert_tokens_to_ids("<hl>")
    batch = next(iter(data.train_dataloader()))
    assert all(row.tolist().count(hl) == 2 for row in batch["input_ids"])

    plain = QAPDataModule(
        dataset="squad", path="fixtures", tokenizer="train", tokenizer_vocab_size=600,
        limit_examples=4,
    )  # fmt: skip
    plain.setup("fit")
    assert plain.added_tokens == [] and "<hl>" not in plain.tokenizer.get_vocab()


def test_missing_tokens_are_added_after_every_existing_id(tmp_path):
    vocabulary = {"<pad>": 0, "</s>": 1, "<unk>": 2, "a": 3}
    bare = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    bare.pre_tokenizer = pre_tokenizers.Whitespace()
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=bare, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )

    assert add_missing_tokens(wrapped, ["<sep>", "<hl>", "<sep>"]) == ["<sep>", "<hl>"]
    assert wrapped.convert_tokens_to_ids(["<sep>", "<hl>"]) == [4, 5]
    assert add_missing_tokens(wrapped, ["<hl>"]) == []
    assert wrapped("a <hl> a", add_special_tokens=False)["input_ids"] == [3, 5, 3]


def test_t5_qg_reads_qg_bench_inputs_with_the_answer_highlighted(fixture_tokenizer):
    features = T5QGModule(source_template=QG_BENCH, backbone_size="tiny").data_features
    tokenizer = with_format_tokens(fixture_tokenizer, features)
    model = tiny_model(T5QGModule, tokenizer, source_template=QG_BENCH)
    record = fixture_records(1)[0]
    batch = fixture_batch(tokenizer, model.data_features, [record])

    text = tokenizer.decode(batch["input_ids"][0], skip_special_tokens=False)
    # By hand: the fixture's sentence with its answer "northern coast" between <hl> tokens.
    assert highlight_answer(record) == (
        "Lampwick Harbour is a small fishing town on the <hl> northern coast <hl> of the Grey Sound."
    )
    assert (
        text.replace("</s>", "").split() == f"generate question: {highlight_answer(record)}".split()
    )
    hl = tokenizer.convert_tokens_to_ids("<hl>")
    assert batch["input_ids"][0].tolist().count(hl) == 2
    assert model.hparams.source_template == QG_BENCH
    assert model.generate_batch(batch)["question"][0] is not None


@pytest.mark.parametrize(
    ("model_class", "template", "field"),
    [
        (T5QGModule, "generate question: {context} {question}", "{question}"),
        (T5QAModule, "answer: {context_hl}", "{context_hl}"),
        (T5E2EModule, "{context} {answer}", "{answer}"),
    ],
)
def test_a_template_that_shows_the_target_is_refused(model_class, template, field):
    with pytest.raises(ValueError, match=f"not {field.replace('{', '[{]')}"):
        model_class(source_template=template, backbone_size="tiny")


def test_t5_qa_takes_a_reading_comprehension_prompt(fixture_tokenizer):
    model = tiny_model(
        T5QAModule, fixture_tokenizer, source_template="question: {question} context: {context}"
    )
    record = fixture_records(1)[0]
    batch = fixture_batch(fixture_tokenizer, model.data_features, [record])
    text = fixture_tokenizer.decode(batch["input_ids"][0], skip_special_tokens=True)
    assert " ".join(text.split()) == f"question: {record.question} context: {record.context}"


def test_t5_e2e_with_sep_writes_and_splits_its_pairs_at_sep(fixture_tokenizer):
    settings = {"separator": "<sep>", "source_template": "generate question and answer: {context}"}
    features = T5E2EModule(**settings, backbone_size="tiny").data_features
    tokenizer = with_format_tokens(fixture_tokenizer, features)
    model = tiny_model(T5E2EModule, tokenizer, **settings)
    record = fixture_records(1)[0]
    batch = fixture_batch(tokenizer, model.data_features, [record])
    labels = [t for t in batch["pair_labels"][0].tolist() if t >= 0]
    sep = tokenizer.convert_tokens_to_ids("<sep>")
    assert labels.count(sep) == 1
    answer_ids, question_ids = split_pair(labels, sep)
    assert tokenizer.decode(answer_ids, skip_special_tokens=True).strip() == record.answer
    assert tokenizer.decode(question_ids, skip_special_tokens=True).strip() == record.question
    assert set(model.generate_batch(batch)) == {"answer", "question"}
    with pytest.raises(ValueError, match="separator must be one of"):
        T5E2EModule(separator="|", backbone_size="tiny")


def test_answers_that_cannot_be_highlighted_are_counted(fixture_tokenizer):
    records = prepare("coqa", fixture_path("coqa")).splits["train"][:40]
    model = T5QGModule(source_template=QG_BENCH, backbone_size="tiny")
    _, counters = encode_features(records, model.data_features, fixture_tokenizer, FIXTURE_LIMITS)
    expected = sum(highlight_answer(record) is None for record in records)
    assert counters["unhighlighted/input"] == expected > 0


def test_a_checkpoint_trained_in_a_format_reloads_its_tokenizer_with_the_added_tokens(tmp_path):
    # Quoted: jsonargparse reads a bare "a: {b}" as a YAML mapping.
    checkpoint = fit_briefly(
        tmp_path / "run", "t5_qg", "--model.init_args.source_template", f'"{QG_BENCH}"', epochs=1
    )

    loaded = load_model(checkpoint)
    assert loaded.model.vocab.added_tokens == ("<hl>",)
    assert len(loaded.tokenizer) == loaded.model.vocab.size
    exported = load_model(export_model(checkpoint, tmp_path / "export"))
    hl = loaded.tokenizer.convert_tokens_to_ids("<hl>")
    assert exported.tokenizer.convert_tokens_to_ids("<hl>") == hl
    assert len(exported.tokenizer) == exported.model.vocab.size
