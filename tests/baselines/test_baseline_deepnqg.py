"""DeepNQG: beam search through `generate` against explicit decoding, GloVe loading, network
sizes and their overrides, and Du et al.'s vocabulary, optimiser and schedule."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
from torch import nn

from baselines.components.lstm_seq2seq import AttentionLSTMSeq2Seq, load_glove, lstm_generate
from baselines.deepnqg import PAPER_SIZE, DeepNQGModule, network_dimensions
from qapgen.models.base import Vocabulary, epoch_decay_factor
from zoo_testing import CONF, OVERFIT_PROFILE, printed_config

MODEL_YAML = CONF / "model" / "deepnqg.yaml"

VOCAB_SIZE, PAD, EOS, START = 30, 0, 1, 29


def source() -> tuple[torch.Tensor, torch.Tensor]:
    input_ids = torch.tensor([[5, 6, 7, 8, 1], [9, 10, 1, 0, 0], [11, 12, 13, 1, 0]])
    return input_ids, (input_ids != PAD).long()


def partly_trained_network(seed: int) -> AttentionLSTMSeq2Seq:
    """A small network fitted for a few steps towards random targets, so that its decoding
    depends on the source and visits many tokens (a random LSTM repeats one token)."""
    torch.manual_seed(seed)
    network = AttentionLSTMSeq2Seq(
        VOCAB_SIZE, PAD, embedding_dim=8, hidden_size=16, num_layers=2, dropout=0.0
    )
    input_ids, mask = source()
    targets = torch.randint(2, START, (3, 6))
    decoder_inputs = torch.cat([torch.full((3, 1), START), targets[:, :-1]], dim=1)
    optimizer = torch.optim.Adam(network.parameters(), lr=3e-2)
    for _ in range(30):
        logits = network(input_ids, mask, decoder_inputs)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return network.eval()


def generate(network, input_ids, mask, num_beams, **kwargs):
    return lstm_generate(
        network,
        input_ids,
        mask,
        start_token_id=START,
        eos_token_id=EOS,
        pad_token_id=PAD,
        max_length=7,
        num_beams=num_beams,
        **kwargs,
    )


@torch.no_grad()
def argmax_loop(network, input_ids, mask, steps):
    """Greedy decoding by re-running the whole prefix each step (no recurrent cache)."""
    prefix = torch.full((len(input_ids), 1), START)
    for _ in range(steps):
        next_token = network(input_ids, mask, prefix)[:, -1].argmax(-1, keepdim=True)
        prefix = torch.cat([prefix, next_token], dim=1)
    tokens = prefix[:, 1:]
    after_eos = (tokens == EOS).long().cumsum(1) - (tokens == EOS).long() > 0
    return tokens.masked_fill(after_eos, PAD)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generate_with_one_beam_is_the_argmax_loop(seed):
    network = partly_trained_network(seed)
    input_ids, mask = source()
    generated, _ = generate(network, input_ids, mask, num_beams=1)
    expected = argmax_loop(network, input_ids, mask, steps=generated.size(1))
    assert generated.tolist() == expected.tolist()
    assert len(set(generated.flatten().tolist())) > 3  # not a degenerate repetition


@torch.no_grad()
def sequence_log_probs(network, input_ids, mask, tokens):
    """Teacher-forced sum of log P over each row's tokens up to and including `</s>`. (B,)"""
    decoder_inputs = torch.cat([torch.full((len(tokens), 1), START), tokens[:, :-1]], dim=1)
    log_probs = network(input_ids, mask, decoder_inputs).log_softmax(-1)
    token_log_probs = log_probs.gather(-1, tokens[:, :, None]).squeeze(-1)
    is_eos = tokens == EOS
    through_eos = (is_eos.long().cumsum(1) - is_eos.long()) == 0
    return (token_log_probs * through_eos).sum(1)


def test_beam_scores_are_the_log_probabilities_of_the_returned_sequences():
    # With the recurrent state wrongly reordered between beams, the returned tokens would not
    # be the ones the scores were accumulated for.
    network = partly_trained_network(3)
    input_ids, mask = source()
    generated, scores = generate(network, input_ids, mask, num_beams=3, length_penalty=0.0)
    expected = sequence_log_probs(network, input_ids, mask, generated)
    torch.testing.assert_close(scores, expected, atol=1e-4, rtol=1e-4)
    greedy, _ = generate(network, input_ids, mask, num_beams=1)
    assert generated.tolist() != greedy.tolist()  # the beams changed at least one choice
    # and never for a less likely sequence than the greedy one
    assert (expected >= sequence_log_probs(network, input_ids, mask, greedy) - 1e-5).all()


