"""A tiny IGJA-QAP learns: it memorises pairs through `generate`, and the pointer copies unseen ids."""

import pytest
import torch

from qapgen.models.backbone import load_backbone
from qapgen.models.igja_decoding import generate_pairs
from qapgen.models.igja_qap import IGJAQAP

pytestmark = pytest.mark.learnability

VOCAB = 64
ANSWER_START, QUESTION_START = VOCAB - 1, VOCAB - 2


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny matrices run fastest on one thread; a second one only adds synchronisation."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_core(max_answer_length, max_question_length, **switches):
    torch.manual_seed(0)
    backbone = load_backbone(None, size="tiny", vocab_size=VOCAB, dropout_rate=0.0)
    return IGJAQAP(
        backbone,
        answer_start_token_id=ANSWER_START,
        question_start_token_id=QUESTION_START,
        max_answer_length=max_answer_length,
        max_question_length=max_question_length,
        gate_heads=4,
        **switches,
    )


def train(core, make_batch, steps, optimizer=None):
    optimizer = optimizer or torch.optim.Adam(core.parameters(), lr=1e-2)
    core.train()
    for step in range(steps):
        input_ids, answer_labels, question_labels = make_batch(step)
        loss = core(input_ids, torch.ones_like(input_ids), answer_labels, question_labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return core.eval()


def test_memorises_eight_random_pairs_through_generate():
    generator = torch.Generator().manual_seed(1)
    contexts = torch.randint(2, VOCAB - 2, (8, 12), generator=generator)
    answers = torch.randint(2, VOCAB - 2, (8, 4), generator=generator)
    questions = torch.randint(2, VOCAB - 2, (8, 6), generator=generator)
    for ids in (contexts, answers, questions):
        ids[:, -1] = 1  # every sequence ends with </s>
    core = tiny_core(6, 8)
    optimizer = torch.optim.Adam(core.parameters(), lr=1e-2)
    # train in rounds and stop once generation reproduces every pair (about 100-300 steps)
    for _ in range(12):
        train(core, lambda step: (contexts, answers, questions), steps=50, optimizer=optimizer)
        pairs = generate_pairs(core, contexts, torch.ones_like(contexts), num_beams=2)
        if (
            pairs.answer_ids.tolist() == answers.tolist()
            and pairs.question_ids.tolist() == questions.tolist()
        ):
            break
    assert pairs.answer_ids.tolist() == answers.tolist()
    assert pairs.question_ids.tolist() == questions.tolist()


def copy_task(target_ids, count, generator):
    """Context [x, </s>] -> answer [x, </s>], question [5, </s>]."""
    x = target_ids[torch.randint(len(target_ids), (count,), generator=generator)]
    eos = torch.ones_like(x)
    return (
        torch.stack([x, eos], 1),
        torch.stack([x, eos], 1),
        torch.tensor([[5, 1]]).expand(count, 2),
    )


@pytest.mark.parametrize("use_pointer", [True, False])
def test_pointer_copies_an_id_never_seen_as_a_target(use_pointer):
    # Trained on answers with ids 10..29; tested on ids 40..49, which no training target holds, so
    # the vocabulary head has only learned to push them down. The pointer copies them; without it
    # the tied embeddings let the decoder echo an input id only by chance (0-13% over seeds).
    generator = torch.Generator().manual_seed(1)
    seen, unseen = torch.arange(10, 30), torch.arange(40, 50)
    core = train(
        tiny_core(4, 4, use_pointer=use_pointer),
        lambda step: copy_task(seen, 32, generator),
        steps=100,
    )
    contexts, answers, _ = copy_task(unseen, 32, generator)
    pairs = generate_pairs(core, contexts, torch.ones_like(contexts), num_beams=1)
    accuracy = (pairs.answer_ids[:, 0] == answers[:, 0]).float().mean().item()
    if use_pointer:
        assert accuracy >= 0.9, accuracy
    else:
        assert accuracy <= 0.25, accuracy
