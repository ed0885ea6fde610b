"""Generation: answer then gated question through transformers' `generate`."""

import pytest
import torch

from qapgen.models.backbone import load_backbone
from qapgen.models.igja_decoding import generate_pairs
from qapgen.models.igja_qap import IGJAQAP
from qapgen.models.sequences import label_lengths

VOCAB = 40
ANSWER_START, QUESTION_START = VOCAB - 1, VOCAB - 2
MAX_ANSWER, MAX_QUESTION = 5, 6


def tiny_core(seed=0, family="t5", **switches):
    torch.manual_seed(seed)
    backbone = load_backbone(None, size="tiny", family=family, vocab_size=VOCAB)
    with torch.no_grad():  # a random head rarely emits </s>; make it likelier so lengths vary
        backbone.lm_head.weight[1] *= 3
    core = IGJAQAP(
        backbone,
        answer_start_token_id=ANSWER_START,
        question_start_token_id=QUESTION_START,
        max_answer_length=MAX_ANSWER,
        max_question_length=MAX_QUESTION,
        gate_heads=4,
        **switches,
    )
    return core.eval()


def contexts():
    input_ids = torch.tensor([[5, 9, 12, 7, 20, 1], [8, 8, 3, 1, 0, 0], [25, 4, 1, 0, 0, 0]])
    return input_ids, (input_ids != 0).long()


def greedy_reference(core, input_ids, attention_mask):
    """Token-by-token argmax over full (uncached) decoder passes: an independent decoding loop."""
    encoder_states = core.encode(input_ids, attention_mask)
    answer = torch.tensor([[ANSWER_START]])
    for _ in range(MAX_ANSWER):
        step = core.decode_answer(answer, encoder_states, attention_mask, input_ids)
        answer = torch.cat([answer, step.log_probs[:, -1].argmax(-1, keepdim=True)], 1)
        if answer[0, -1] == 1:
            break
    answer_states = core.decode_answer(answer[:, :-1], encoder_states, attention_mask, input_ids)
    answer_mask = torch.ones(answer.size(1) - 1, dtype=torch.bool)[None]
    question = torch.tensor([[QUESTION_START]])
    for _ in range(MAX_QUESTION):
        step = core.decode_question(
            question,
            encoder_states,
            attention_mask,
            core.remember_answer(answer_states.hidden_states, answer_mask),
        )
        question = torch.cat([question, step.log_probs[:, -1].argmax(-1, keepdim=True)], 1)
        if question[0, -1] == 1:
            break
    return answer[0, 1:].tolist(), question[0, 1:].tolist()


def strip(ids):
    ids = ids.tolist()
    return ids[: ids.index(1) + 1] if 1 in ids else ids


FAMILIES = ["t5", "t5-v1.1", "bart"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("switches", [{}, {"use_pointer": False, "use_gate": False}])
def test_greedy_generation_matches_an_explicit_decoding_loop(switches, family):
    core = tiny_core(family=family, **switches)
    input_ids, attention_mask = contexts()
    pairs = generate_pairs(core, input_ids, attention_mask, num_beams=1)
    for row in range(3):
        length = int(attention_mask[row].sum())
        expected = greedy_reference(
            core, input_ids[row : row + 1, :length], attention_mask[row : row + 1, :length]
        )
        assert (strip(pairs.answer_ids[row]), strip(pairs.question_ids[row])) == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_beam_search_with_and_without_cache_agree_and_batching_changes_nothing(family):
    core = tiny_core(seed=1, family=family)
    input_ids, attention_mask = contexts()
    cached = generate_pairs(core, input_ids, attention_mask, num_beams=3, with_scores=True)
    uncached = generate_pairs(
        core, input_ids, attention_mask, num_beams=3, use_cache=False, with_scores=True
    )
    torch.testing.assert_close(cached.answer_ids, uncached.answer_ids)
    torch.testing.assert_close(cached.question_ids, uncached.question_ids)
    torch.testing.assert_close(cached.question_scores, uncached.question_scores)
    for row in range(3):
        length = int(attention_mask[row].sum())
        single = generate_pairs(
            core,
            input_ids[row : row + 1, :length],
            attention_mask[row : row + 1, :length],
            num_beams=3,
        )
        assert strip(single.answer_ids[0]) == strip(cached.answer_ids[row])
        assert strip(single.question_ids[0]) == strip(cached.question_ids[row])


@pytest.mark.parametrize("shared_decoder", [True, False])
def test_answer_projections_are_made_once_per_generation(shared_decoder):
    """The gate projects the answer states once, not at every question step, and the shared
    decoder's cross-attention keys over the encoder output serve the answer search, the
    answer states and the question search (the two-decoder ablation projects once per
    decoder); the result equals decoding without any cache."""
    core = tiny_core(seed=1, shared_decoder=shared_decoder)
    input_ids, attention_mask = contexts()
    calls = {"gate keys": 0, "answer cross keys": 0, "question cross keys": 0}

    def count(name):
        def hook(*_):
            calls[name] += 1

        return hook

    core.gate.key.register_forward_hook(count("gate keys"))
    core.answer_decoder.block[0].layer[1].EncDecAttention.k.register_forward_hook(
        count("answer cross keys")
    )
    if not shared_decoder:
        core.question_decoder.block[0].layer[1].EncDecAttention.k.register_forward_hook(
            count("question cross keys")
        )
    cached = generate_pairs(core, input_ids, attention_mask, num_beams=3, with_scores=True)
    assert calls == {
        "gate keys": 1,
        "answer cross keys": 1 if shared_decoder else 2,  # search, then the answer states
        "question cross keys": 0 if shared_decoder else 1,
    }
    uncached = generate_pairs(
        core, input_ids, attention_mask, num_beams=3, use_cache=False, with_scores=True
    )
    torch.testing.assert_close(cached.question_ids, uncached.question_ids)
    torch.testing.assert_close(cached.question_scores, uncached.question_scores)


def test_outputs_respect_lengths_and_padding():
    core = tiny_core(seed=2)
    input_ids, attention_mask = contexts()
    pairs = generate_pairs(
        core, input_ids, attention_mask, num_beams=2, max_answer_length=3, max_question_length=4,
        with_scores=True,
    )  # fmt: skip
    assert pairs.answer_ids.size(1) <= 3 and pairs.question_ids.size(1) <= 4
    assert pairs.answer_scores.shape == (3,) and pairs.question_scores.shape == (3,)
    unscored = generate_pairs(
        core, input_ids, attention_mask, num_beams=2, max_answer_length=3, max_question_length=4
    )
    assert unscored.answer_scores is None and unscored.question_scores is None
    torch.testing.assert_close(unscored.question_ids, pairs.question_ids)
    for ids in (*pairs.answer_ids, *pairs.question_ids):
        ids = ids.tolist()
        if 1 in ids:
            assert all(token == 0 for token in ids[ids.index(1) + 1 :])


def test_lengths_beyond_the_gate_are_rejected_and_backbone_config_is_untouched():
    core = tiny_core()
    input_ids, attention_mask = contexts()
    with pytest.raises(ValueError, match="max_answer_length"):
        generate_pairs(core, input_ids, attention_mask, max_answer_length=MAX_ANSWER + 1)
    before = core.backbone.config.to_dict()
    generate_pairs(core, input_ids, attention_mask, num_beams=2)
    assert core.backbone.config.to_dict() == before


def test_label_lengths_count_through_the_first_eos():
    tokens = torch.tensor([[4, 1, 0, 0], [4, 5, 6, 7], [1, 0, 0, 0]])
    assert label_lengths(tokens, 1).tolist() == [2, 4, 1]