def test_glove_vectors_land_on_the_ids_of_their_words(tmp_path, fixture_tokenizer):
    glove = tmp_path / "glove.txt"
    glove.write_text("the 0.5 -1 2 0.25\nzzzunseen 9 9 9 9\nloom 1 1 1 1\n", encoding="utf-8")
    vocab = Vocabulary(
        len(fixture_tokenizer), fixture_tokenizer.pad_token_id, fixture_tokenizer.eos_token_id, 3, 4
    )
    torch.manual_seed(0)
    module = DeepNQGModule(
        embedding_dim=4,
        hidden_size=8,
        num_layers=1,
        glove_path=str(glove),
        meteor="none",
        vocab=asdict(vocab),
    )
    module.tokenizer = fixture_tokenizer
    module.configure_model()
    weights = module.network.embedding.weight
    tokens = fixture_tokenizer.convert_ids_to_tokens(list(range(vocab.size)))
    the_ids = [i for i, t in enumerate(tokens) if t in ("▁the", "the", "▁The", "The")]
    loom_ids = [i for i, t in enumerate(tokens) if t in ("▁loom", "loom", "▁Loom")]
    assert fixture_tokenizer.convert_tokens_to_ids("▁the") in the_ids and loom_ids
    for token_id in the_ids:
        assert weights[token_id].tolist() == [0.5, -1.0, 2.0, 0.25]
    for token_id in loom_ids:
        assert weights[token_id].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert module.glove_covered == len(the_ids) + len(loom_ids)
    assert not weights.requires_grad  # frozen as in the paper
    untouched = fixture_tokenizer.convert_tokens_to_ids("▁of")
    assert weights[untouched].tolist() != [0.5, -1.0, 2.0, 0.25]


