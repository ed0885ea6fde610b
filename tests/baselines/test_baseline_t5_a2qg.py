"""T5-A2QG: stage 2 reads [answer; context] embeddings; it trains on the gold answer and
generates from stage 1's generated answer."""

from __future__ import annotations

import torch

from baselines.t5_a2qg import T5A2QGModule
from qapgen.data.features import IGNORE_INDEX
from qapgen.models.seq2seq import seq2seq_generate, seq2seq_loss
from zoo_testing import fixture_batch, tiny_model


def tiny_a2qg(tokenizer):
    return tiny_model(T5A2QGModule, tokenizer, max_answer_length=6, max_question_length=6)


def packed(first, first_mask, second, second_mask, pad_token_id=0):
    """Row by row: the real tokens of `first`, then those of `second`, then padding."""
    rows = [
        a[m.bool()].tolist() + c[n.bool()].tolist()
        for a, m, c, n in zip(first, first_mask, second, second_mask, strict=True)
    ]
    width = first.shape[1] + second.shape[1]
    ids = torch.tensor([row + [pad_token_id] * (width - len(row)) for row in rows])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
    return ids, mask


def test_stage_two_reads_the_answer_then_the_context(fixture_tokenizer):
    model = tiny_a2qg(fixture_tokenizer)
    answer = torch.tensor([[5, 6, 1, 0], [7, 1, 0, 0]])
    context = torch.tensor([[8, 9, 10, 1], [11, 12, 1, 0]])
    answer_mask, context_mask = (answer != 0).long(), (context != 0).long()
    embeds, mask = model.question_encoder_inputs(answer, answer_mask, context, context_mask)
    expected_ids = torch.tensor([[5, 6, 1, 8, 9, 10, 1, 0], [7, 1, 11, 12, 1, 0, 0, 0]])
    embedding = model.question_model.get_input_embeddings().weight
    torch.testing.assert_close(embeds, embedding[expected_ids])
    assert mask.tolist() == (expected_ids != 0).long().tolist()


def test_two_separate_t5s(fixture_tokenizer):
    model = tiny_a2qg(fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    model.compute_losses(batch)["question_loss"].backward()
    assert all(p.grad is None for p in model.answer_model.parameters())
    assert model.question_model.get_input_embeddings().weight.grad is not None


def test_training_loss_is_both_stages_with_the_gold_answer(fixture_tokenizer):
    model = tiny_a2qg(fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    vocab = model.vocab
    answer_loss = seq2seq_loss(
        model.answer_model,
        batch["input_ids"],
        batch["input_attention_mask"],
        batch["answer_labels"],
        vocab.answer_start_token_id,
    )
    # Stage 2 fed ids of [gold answer; context] must match stage 2 fed their embeddings.
    gold = batch["answer_labels"].masked_fill(batch["answer_labels"] == IGNORE_INDEX, 0)
    ids, mask = packed(gold, (gold != 0).long(), batch["input_ids"], batch["input_attention_mask"])
    question_loss = seq2seq_loss(
        model.question_model, ids, mask, batch["question_labels"], vocab.question_start_token_id
    )
    losses = model.compute_losses(batch)
    torch.testing.assert_close(losses["answer_loss"], answer_loss)
    torch.testing.assert_close(losses["question_loss"], question_loss)
    torch.testing.assert_close(losses["loss"], answer_loss + question_loss)


def test_inference_feeds_stage_two_the_generated_answer(fixture_tokenizer, monkeypatch):
    model = tiny_a2qg(fixture_tokenizer)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    generated = seq2seq_generate(
        model.answer_model,
        batch["input_ids"],
        batch["input_attention_mask"],
        start_token_id=model.vocab.answer_start_token_id,
        max_length=6,
        num_beams=2,
    )
    seen = []
    encoder_inputs = model.question_encoder_inputs

    def spy(answer_ids, *args):
        seen.append(answer_ids)
        return encoder_inputs(answer_ids, *args)

    monkeypatch.setattr(model, "question_encoder_inputs", spy)
    outputs = model.generate_batch(batch)
    [answer_ids] = seen
    assert answer_ids.tolist() == generated.tolist()
    assert outputs["answer"] == model.decode(generated)

    # Gold answers, as text and as ids, play no part in inference.
    corrupted = dict(
        batch,
        answers=["corrupted"] * 4,
        gold_answer_ids=torch.full_like(batch["gold_answer_ids"], 7),
        answer_labels=torch.full_like(batch["answer_labels"], 7),
    )
    assert model.generate_batch(corrupted) == outputs
