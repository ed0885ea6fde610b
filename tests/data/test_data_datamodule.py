"""Tokenizer round trips, features and batches from the QAPDataModule."""

from __future__ import annotations

import pytest
import torch

from qapgen.data.datamodule import QAPDataModule
from qapgen.data.features import (
    ANSWER_SPAN,
    ANSWER_TARGET,
    CONTEXT_INPUT,
    DEFAULT_FEATURES,
    IGNORE_INDEX,
    QUESTION_TARGET,
    TextFeature,
)
from qapgen.data.tokenizer import load_tokenizer, start_token_ids


def test_trained_tokenizer_round_trip_and_t5_layout(fixture_tokenizer, tmp_path):
    tok = fixture_tokenizer
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    text = "The town is known for its blue stone houses."
    ids = tok(text).input_ids
    assert ids[-1] == tok.eos_token_id  # </s> appended
    assert tok.decode(ids, skip_special_tokens=True) == text
    answer_start, question_start = start_token_ids(tok)
    assert answer_start != question_start
    assert tok.convert_ids_to_tokens([answer_start, question_start]) == [
        "<extra_id_0>",
        "<extra_id_1>",
    ]
    tok.save_pretrained(tmp_path / "saved")
    reloaded = load_tokenizer(str(tmp_path / "saved"))
    assert reloaded(text).input_ids == ids


def test_missing_tokenizer_names_the_local_and_train_options():
    with pytest.raises(OSError, match="data.tokenizer: train"):
        load_tokenizer("no-such-org/no-such-tokenizer")


def make_module(features=None, **kwargs) -> QAPDataModule:
    defaults = dict(
        dataset="squad",
        path="fixtures",
        tokenizer="train",
        tokenizer_vocab_size=600,
        batch_size=4,
        eval_batch_size=8,
    )
    module = QAPDataModule(**{**defaults, **kwargs}, features=features)
    module.prepare_data()
    module.setup("fit")
    return module


def test_batches_hold_padded_inputs_targets_and_raw_text():
    module = make_module(DEFAULT_FEATURES + (ANSWER_SPAN,))
    batch = next(iter(module.train_dataloader()))
    tok = module.tokenizer
    assert batch["input_ids"].shape == batch["input_attention_mask"].shape
    for row in range(len(batch["ids"])):
        length = int(batch["input_attention_mask"][row].sum())
        assert (batch["input_ids"][row, length:] == tok.pad_token_id).all()
        assert batch["input_ids"][row, length - 1] == tok.eos_token_id
        assert (
            tok.decode(batch["input_ids"][row, :length], skip_special_tokens=True)
            == batch["contexts"][row]
        )
        labels = batch["answer_labels"][row]
        answer = labels[labels != IGNORE_INDEX]
        assert answer[-1] == tok.eos_token_id
        assert tok.decode(answer, skip_special_tokens=True) == batch["answers"][row]
        start = batch["answer_start_positions"][row]
        end = batch["answer_end_positions"][row]
        assert batch["answer_is_span"][row]
        span_text = tok.decode(batch["input_ids"][row, start : end + 1], skip_special_tokens=True)
        assert span_text.strip() == batch["answers"][row]


def test_only_the_declared_features_are_built():
    module = make_module((CONTEXT_INPUT, QUESTION_TARGET))
    batch = next(iter(module.train_dataloader()))
    assert "question_labels" in batch and "answer_labels" not in batch
    assert "answer_start_positions" not in batch


def test_model_declares_its_features_through_the_trainer():
    class Declaring:
        data_features = (CONTEXT_INPUT, ANSWER_TARGET)

    module = QAPDataModule(
        dataset="squad", path="fixtures", tokenizer="train", tokenizer_vocab_size=600
    )

    class FakeTrainer:
        lightning_module = Declaring()

    module.trainer = FakeTrainer()
    assert module.features() == (CONTEXT_INPUT, ANSWER_TARGET)


def test_prompt_templates_for_pipeline_baselines():
    prompt = TextFeature("qg", "generate question: answer: {answer} context: {context}", "input")
    module = make_module((prompt, QUESTION_TARGET))
    batch = next(iter(module.train_dataloader()))
    decoded = module.tokenizer.decode(batch["qg_ids"][0], skip_special_tokens=True)
    assert (
        decoded
        == f"generate question: answer: {batch['answers'][0]} context: {batch['contexts'][0]}"
    )


def test_coqa_free_form_answers_get_the_stated_span_rule():
    module = make_module(DEFAULT_FEATURES + (ANSWER_SPAN,), dataset="coqa")
    seen_span = seen_free = False
    for batch in module.train_dataloader():
        for row, is_span in enumerate(batch["answer_is_span"].tolist()):
            if is_span:
                seen_span = True
            else:
                seen_free = True
                assert batch["answer_start_positions"][row] == IGNORE_INDEX
                assert batch["answer_end_positions"][row] == IGNORE_INDEX
    assert seen_span and seen_free
    assert module.report["train"]["answer_not_a_span"] > 0


def test_truncation_is_counted():
    module = make_module(DEFAULT_FEATURES, max_source_length=8)
    assert module.report["train"]["truncated/input"] > 0
    batch = next(iter(module.train_dataloader()))
    assert batch["input_ids"].shape[1] <= 8


def test_same_seed_same_order_other_seed_other_order():
    def order(seed):
        module = make_module(DEFAULT_FEATURES, seed=seed)
        return [i for b in module.train_dataloader() for i in b["ids"]]

    assert order(0) == order(0)
    assert order(0) != order(1)
    assert sorted(order(0)) == sorted(order(1))


def test_eval_loader_is_sorted_longest_first_and_complete():
    module = make_module(DEFAULT_FEATURES)
    ids, widths = [], []
    for batch in module.val_dataloader():
        ids += batch["ids"]
        widths.append(batch["input_ids"].shape[1])
    assert sorted(ids) == sorted(r.id for r in module.prepared.splits["val"])
    assert widths == sorted(widths, reverse=True)


def test_overfit_settings_use_the_training_records_everywhere():
    module = make_module(DEFAULT_FEATURES, limit_examples=16, val_split="train", test_split="train")
    ids = lambda loader: sorted(i for b in loader for i in b["ids"])  # noqa: E731
    assert len(ids(module.train_dataloader())) == 16
    assert ids(module.test_dataloader()) == ids(module.train_dataloader())


def test_workers_give_the_same_batches():
    def first(workers):
        module = make_module(DEFAULT_FEATURES, num_workers=workers)
        return next(iter(module.train_dataloader()))["input_ids"]

    assert torch.equal(first(0), first(2))


def test_tokenizer_training_is_deterministic(tmp_path):
    from qapgen.data.tokenizer import train_tokenizer

    texts = [
        "The town is known for its blue stone houses.",
        "Who founded Lampwick Harbour in 1702?",
        "A single worker could operate the loom.",
    ] * 20
    first = train_tokenizer(texts, 120, tmp_path / "a")
    second = train_tokenizer(texts, 120, tmp_path / "b")
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (
        tmp_path / "b" / "tokenizer.json"
    ).read_bytes()
    assert first.get_vocab() == second.get_vocab()
    assert first.unk_token_id == 2