def test_glove_with_the_wrong_dimension_is_rejected(tmp_path):
    glove = tmp_path / "glove.txt"
    glove.write_text("the 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="3 values for 'the', the embedding has 4"):
        load_glove(glove, {"the": [2]}, nn.Embedding(5, 4))


@pytest.mark.parametrize(
    ("size", "explicit", "expected"),
    [
        (None, {}, (300, 600, 2)),  # no size: the paper's network
        ("tiny", {}, (32, 128, 1)),
        ("t5-small-shape", {}, (300, 600, 2)),
        ("t5-base-shape", {}, (300, 600, 2)),
        ("tiny", {"hidden_size": 64}, (32, 64, 1)),  # an explicit value wins over the size's
        (None, {"embedding_dim": 50, "num_layers": 3}, (50, 600, 3)),
    ],
)
def test_network_dimensions_follow_the_size_and_explicit_values_override(size, explicit, expected):
    dimensions = network_dimensions(size, **explicit)
    assert (
        dimensions["embedding_dim"],
        dimensions["hidden_size"],
        dimensions["num_layers"],
    ) == expected


def test_an_unknown_size_is_rejected_when_configured():
    with pytest.raises(ValueError, match="unknown backbone_size 'huge'"):
        DeepNQGModule(backbone_size="huge", meteor="none")


def test_the_built_network_has_the_sizes_dimensions():
    vocab = Vocabulary(40, 0, 1, 39, 38)
    module = DeepNQGModule(
        backbone_size="tiny",
        num_layers=2,
        meteor="none",
        vocab=asdict(vocab),
    )
    module.configure_model()
    network = module.network
    assert network.embedding.weight.shape == (vocab.size, 32)
    assert network.decoder.hidden_size == 128 and network.decoder.num_layers == 2
    assert network.encoder.hidden_size == 64  # each direction holds half
    paper = DeepNQGModule(meteor="none", vocab=asdict(vocab))
    paper.configure_model()
    assert paper.network.embedding.embedding_dim == PAPER_SIZE["embedding_dim"]
    assert paper.network.decoder.hidden_size == PAPER_SIZE["hidden_size"]
    assert paper.network.decoder.num_layers == PAPER_SIZE["num_layers"]


def test_size_overrides_are_kept_and_unset_dimensions_left_to_the_size():
    config = printed_config(
        "-c", str(OVERFIT_PROFILE), "-c", str(MODEL_YAML), "--model.init_args.hidden_size", "64"
    )
    init_args = config["model"]["init_args"]
    # the override is kept; the unset dimensions are left to backbone_size (tiny here)
    assert init_args["hidden_size"] == 64 and init_args["embedding_dim"] is None
    assert init_args["backbone_size"] == "tiny"


@pytest.mark.parametrize("profile", ["offline", "cpu-real", "paper"])
def test_the_model_file_sets_du_et_al_s_training_whatever_the_profile(profile):
    config = printed_config("-c", str(CONF / "profile" / f"{profile}.yaml"), "-c", str(MODEL_YAML))
    model, data, trainer = config["model"]["init_args"], config["data"], config["trainer"]
    assert (model["optimizer"], model["lr"], model["lr_schedule"]) == ("sgd", 1.0, "epoch_decay")
    assert (model["lr_decay_start_epoch"], model["lr_decay_factor"]) == (8, 0.5)
    assert (model["warmup_steps"], model["dropout_rate"], model["num_beams"]) == (0, 0.3, 3)
    assert (data["tokenizer"], data["tokenizer_vocab_size"], data["batch_size"]) == (
        "words",
        45000,
        64,
    )
    assert (trainer["max_epochs"], trainer["max_steps"], trainer["gradient_clip_val"]) == (
        15,
        -1,
        5.0,
    )


@pytest.mark.parametrize(
    ("epoch", "factor"), [(0, 1.0), (7, 1.0), (8, 0.5), (9, 0.25), (14, 0.5**7)]
)
def test_learning_rate_is_halved_after_epoch_eight_and_every_epoch_after(epoch, factor):
    assert epoch_decay_factor(epoch, 8, 0.5) == factor


def test_sgd_with_the_epoch_schedule_steps_once_an_epoch():
    vocab = Vocabulary(VOCAB_SIZE, PAD, EOS, 28, START)
    module = DeepNQGModule(
        backbone_size="tiny",
        optimizer="sgd",
        lr=1.0,
        lr_schedule="epoch_decay",
        meteor="none",
        vocab=asdict(vocab),
    )
    module.configure_model()
    config = module.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0
    assert scheduler["interval"] == "epoch"
    rates = []
    for _ in range(11):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler["scheduler"].step()
    assert rates == [1.0] * 8 + [0.5, 0.25, 0.125]
    with pytest.raises(ValueError, match="warmup"):
        DeepNQGModule(lr_schedule="epoch_decay", warmup_steps=5)


def test_the_word_vocabulary_is_built_from_the_training_split_only(tmp_path):
    from qapgen.data.datamodule import QAPDataModule

    datamodule = QAPDataModule(
        dataset="squad",
        path="fixtures",
        tokenizer="words",
        tokenizer_vocab_size=45000,
        cache_dir=str(tmp_path),
    )
    datamodule.prepare_data()
    tokenizer = datamodule.tokenizer
    backend = tokenizer.backend_tokenizer

    def words(split: str) -> set[str]:
        texts = [
            text
            for r in datamodule.prepared.splits[split]
            for text in (r.context, r.question, r.answer)
        ]
        normalised = [backend.normalizer.normalize_str(text) for text in texts]
        return {w for text in normalised for w, _ in backend.pre_tokenizer.pre_tokenize_str(text)}

    train_words, held_out_words = words("train"), words("test")
    vocabulary = set(tokenizer.get_vocab())
    assert train_words <= vocabulary
    unseen = held_out_words - train_words
    assert unseen and not unseen & vocabulary  # words only the held-out splits use are <unk>
    question = datamodule.prepared.splits["train"][0].question
    encoded = tokenizer(question)
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"])[-1] == "</s>"
    words_of_question = [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(question.lower())]
    assert tokenizer.decode(encoded["input_ids"], skip_special_tokens=True).split() == (
        words_of_question
    )
    assert datamodule.start_token_ids == tuple(
        tokenizer.convert_tokens_to_ids(["<extra_id_0>", "<extra_id_1>"])
    )
