"""QA-aligned pair scores and answerability against hand-computed values, and BERTScore
through torchmetrics against cosine similarities computed here from the scorer's states."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from qapgen.metrics.pair_alignment import (
    BertScoreSimilarity,
    QAPair,
    answerability_f1,
    group_pairs,
    qa_aligned_f1,
)

H1, H2 = QAPair("Who?", "Ann"), QAPair("When?", "1066")
G1, G2, G3 = QAPair("Who ruled?", "Ann"), QAPair("Where?", "York"), QAPair("Why?", "war")
# Similarities chosen so that precision and recall differ.
TABLE = {
    (H1.text(), G1.text()): 0.9,
    (H1.text(), G2.text()): 0.5,
    (H2.text(), G1.text()): 0.8,
    (H2.text(), G2.text()): 0.1,
}


class TableSimilarity:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def __call__(self, hypotheses, references):
        pairs = list(zip(hypotheses, references, strict=True))
        self.asked.extend(pairs)
        return [TABLE[pair] for pair in pairs]


def test_the_alignment_matches_a_hand_computed_case():
    similarity = TableSimilarity()
    # Context 1: H1 (twice) and H2 against G1, G2. Context 2: nothing generated.
    result = qa_aligned_f1([[H1, H2, H1], []], [[G1, G2], [G3]], similarity)

    # Context 1: precision = mean(max(.9, .5), max(.8, .1)) = .85;
    # recall = mean(max(.9, .8), max(.5, .1)) = .70; F1 = 2 * .85 * .70 / 1.55.
    # Context 2 scores 0; the macro average halves each.
    f1_context = 2 * 0.85 * 0.70 / 1.55
    assert result.precision == pytest.approx(42.5)
    assert result.recall == pytest.approx(35.0)
    assert result.f1 == pytest.approx(100 * f1_context / 2)
    assert result.contexts == 2
    # Every distinct combination once: the repeated H1 is not scored again.
    assert sorted(similarity.asked) == sorted(TABLE)


def test_pairs_render_as_lmqg_writes_them():
    assert H1.text() == "question: Who?, answer: Ann"


def test_identical_pairs_score_100_and_a_context_without_gold_is_refused():
    def exact(hypotheses, references):
        return [float(h == r) for h, r in zip(hypotheses, references, strict=True)]

    assert qa_aligned_f1([[G1, G2]], [[G2, G1]], exact).f1 == pytest.approx(100.0)
    with pytest.raises(ValueError, match="context 0 has no gold pair"):
        qa_aligned_f1([[G1]], [[]], exact)


def test_group_pairs_keeps_first_seen_order_of_contexts():
    groups = group_pairs(["b", "a", "b"], ["q1", "q2", "q3"], ["a1", "a2", "a3"])
    assert list(groups) == ["b", "a"]
    assert groups["b"] == [QAPair("q1", "a1"), QAPair("q3", "a3")]


def test_answerability_is_the_mean_token_f1_against_the_qa_models_answers():
    def qa_model(contexts, questions):
        return ["the Seine", "Rome", "blue sky"]

    score = answerability_f1(
        ["c1", "c2", "c3"], ["q1", "q2", "q3"], ["Seine", "Paris", "blue sky"], qa_model
    )
    # "the Seine" vs "Seine": P 1/2, R 1 -> 2/3; "Rome" vs "Paris": 0; exact: 1.
    assert score == pytest.approx(100 * (2 / 3 + 0 + 1) / 3)


def reference_bertscore_precision(folder, hypothesis: str, reference: str) -> float:
    """BERTScore precision from the last layer, computed here: each hypothesis token's best
    cosine similarity to a reference token, averaged, [CLS] and [SEP] left out."""
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()

    def states(text: str) -> torch.Tensor:
        encoded = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**encoded).last_hidden_state[0]
        return F.normalize(hidden[1:-1], dim=-1)

    cosine = states(hypothesis) @ states(reference).T
    return cosine.max(dim=1).values.mean().item()


def test_bertscore_similarity_is_bertscore_precision_of_the_scorer(tiny_scorer_dir):
    hypothesis = "question: what is the capital of france ?, answer: paris"
    reference = "question: which city is in italy ?, answer: rome"
    similarity = BertScoreSimilarity(str(tiny_scorer_dir), num_layers=None)

    same, different = similarity([hypothesis, hypothesis], [hypothesis, reference])

    assert same == pytest.approx(1.0, abs=1e-5)
    assert different == pytest.approx(
        reference_bertscore_precision(tiny_scorer_dir, hypothesis, reference), abs=1e-4
    )
    assert different < 1.0
