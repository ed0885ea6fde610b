"""Tokenizer round trips, features and batches from the QAPDataModule."""

from __future__ import annotations

import pytest
import torch

from qapgen.data import datamodule
from qapgen.data.datamodule import LoaderSettings, QAPDataModule, loader_settings
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
        assert start != IGNORE_INDEX and end >= start
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
        starts = batch["answer_start_positions"].tolist()
        ends = batch["answer_end_positions"].tolist()
        for start, end in zip(starts, ends, strict=True):
            # A free-form answer has neither position; a span has both.
            assert (start == IGNORE_INDEX) == (end == IGNORE_INDEX)
            seen_span |= start != IGNORE_INDEX
            seen_free |= start == IGNORE_INDEX
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


@pytest.mark.parametrize(
    ("cpus", "processes", "workers"),
    [(16, 1, 4), (4, 1, 3), (2, 1, 1), (1, 1, 0), (16, 8, 1), (64, 8, 4)],
)
def test_auto_workers_on_cuda_leave_a_core_to_each_training_process(cpus, processes, workers):
    settings = loader_settings("auto", on_cuda=True, processes_per_node=processes, cpus=cpus)
    assert settings == LoaderSettings(num_workers=workers, pin_memory=True)
    assert settings.persistent_workers is (workers > 0)


def test_auto_loads_in_the_main_process_off_cuda():
    settings = loader_settings("auto", on_cuda=False, cpus=64)
    assert settings == LoaderSettings(num_workers=0, pin_memory=False)
    assert not settings.persistent_workers


def test_explicit_workers_are_kept_and_pinning_follows_cuda():
    assert loader_settings(2, on_cuda=False) == LoaderSettings(2, pin_memory=False)
    assert loader_settings(0, on_cuda=True) == LoaderSettings(0, pin_memory=True)
    for bad in (-1, "four", True):
        with pytest.raises(ValueError, match="data.num_workers"):
            loader_settings(bad, on_cuda=False)
    with pytest.raises(ValueError, match="data.num_workers"):
        QAPDataModule(num_workers="many")


def test_default_loaders_on_cpu_have_no_workers_and_no_pinned_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    module = make_module(DEFAULT_FEATURES)
    assert module.hparams.num_workers == "auto"
    for loader in (module.train_dataloader(), module.val_dataloader()):
        assert loader.num_workers == 0
        assert not loader.pin_memory and not loader.persistent_workers


def test_auto_without_a_trainer_follows_cuda_availability(monkeypatch):
    # Resolution only: no loader is built, so CUDA is never touched.
    module = QAPDataModule(dataset="squad", path="fixtures")
    monkeypatch.setattr(datamodule, "available_cpus", lambda: 8)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert module.loader_settings() == LoaderSettings(num_workers=4, pin_memory=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert module.loader_settings() == LoaderSettings(num_workers=0, pin_memory=False)


def test_an_attached_cpu_trainer_decides_over_cuda_availability(monkeypatch):
    import lightning as L

    module = QAPDataModule(dataset="squad", path="fixtures")
    module.trainer = L.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert module.loader_settings() == LoaderSettings(num_workers=0, pin_memory=False)


@pytest.mark.parametrize(("given", "parsed"), [("auto", "auto"), ("4", 4), ("0", 0)])
def test_the_cli_takes_auto_or_a_count_of_workers(given, parsed):
    from lightning.pytorch.cli import LightningArgumentParser

    parser = LightningArgumentParser()
    parser.add_lightning_class_args(QAPDataModule, "data")
    assert parser.parse_args(["--data.num_workers", given]).data.num_workers == parsed


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
