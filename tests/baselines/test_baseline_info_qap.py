"""Info-QAP: the JSD InfoMax term, in-batch negatives, answer tagging, and generation
without gold labels."""

from __future__ import annotations

import math
from dataclasses import asdict

import pytest
import torch

from baselines.info_qap import (
    InfoMaxDiscriminator,
    InfoQAPModule,
    in_batch_negatives,
    jsd_mutual_information,
)
from qapgen.data.features import IGNORE_INDEX
from qapgen.models.base import Vocabulary
from zoo_testing import tiny_model


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_jsd_bound_matches_a_hand_computation():
    positive = torch.tensor([2.0, -1.0])
    negative = torch.tensor([0.5, -3.0])
    expected = (-softplus(-2.0) - softplus(1.0)) / 2 - (softplus(0.5) + softplus(-3.0)) / 2
    assert jsd_mutual_information(positive, negative).item() == pytest.approx(expected)
    # a discriminator that separates pairs well approaches the bound's maximum, 0
    assert jsd_mutual_information(torch.tensor([20.0]), torch.tensor([-20.0])).item() > -1e-6


@pytest.mark.parametrize("size", [2, 3, 8])
def test_negatives_are_in_batch_shuffles_without_a_positive_pair(size):
    for seed in range(20):
        order = in_batch_negatives(size, torch.Generator().manual_seed(seed))
        assert sorted(order.tolist()) == list(range(size))  # every answer used once
        assert (order != torch.arange(size)).all()  # never an example's own answer
    with pytest.raises(ValueError, match="at least two"):
        in_batch_negatives(1)


def test_discriminator_mi_uses_matched_pairs_and_shuffled_answers():
    torch.manual_seed(0)
    discriminator = InfoMaxDiscriminator(4)
    questions, answers = torch.randn(3, 4), torch.randn(3, 4)
    torch.manual_seed(1)
    mi = discriminator.mutual_information(questions, answers)
    torch.manual_seed(1)
    negatives = in_batch_negatives(3)
    expected = jsd_mutual_information(
        discriminator(questions, answers), discriminator(questions, answers[negatives])
    )
    assert mi.item() == pytest.approx(expected.item())


def test_discriminator_scores_directions_not_norms():
    # The critic reads L2-normalised representations: scaling a state changes no score, so
    # neither the MI term nor its gradient grows with the states' norm.
    torch.manual_seed(0)
    discriminator = InfoMaxDiscriminator(4)
    questions, answers = torch.randn(3, 4), torch.randn(3, 4)
    scores = discriminator(questions, answers)
    torch.testing.assert_close(discriminator(5.0 * questions, 0.2 * answers), scores)
    weight, bias = discriminator.bilinear.weight[0], discriminator.bilinear.bias
    bound = torch.linalg.matrix_norm(weight, ord=2) + bias.abs()
    assert (scores.abs() <= bound + 1e-6).all()
    unit_q = questions / questions.norm(dim=-1, keepdim=True)
    unit_a = answers / answers.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(scores, ((unit_q @ weight) * unit_a).sum(-1) + bias)


def test_loss_subtracts_the_weighted_mi_and_skips_non_spans():
    vocab = Vocabulary(40, 0, 1, 39, 38)
    torch.manual_seed(0)
    module = InfoQAPModule(
        mi_weight=2.0, backbone_size="tiny", dropout_rate=0.0, meteor="none", vocab=asdict(vocab)
    )
    module.configure_model()
    module.eval()
    batch = {
        "input_ids": torch.tensor([[5, 6, 7, 1], [8, 9, 10, 1], [11, 12, 13, 1]]),
        "input_attention_mask": torch.ones(3, 4, dtype=torch.long),
        "question_labels": torch.tensor([[20, 1], [21, 1], [22, 1]]),
        "answer_start_positions": torch.tensor([0, 1, IGNORE_INDEX]),
        "answer_end_positions": torch.tensor([1, 2, IGNORE_INDEX]),
    }
    captured = {}
    original = module.discriminator.mutual_information

    def spy(questions, answers):
        captured["rows"] = len(questions)
        captured["mi"] = original(questions, answers)
        return captured["mi"]

    module.discriminator.mutual_information = spy
    losses = module.compute_losses(batch)
    assert captured["rows"] == 2  # the non-span example takes no part in the MI term
    assert losses["loss"].item() == pytest.approx(
        (losses["question_loss"] + losses["answer_loss"] - 2.0 * captured["mi"]).item()
    )


def test_generation_needs_no_gold_pair_and_answers_are_context_text(fixture_tokenizer):
    module = tiny_model(InfoQAPModule, fixture_tokenizer)
    contexts = ["The mill stood by the river.", "Tobias Orrin built the first loom in 1811."]
    encoded = fixture_tokenizer(contexts, padding=True, return_tensors="pt")
    batch = {
        "contexts": contexts,
        "input_ids": encoded["input_ids"],
        "input_attention_mask": encoded["attention_mask"],
    }
    outputs = module.eval().generate_batch(batch)
    assert len(outputs["question"]) == 2
    for context, answer in zip(contexts, outputs["answer"], strict=True):
        assert answer and answer in context


