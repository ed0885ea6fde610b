"""BLEU, ROUGE-L and normalisation: hand-computed cases and parity with coco-caption."""

from __future__ import annotations

import math
import random

import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.rouge.rouge import Rouge, my_lcs

from qapgen.metrics import normalize, score, tokenize
from qapgen.metrics.bleu import corpus_bleu
from qapgen.metrics.rouge import corpus_rouge_l, lcs_length, sentence_rouge_l


def test_normalise_lowercases_and_splits_ptb_tokens():
    assert tokenize("Who wrote \"Hamlet\", in 1600?") == [
        "who", "wrote", "``", "hamlet", "''", ",", "in", "1600", "?",
    ]  # fmt: skip
    assert normalize("Isn't  it   the U.S. army's?") == "is n't it the u.s. army 's ?"
    assert tokenize("") == [] and normalize("   ") == ""


def test_bleu_hand_computed_single_pair():
    # hyp: the cat sat on the mat (6 tokens); ref: the cat is on the mat (6 tokens)
    # clipped matches 1-gram 5/6, 2-gram 3/5 (the cat, on the, the mat), 3-gram 1/4
    # (on the mat), 4-gram 0/3; lengths equal, so no brevity penalty.
    scores = corpus_bleu(["the cat sat on the mat"], [["the cat is on the mat"]])
    assert scores["bleu1"] == pytest.approx(100 * 5 / 6)
    assert scores["bleu2"] == pytest.approx(100 * math.sqrt(5 / 6 * 3 / 5))
    assert scores["bleu3"] == pytest.approx(100 * (5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3))
    assert scores["bleu4"] == 0.0


def test_bleu_uses_closest_reference_length_and_brevity_penalty():
    # hyp 2 tokens; references of 3 and 6 tokens: closest is 3, so BP = exp(1 - 3/2).
    scores = corpus_bleu(["a b"], [["a b c", "a b c d e f"]])
    assert scores["bleu1"] == pytest.approx(100 * math.exp(1 - 3 / 2))
    # A tie in distance goes to the shorter reference (coco-caption and sacrebleu agree):
    # hyp 4 tokens, references of 3 and 5 -> 3, no penalty (5 would give exp(1 - 5/4)).
    assert corpus_bleu(["a b c d"], [["a b c", "a b c d x"]])["bleu1"] == pytest.approx(100.0)


def test_bleu_clips_counts_by_the_best_reference():
    # "the" appears 3 times in the hypothesis, at most twice in any reference.
    scores = corpus_bleu(["the the the"], [["the cat", "the the dog"]])
    assert scores["bleu1"] == pytest.approx(100 * 2 / 3)


def test_rouge_l_hand_computed():
    # LCS("the cat sat on the mat", "the cat is on the mat") = 5 (the cat on the mat).
    value = sentence_rouge_l("the cat sat on the mat".split(), ["the cat is on the mat".split()])
    precision = recall = 5 / 6
    beta2 = 1.2**2
    assert value == pytest.approx((1 + beta2) * precision * recall / (recall + beta2 * precision))


def test_rouge_l_takes_best_precision_and_best_recall_separately():
    # coco-caption maximises P and R over references independently, not the F-measure.
    hyp = "a b c d".split()
    refs = ["a b".split(), "a b c d e f g h".split()]
    # ref 1: LCS 2 -> P 2/4, R 2/2; ref 2: LCS 4 -> P 4/4, R 4/8. Best P = 1, best R = 1.
    assert sentence_rouge_l(hyp, refs) == pytest.approx(1.0)
    assert Rouge().calc_score([" ".join(hyp)], [" ".join(r) for r in refs]) == pytest.approx(1.0)


def test_lcs_agrees_with_coco_dynamic_programme():
    rng = random.Random(11)
    for _ in range(2000):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 14))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 14))]
        expected = my_lcs(a, b) if a and b else 0
        assert lcs_length(a, b) == expected == lcs_length(b, a)


FIXED_PAIRS = (
    ["What is the capital of France?", "who wrote hamlet", "", "In which year was it built?"],
    [
        ["What is the capital city of France?"],
        ["Who wrote Hamlet?", "Which playwright wrote Hamlet?"],
        ["What year?"],
        ["When was the church built?", "In what year was the church built?"],
    ],
)


@pytest.mark.parametrize("seed", [None, 101, 202, 303])
def test_parity_with_coco_caption_bleu_and_rouge(seed, make_pairs, to_coco):
    """Within 0.1 points of pycocoevalcap on fixed pairs and on seeded random sets."""
    if seed is None:
        hypotheses, references = FIXED_PAIRS
    else:
        hypotheses, references = make_pairs(seed, 400)
    gts, res = to_coco(list(hypotheses), [list(r) for r in references])
    ours = score(hypotheses, references, meteor="none")
    coco_bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    coco_rouge, _ = Rouge().compute_score(gts, res)
    for k in range(4):
        assert ours[f"bleu{k + 1}"] == pytest.approx(100 * coco_bleu[k], abs=0.1)
    assert ours["rougeL"] == pytest.approx(100 * coco_rouge, abs=0.1)
    assert 0 < ours["bleu1"] < 100 and 0 < ours["rougeL"] < 100


def test_empty_predictions_score_zero():
    result = score(["", "  "], [["what is it ?"], ["who ?"]], meteor="none")
    assert all(result[key] == 0.0 for key in ("bleu1", "bleu4", "rougeL"))
    assert corpus_rouge_l([[]], [[["a"]]]) == 0.0


def test_perfect_predictions_score_hundred():
    refs = [["What is the capital of France?"], ["Who wrote the play Hamlet?"]]
    result = score([r[0] for r in refs], refs, meteor="none")
    assert all(result[key] == pytest.approx(100.0) for key in ("bleu1", "bleu4", "rougeL"))


def test_degenerate_inputs_are_rejected_with_a_reason():
    with pytest.raises(ValueError, match="no predictions"):
        score([], [], meteor="none")
    with pytest.raises(ValueError, match="non-empty list"):
        score(["a"], [[]], meteor="none")
    with pytest.raises(ValueError, match="non-empty list"):
        score(["a"], ["a plain string"], meteor="none")
    with pytest.raises(ValueError, match="empty after normalisation"):
        score(["a"], [["   "]], meteor="none")
    with pytest.raises(ValueError, match="2 predictions but 1"):
        score(["a", "b"], [["a"]], meteor="none")
    with pytest.raises(ValueError, match="unknown meteor"):
        score(["a"], [["a"]], meteor="jar")


def test_single_token_predictions_have_no_higher_order_ngrams():
    result = score(["paris"], [["paris"]], meteor="none")
    assert result["bleu1"] == pytest.approx(100.0)
    assert result["bleu2"] == 0.0  # no bigrams at all: undefined, reported as 0
    assert result["rougeL"] == pytest.approx(100.0)
