"""The Python API: QAPGenerator over every pair-producing model, options, consistency."""

from __future__ import annotations

import importlib
from dataclasses import asdict

import pytest
import torch

from baselines.t5_mpqg import T5MPQGModule
from qapgen.data.tokenizer import start_token_ids
from qapgen.export import LoadedModel, ModelLoadError
from qapgen.generate import ConsistencyFilter, Document, GeneratedPair, QAPGenerator, token_f1
from qapgen.generate.sentences import Sentence
from qapgen.models.base import GenerationNotSupportedError, GenerationOptions, QAPModule, Vocabulary
from qapgen.models.constraints import ContextSpanConstraint

TEXT = "Paris is the capital of France. It lies on the Seine.\n\nRome is old."
SENTENCES = ["Paris is the capital of France.", "It lies on the Seine.", "Rome is old."]
# Every model of the zoo whose tasks include answers and questions.
PAIR_MODELS = [
    "qapgen.models.igja_qap_module.IGJAQAPModule",
    "baselines.qa2qg.QA2QGModule",
    "baselines.t5_e2e.T5E2EModule",
    "baselines.t5_mpqg.T5MPQGModule",
    "baselines.t5_a2qg.T5A2QGModule",
    "baselines.onestop.OneStopModule",
    "baselines.info_qap.InfoQAPModule",
]
# Their answers are extracted spans of the context.
SPAN_MODELS = ["baselines.onestop.OneStopModule", "baselines.info_qap.InfoQAPModule"]


def tiny(class_path, tokenizer, cls=None, **kwargs) -> LoadedModel:
    """A random-init tiny model of ``class_path`` (or of ``cls``) ready for inference."""
    module, _, name = class_path.rpartition(".")
    cls = cls or getattr(importlib.import_module(module), name)
    answer_start, question_start = start_token_ids(tokenizer)
    vocab = Vocabulary(
        len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, answer_start, question_start
    )
    torch.manual_seed(0)
    init_args = {
        "backbone_size": "tiny",
        "meteor": "none",
        "num_beams": 2,
        "max_answer_length": 6,
        "max_question_length": 6,
        **kwargs,
    }
    model = cls(**init_args, vocab=asdict(vocab))
    model.configure_model()
    model.tokenizer = tokenizer
    return LoadedModel(model.eval(), tokenizer, class_path, max_source_length=64)


@pytest.mark.parametrize("class_path", PAIR_MODELS, ids=lambda p: p.rsplit(".", 1)[-1])
def test_every_pair_model_generates_through_its_own_inference_path(fixture_tokenizer, class_path):
    generator = QAPGenerator(tiny(class_path, fixture_tokenizer), batch_size=2)
    pairs = generator.generate(TEXT)
    assert all(isinstance(p, GeneratedPair) for p in pairs)
    assert generator.summary.segments.sentences == 3
    for pair in pairs:
        assert pair.document == "text-0"
        assert pair.sentence == SENTENCES[pair.sentence_index]
        assert pair.rank == 0


def test_a_model_without_candidate_decoding_refuses_diversity_options(fixture_tokenizer):
    # A user's model that defines only generate_batch gets the base's plain path.
    class PlainPairs(T5MPQGModule):
        generate_candidates = QAPModule.generate_candidates

        def generate_batch(self, batch):
            return {
                "answer": ["Paris"] * len(batch["ids"]),
                "question": ["Where?"] * len(batch["ids"]),
            }

    generator = QAPGenerator(
        tiny("baselines.t5_mpqg.T5MPQGModule", fixture_tokenizer, cls=PlainPairs)
    )
    assert generator.generate(TEXT)  # plain generation works
    with pytest.raises(GenerationNotSupportedError, match="not supported for this model"):
        generator.generate(TEXT, pairs_per_sentence=2)
    with pytest.raises(GenerationNotSupportedError):
        generator.generate(TEXT, answer_in_context=True)