def tagged_batch(starts, ends):
    return {
        "input_ids": torch.tensor([[5, 6, 7, 8, 1], [9, 10, 11, 12, 1]]),
        "input_attention_mask": torch.ones(2, 5, dtype=torch.long),
        "question_labels": torch.tensor([[20, 21, 1], [22, 23, 1]]),
        "answer_start_positions": torch.tensor(starts),
        "answer_end_positions": torch.tensor(ends),
    }


def tiny_info_qap(**kwargs) -> InfoQAPModule:
    torch.manual_seed(0)
    module = InfoQAPModule(
        backbone_size="tiny",
        dropout_rate=0.0,
        meteor="none",
        vocab=asdict(Vocabulary(40, 0, 1, 39, 38)),
        **kwargs,
    )
    module.configure_model()
    return module.eval()


def test_the_question_is_generated_from_the_context_with_the_answer_tagged():
    # Same context and question, the answer moved: the question loss must change (it read
    # the answer), and the answer's span logits must not (the span heads read the untagged
    # pass, so the gold span cannot leak into what predicts it).
    module = tiny_info_qap()
    first, moved = tagged_batch([0, 1], [1, 2]), tagged_batch([2, 0], [3, 0])
    losses = module.compute_losses(first)
    losses_moved = module.compute_losses(moved)
    assert abs(losses["question_loss"].item() - losses_moved["question_loss"].item()) > 1e-4
    encoder = module.backbone.encoder(
        input_ids=first["input_ids"], attention_mask=first["input_attention_mask"]
    ).last_hidden_state
    logits = module._span_logits(encoder, first["input_ids"], first["input_attention_mask"])
    start_loss = torch.nn.functional.cross_entropy(logits[0], first["answer_start_positions"])
    end_loss = torch.nn.functional.cross_entropy(logits[1], first["answer_end_positions"])
    assert losses["answer_loss"].item() == pytest.approx(((start_loss + end_loss) / 2).item())


def test_tags_mark_exactly_the_span_and_nothing_without_one():
    module = tiny_info_qap()
    ids = tagged_batch([1, IGNORE_INDEX], [2, IGNORE_INDEX])["input_ids"]
    tagged = module.tagged_embeddings(
        ids, torch.tensor([1, IGNORE_INDEX]), torch.tensor([2, IGNORE_INDEX])
    )
    plain = module.backbone.get_input_embeddings()(ids)
    inside = module.answer_tags.embedding.weight[1]
    torch.testing.assert_close(tagged[0, 1:3], plain[0, 1:3] + inside)
    torch.testing.assert_close(tagged[0, [0, 3, 4]], plain[0, [0, 3, 4]])
    torch.testing.assert_close(tagged[1], plain[1])  # no span: the untagged context
    assert inside.norm() > 0


def test_without_conditioning_the_question_ignores_the_answer():
    module = tiny_info_qap(answer_conditioning="none")
    assert module.answer_tags is None
    first = module.compute_losses(tagged_batch([0, 1], [1, 2]))["question_loss"]
    moved = module.compute_losses(tagged_batch([2, 0], [3, 0]))["question_loss"]
    assert first.item() == pytest.approx(moved.item())
    with pytest.raises(ValueError, match="answer_conditioning"):
        InfoQAPModule(answer_conditioning="gold")


def test_each_extracted_span_gets_its_own_question(fixture_tokenizer, monkeypatch):
    # At inference the question of candidate k is decoded from the context tagged with
    # span k: different spans of one context give different encoder inputs.
    from baselines import info_qap
    from qapgen.models.base import GenerationOptions

    module = tiny_model(InfoQAPModule, fixture_tokenizer)
    seen = []
    original = info_qap.seq2seq_candidates

    def spy(backbone, input_ids, mask, **kwargs):
        seen.append(kwargs.get("inputs_embeds"))
        return original(backbone, input_ids, mask, **kwargs)

    monkeypatch.setattr(info_qap, "seq2seq_candidates", spy)
    contexts = ["Tobias Orrin built the first loom in 1811."]
    encoded = fixture_tokenizer(contexts, return_tensors="pt")
    batch = {
        "contexts": contexts,
        "input_ids": encoded["input_ids"],
        "input_attention_mask": encoded["attention_mask"],
    }
    candidates = module.eval().generate_candidates(batch, GenerationOptions(num_return_sequences=3))
    (embeds,) = seen
    assert embeds.shape[0] == 3  # one tagged input per span
    assert not torch.allclose(embeds[0], embeds[1])
    assert len(candidates[0]) == 3
