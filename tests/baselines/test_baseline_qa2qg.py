"""QA2QG: three prompted tasks trained together; inference extracts an answer, then asks
the question from the context and that generated answer; a QA method for filtering."""

from __future__ import annotations

import pytest
import torch

from baselines.qa2qg import QA2QGModule
from qapgen.models.seq2seq import seq2seq_loss
from zoo_testing import fixture_batch, fixture_records, tiny_model


def tiny_qa2qg(tokenizer):
    return tiny_model(QA2QGModule, tokenizer, max_answer_length=6, max_question_length=6)


def spy_on_generate(model, monkeypatch):
    """Records (decoded encoder input, decoder start token) of every generate call."""
    calls = []
    generate = model.backbone.generate

    def recording_generate(**kwargs):
        texts = model.tokenizer.batch_decode(kwargs["input_ids"], skip_special_tokens=True)
        calls.append((texts, kwargs["decoder_start_token_id"]))
        return generate(**kwargs)

    monkeypatch.setattr(model.backbone, "generate", recording_generate)
    return calls


def normalised(tokenizer, texts):
    """What a text reads as after a round trip through the tokenizer."""
    return tokenizer.batch_decode(tokenizer(texts)["input_ids"], skip_special_tokens=True)


def test_the_three_prompts_are_built_from_each_record(fixture_tokenizer):
    records = fixture_records()
    batch = fixture_batch(fixture_tokenizer, QA2QGModule.data_features, records)
    expected = {
        "qg_prompt": [
            f"generate question: answer: {r.answer} context: {r.context}" for r in records
        ],
        "qa_prompt": [
            f"answer question: question: {r.question} context: {r.context}" for r in records
        ],
        "ae_prompt": [f"extract answer: context: {r.context}" for r in records],
    }
    for name, texts in expected.items():
        decoded = fixture_tokenizer.batch_decode(batch[f"{name}_ids"], skip_special_tokens=True)
        assert decoded == normalised(fixture_tokenizer, texts), name


def test_loss_sums_the_three_tasks_every_step(fixture_tokenizer):
    model = tiny_qa2qg(fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    vocab = model.vocab

    def loss(prompt, labels, start):
        ids, mask = batch[f"{prompt}_ids"], batch[f"{prompt}_attention_mask"]
        return seq2seq_loss(model.backbone, ids, mask, batch[labels], start)

    question = loss("qg_prompt", "question_labels", vocab.question_start_token_id)
    qa = loss("qa_prompt", "answer_labels", vocab.answer_start_token_id)
    extraction = loss("ae_prompt", "answer_labels", vocab.answer_start_token_id)
    losses = model.compute_losses(batch)
    torch.testing.assert_close(losses["question_loss"], question)
    torch.testing.assert_close(losses["qa_loss"], qa)
    torch.testing.assert_close(losses["answer_loss"], extraction)
    torch.testing.assert_close(losses["loss"], question + qa + extraction)
    assert not torch.isclose(qa, extraction)  # different prompts, different losses


def test_inference_extracts_an_answer_then_asks_about_that_generated_answer(
    fixture_tokenizer, monkeypatch
):
    model = tiny_qa2qg(fixture_tokenizer)
    records = fixture_records()
    batch = fixture_batch(fixture_tokenizer, model.data_features, records)
    calls = spy_on_generate(model, monkeypatch)
    outputs = model.generate_batch(batch)

    assert len(calls) == 2
    (extraction_inputs, extraction_start), (question_inputs, question_start) = calls
    contexts = [r.context for r in records]
    assert extraction_inputs == normalised(
        fixture_tokenizer, [f"extract answer: context: {c}" for c in contexts]
    )
    assert extraction_start == model.vocab.answer_start_token_id
    generated = outputs["answer"]
    assert generated != [r.answer for r in records]
    assert question_inputs == normalised(
        fixture_tokenizer,
        [
            f"generate question: answer: {a} context: {c}"
            for a, c in zip(generated, contexts, strict=True)
        ],
    )
    assert question_start == model.vocab.question_start_token_id

    corrupted = dict(batch, answers=["corrupted"] * len(records))
    assert model.generate_batch(corrupted) == outputs


def test_answer_questions_uses_the_qa_prompt(fixture_tokenizer, monkeypatch):
    model = tiny_qa2qg(fixture_tokenizer)
    calls = spy_on_generate(model, monkeypatch)
    answers = model.answer_questions(["The cat sat on the mat."], ["Where did the cat sit?"])
    assert len(answers) == 1 and isinstance(answers[0], str)
    [(inputs, start)] = calls
    prompt = "answer question: question: Where did the cat sit? context: The cat sat on the mat."
    assert inputs == normalised(fixture_tokenizer, [prompt])
    assert start == model.vocab.answer_start_token_id


def test_refuses_a_loss_balancer_that_would_drop_the_qa_task():
    with pytest.raises(ValueError, match="loss_balancing"):
        QA2QGModule(loss_balancing="fixed")


def test_inference_prompts_need_a_tokenizer(fixture_tokenizer):
    model = tiny_qa2qg(fixture_tokenizer)
    model.tokenizer = None
    with pytest.raises(RuntimeError, match="no tokenizer"):
        model.answer_questions(["context"], ["question?"])