@pytest.mark.parametrize("class_path", PAIR_MODELS, ids=lambda p: p.rsplit(".", 1)[-1])
def test_default_candidates_are_what_evaluation_scores(fixture_tokenizer, class_path):
    # qapgen generate decodes through generate_candidates, validation and test through
    # generate_batch: with default options the pairs must be the same.
    generator = QAPGenerator(tiny(class_path, fixture_tokenizer))
    batch = generator._encode([Sentence("d", i, t) for i, t in enumerate(SENTENCES)])
    expected = generator.model.generate_batch(batch)
    candidates = generator.model.generate_candidates(batch)
    assert [len(row) for row in candidates] == [1, 1, 1]
    assert [row[0].answer for row in candidates] == expected["answer"]
    assert [row[0].question for row in candidates] == expected["question"]
    for (candidate,) in candidates:
        assert candidate.question_log_prob <= 0 and candidate.answer_log_prob <= 0


@pytest.mark.parametrize("class_path", PAIR_MODELS, ids=lambda p: p.rsplit(".", 1)[-1])
def test_every_pair_model_gives_k_distinct_scored_pairs(fixture_tokenizer, class_path):
    # as many beams as candidates, so that the n-best list is a plain search's beams
    generator = QAPGenerator(tiny(class_path, fixture_tokenizer, num_beams=3))
    batch = generator._encode([Sentence("d", i, t) for i, t in enumerate(SENTENCES)])
    for do_sample in (False, True):
        candidates = generator.model.generate_candidates(
            batch, GenerationOptions(num_return_sequences=3, do_sample=do_sample, top_p=0.9)
        )
        assert [len(row) for row in candidates] == [3, 3, 3]
        if not do_sample:
            # beam n-best: the best candidate is the plain beam-searched pair
            expected = generator.model.generate_batch(batch)
            assert [row[0].question for row in candidates] == expected["question"]
            assert [row[0].answer for row in candidates] == expected["answer"]
    pairs = generator.generate(TEXT, pairs_per_sentence=3)
    summary = generator.summary
    assert len(pairs) + summary.duplicates_dropped + summary.empty_dropped == 3 * 3
    for index in range(3):
        group = [p for p in pairs if p.sentence_index == index]
        assert [p.rank for p in group] == list(range(len(group)))
        assert len({(p.question.lower(), p.answer.lower()) for p in group}) == len(group)


@pytest.mark.parametrize("class_path", PAIR_MODELS, ids=lambda p: p.rsplit(".", 1)[-1])
def test_every_pair_model_gives_more_candidates_than_it_has_beams(fixture_tokenizer, class_path):
    generator = QAPGenerator(tiny(class_path, fixture_tokenizer, num_beams=2))
    batch = generator._encode([Sentence("d", i, t) for i, t in enumerate(SENTENCES)])
    candidates = generator.model.generate_candidates(
        batch, GenerationOptions(num_return_sequences=3)
    )
    assert [len(row) for row in candidates] == [3, 3, 3]


@pytest.mark.parametrize("class_path", PAIR_MODELS, ids=lambda p: p.rsplit(".", 1)[-1])
def test_every_pair_model_keeps_answers_in_context_when_asked(fixture_tokenizer, class_path):
    generator = QAPGenerator(tiny(class_path, fixture_tokenizer))
    for do_sample in (False, True):
        pairs = generator.generate(
            TEXT, pairs_per_sentence=2, answer_in_context=True, do_sample=do_sample
        )
        for pair in pairs:
            assert _inside(pair.answer, pair.sentence, fixture_tokenizer), pair
    if class_path in SPAN_MODELS:
        return  # span answers are pieces of the context with or without the option
    # the control, on the raw candidates (T5-E2E's free ones often lack a question and
    # would be dropped): a random-init model's free answers leave the sentence
    batch = generator._encode([Sentence("d", i, t) for i, t in enumerate(SENTENCES)])
    free = generator.model.generate_candidates(batch, GenerationOptions(num_return_sequences=2))
    assert any(
        c.answer and not _inside(c.answer, sentence, fixture_tokenizer)
        for sentence, row in zip(SENTENCES, free, strict=True)
        for c in row
    )


@pytest.mark.parametrize("class_path", PAIR_MODELS, ids=lambda p: p.rsplit(".", 1)[-1])
def test_sampled_pairs_repeat_with_the_seed(fixture_tokenizer, class_path):
    generator = QAPGenerator(tiny(class_path, fixture_tokenizer))

    def sample(seed):
        torch.manual_seed(seed)
        return generator.generate(TEXT, pairs_per_sentence=2, do_sample=True, top_p=0.9)

    assert sample(3) == sample(3)


def test_question_only_models_are_refused(fixture_tokenizer):
    with pytest.raises(ModelLoadError, match="generates only question"):
        QAPGenerator(tiny("baselines.t5_qg.T5QGModule", fixture_tokenizer))


def test_igja_k_candidates_are_scored_distinct_and_best_first(exported_model):
    generator = QAPGenerator.from_pretrained(exported_model)
    pairs = generator.generate([Document("doc", TEXT)], pairs_per_sentence=3)
    assert pairs and {p.document for p in pairs} == {"doc"}
    for index in range(3):
        group = [p for p in pairs if p.sentence_index == index]
        assert len(group) <= 3
        assert len({(p.question, p.answer) for p in group}) == len(group)
        assert all(p.answer_log_prob <= 0 and p.question_log_prob <= 0 for p in group)
    summary = generator.summary
    assert len(pairs) + summary.duplicates_dropped + summary.empty_dropped == 9


def test_igja_answers_in_context_are_token_spans_of_the_sentence(exported_model):
    generator = QAPGenerator.from_pretrained(exported_model)
    tokenizer = generator.loaded.tokenizer
    unconstrained = generator.generate(TEXT, pairs_per_sentence=2)
    outside = [p for p in unconstrained if not _inside(p.answer, p.sentence, tokenizer)]
    assert outside, "the control: without the constraint some answers leave the sentence"
    for do_sample in (False, True):
        pairs = generator.generate(
            TEXT, pairs_per_sentence=2, answer_in_context=True, do_sample=do_sample
        )
        assert pairs
        for pair in pairs:
            assert _inside(pair.answer, pair.sentence, tokenizer), pair


def _inside(answer, sentence, tokenizer):
    """Whether ``answer`` reads as a piece of the sentence as the tokenizer renders it."""
    rendered = tokenizer.decode(tokenizer(sentence, add_special_tokens=False)["input_ids"])
    return answer.replace(" ", "") in rendered.replace(" ", "")


def test_token_f1():
    assert token_f1("the Seine", "The Seine") == 1.0
    assert token_f1("Seine river", "the Seine") == pytest.approx(0.5)
    assert token_f1("Paris", "Rome") == 0.0
    assert token_f1("", "") == 1.0


def test_consistency_filter_drops_or_flags_pairs_the_qa_model_answers_otherwise(
    exported_model,
):
    loaded = QAPGenerator.from_pretrained(exported_model).loaded
    plain = QAPGenerator(loaded).generate(TEXT)
    assert plain
    # the QA model agrees with the first pair's sentence only (which sentences yield a pair
    # depends on the briefly trained model)
    agreeing = plain[0].sentence
    asked = []

    def qa_agrees_on_one_sentence_only(contexts, questions):
        asked.extend(zip(contexts, questions, strict=True))
        answers = {p.sentence: p.answer for p in plain}
        return [answers[c] if c == agreeing else "something else" for c in contexts]

    dropping = ConsistencyFilter(qa_agrees_on_one_sentence_only, 0.5)
    kept = QAPGenerator(loaded).generate(TEXT, consistency=dropping)
    assert [(p.sentence, p.question) for p in plain] == asked
    assert kept and all(p.sentence == agreeing and p.consistent for p in kept)
    assert all(p.consistency_f1 == 1.0 for p in kept)

    flagging = ConsistencyFilter(qa_agrees_on_one_sentence_only, 0.5, keep_inconsistent=True)
    generator = QAPGenerator(loaded)
    flagged = generator.generate(TEXT, consistency=flagging)
    assert len(flagged) == len(plain)
    assert generator.summary.inconsistent_flagged == sum(p.sentence != agreeing for p in plain)
    assert [p.consistent for p in flagged] == [p.sentence == agreeing for p in plain]


def test_qa2qg_answers_the_generated_questions_for_the_filter(exported_model):
    generator = QAPGenerator.from_pretrained(exported_model)
    qa = tiny("baselines.qa2qg.QA2QGModule", generator.loaded.tokenizer).model
    pairs = generator.generate(
        TEXT, consistency=ConsistencyFilter(qa.answer_questions, 0.0, keep_inconsistent=True)
    )
    assert pairs and all(p.qa_answer is not None and p.consistent for p in pairs)


def test_seq2seq_candidates_n_best_samples_scores_and_constraint(fixture_tokenizer):
    from qapgen.models.backbone import load_backbone
    from qapgen.models.seq2seq import seq2seq_candidates

    torch.manual_seed(0)
    backbone = load_backbone(None, size="tiny", vocab_size=len(fixture_tokenizer)).eval()
    encoded = fixture_tokenizer(
        ["Paris is the capital of France.", "Rome is old."], padding=True, return_tensors="pt"
    )
    start, _ = start_token_ids(fixture_tokenizer)
    out = seq2seq_candidates(
        backbone,
        encoded["input_ids"],
        encoded["attention_mask"],
        start_token_id=start,
        max_length=5,
        num_beams=2,
        num_return_sequences=3,
    )
    ids, log_probs = out.ids, out.log_probs
    assert out.rows.tolist() == [0, 0, 0, 1, 1, 1]
    assert ids.size(0) == log_probs.size(0) == 6
    assert (log_probs <= 0).all()
    for row in range(2):
        group = [tuple(r) for r in ids[row * 3 : row * 3 + 3].tolist()]
        assert len(set(group)) == 3  # beam n-best: distinct sequences

    # greedy: the teacher-forced score equals the sum of generate's own step scores
    greedy = backbone.generate(
        input_ids=encoded["input_ids"],
        attention_mask=encoded["attention_mask"],
        decoder_start_token_id=start,
        max_new_tokens=5,
        do_sample=False,
        num_beams=1,
        output_scores=True,
        return_dict_in_generate=True,
        eos_token_id=1,
        pad_token_id=0,
    )
    steps = backbone.compute_transition_scores(
        greedy.sequences, greedy.scores, normalize_logits=True
    )
    log_probs = seq2seq_candidates(
        backbone,
        encoded["input_ids"],
        encoded["attention_mask"],
        start_token_id=start,
        max_length=5,
        num_beams=1,
    ).log_probs
    finite = torch.where(greedy.sequences[:, 1:] == 0, 0.0, steps)
    assert torch.allclose(log_probs, finite.sum(dim=1), atol=1e-4)

    contexts = [[t for t in row if t not in (0, 1)] for row in encoded["input_ids"].tolist()]
    for do_sample in (False, True):
        ids = seq2seq_candidates(
            backbone,
            encoded["input_ids"],
            encoded["attention_mask"],
            start_token_id=start,
            max_length=5,
            num_beams=2,
            num_return_sequences=2,
            do_sample=do_sample,
            constraint=ContextSpanConstraint(contexts, eos_token_id=1, pad_token_id=0),
        ).ids
        rows = [[t for t in row if t not in (0, 1)] for row in ids.tolist()]
        assert any(rows)
        for index, tokens in enumerate(rows):
            context = contexts[index // 2]
            assert any(context[i : i + len(tokens)] == tokens for i in range(len(context))), (
                tokens,
                context,
            )


def test_igja_default_candidates_are_its_evaluation_outputs(exported_model):
    # `qapgen generate` decodes IGJA-QAP through generate_candidates; with default options
    # that must be exactly what validation and test score (generate_batch).
    generator = QAPGenerator.from_pretrained(exported_model)
    batch = generator._encode([Sentence("d", i, t) for i, t in enumerate(TEXT.split(". "))])
    expected = generator.model.generate_batch(batch)
    candidates = generator.model.generate_candidates(batch)
    assert [c[0].answer for c in candidates] == expected["answer"]
    assert [c[0].question for c in candidates] == expected["question"]
