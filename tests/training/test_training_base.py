"""The shared base module: schedule, logging names, predictions and metrics.json."""

from __future__ import annotations

import json
import math

import lightning as L
import pytest
import torch

from qapgen.callbacks import MetricsFile
from qapgen.data.datamodule import QAPDataModule
from qapgen.metrics.pair_alignment import PairScorer, ScorerUnavailableError, score_pairs
from qapgen.models.base import QAPModule, Vocabulary, lr_factor


@pytest.mark.parametrize(
    ("step", "schedule", "expected"),
    [
        (0, "constant", 0.25),  # warm-up: (step + 1) / warmup
        (3, "constant", 1.0),
        (10, "constant", 1.0),
        (4, "linear", 1.0),
        (54, "linear", 0.5),  # halfway through the 100 post-warm-up steps
        (104, "linear", 0.0),
        (54, "cosine", 0.5),
        (29, "cosine", 0.5 * (1 + math.cos(math.pi * 0.25))),
    ],
)
def test_lr_factor(step, schedule, expected):
    assert lr_factor(step, warmup=4, total=104, schedule=schedule) == pytest.approx(expected)


def fixture_data(**settings) -> QAPDataModule:
    """The SQuAD fixtures with a tokenizer trained on them, batches of 8 unless `settings`
    say otherwise."""
    return QAPDataModule(
        **{"dataset": "squad", "path": "fixtures", "tokenizer": "train", "tokenizer_vocab_size": 600,
           "eval_batch_size": 8, **settings}
    )  # fmt: skip


def logged_trainer(root, **settings) -> L.Trainer:
    """A CPU trainer that writes the CSV log and metrics.json under ``root``."""
    return L.Trainer(
        default_root_dir=root, accelerator="cpu", enable_progress_bar=False,
        enable_model_summary=False, callbacks=[MetricsFile()],
        logger=L.pytorch.loggers.CSVLogger(root), **settings,
    )  # fmt: skip


class EchoModel(QAPModule):
    """A stand-in model: one learnable bias; 'generates' the gold answer and a fixed question."""

    def build(self, vocab: Vocabulary) -> None:
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def compute_losses(self, batch):
        answer = (self.bias - 1.0).pow(2).sum()
        question = (self.bias + 1.0).pow(2).sum()
        return {"loss": answer + question, "answer_loss": answer, "question_loss": question}

    def generate_batch(self, batch):
        return {"answer": list(batch["answers"]), "question": ["what is it ?"] * len(batch["ids"])}


def test_fit_and_test_log_per_task_metrics_and_write_files(tmp_path, capsys):
    data = fixture_data(batch_size=8, limit_examples=16)
    model = EchoModel(meteor="none", lr=0.1, warmup_steps=2, lr_schedule="linear")
    trainer = logged_trainer(tmp_path, max_steps=4)
    trainer.fit(model, datamodule=data)
    logged = trainer.callback_metrics
    for key in (
        "train/loss",
        "train/answer_loss",
        "train/question_loss",
        "val/loss",
        "val/answer_loss",  # held-out teacher-forced losses per task
        "val/question_loss",
        "val/answer/bleu1",
        "val/answer/rougeL",
        "val/question/bleu4",
    ):
        assert key in logged, key
    assert logged["val/answer/bleu1"] == pytest.approx(100.0)  # echoes the gold answers
    assert model.hparams.vocab["size"] == len(data.tokenizer)

    trainer.test(model, datamodule=data)
    run_dir = tmp_path / "lightning_logs" / "version_0"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["test/answer/rougeL"] == pytest.approx(100.0)
    assert metrics["test/question/bleu1"] < 100.0
    assert metrics["global_step"] == 4
    assert metrics["test/question_loss"] == pytest.approx(float((model.bias + 1.0).pow(2)))
    assert f"test metrics written to {run_dir / 'metrics.json'}" in capsys.readouterr().out
    rows = [json.loads(line) for line in (run_dir / "predictions" / "test.jsonl").open()]
    assert len(rows) == 16 and len({r["id"] for r in rows}) == 16
    assert set(rows[0]) == {
        "id",
        "context",
        "gold_question",
        "gold_answer",
        "predicted_answer",
        "predicted_question",
    }
    assert all(r["predicted_answer"] == r["gold_answer"] for r in rows)


def test_base_without_a_model_says_what_is_missing():
    with pytest.raises(TypeError, match="must define build"):
        QAPModule().build(Vocabulary(10, 0, 1, 3, 4))
    with pytest.raises(RuntimeError, match="no vocabulary yet"):
        QAPModule().vocab  # noqa: B018


class TwoScales(QAPModule):
    """Two parameters of very different scale with the same gradient."""

    def build(self, vocab: Vocabulary) -> None:
        self.large = torch.nn.Parameter(torch.ones(4, 4))
        self.small = torch.nn.Parameter(torch.full((4, 4), 0.01))


def test_adafactor_steps_each_parameter_in_proportion_to_its_scale():
    """T5's unit-scale embeddings beside d**-0.5-scale projections: Adafactor's step is
    relative (lr × RMS), where Adam's is one absolute size for both."""
    steps = {}
    for name in ("adafactor", "adam"):
        model = TwoScales(optimizer=name, lr=1e-2)
        model.build(Vocabulary(10, 0, 1, 3, 4))
        optimizer = model.configure_optimizers()
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        for parameter in model.parameters():
            parameter.grad = torch.ones_like(parameter)
        optimizer.step()
        steps[name] = {
            n: (before[n] - p.detach()).abs().mean().item() for n, p in model.named_parameters()
        }
    assert type(model.configure_optimizers()).__name__ == "Adam"
    assert steps["adafactor"]["large"] / steps["adafactor"]["small"] == pytest.approx(100, rel=0.05)
    assert steps["adafactor"]["large"] == pytest.approx(1e-2, rel=0.05)
    assert steps["adam"]["large"] == pytest.approx(steps["adam"]["small"], rel=0.05)


class AlternativeEchoModel(EchoModel):
    """'Generates' each question's last gold answer: an alternative where it has one."""

    def generate_batch(self, batch):
        outputs = super().generate_batch(batch)
        return {**outputs, "answer": [refs[-1] for refs in batch["answer_references"]]}


@pytest.mark.parametrize("references", ["first", "all"])
def test_answers_are_scored_against_the_first_or_every_gold_answer(
    references, tmp_path, isolated_cache
):
    data = fixture_data(eval_batch_size=64)
    model = AlternativeEchoModel(meteor="none", answer_references=references)
    logged_trainer(tmp_path).test(model, datamodule=data)
    records = data.prepared.splits["test"]
    with_alternatives = [r for r in records if set(r.source["alternatives"]) - {r.answer}]
    assert with_alternatives  # the fixtures give some dev questions other answers
    metrics = json.loads(next(tmp_path.rglob("metrics.json")).read_text())
    described = metrics["evaluation"]["answer"]["references"]
    if references == "all":
        assert metrics["test/answer/bleu1"] == pytest.approx(100.0)
        assert described == "every gold answer of the question"
    else:
        assert metrics["test/answer/bleu1"] < 100.0
        assert described == "the first gold answer"
    assert metrics["evaluation"]["question"]["references"] == "the gold question"


def test_the_batch_carries_every_distinct_gold_answer_first_one_first(isolated_cache):
    data = fixture_data(eval_batch_size=64)
    data.prepare_data()
    data.setup("test")
    batch = next(iter(data.test_dataloader()))
    by_id = {r.id: r for r in data.prepared.splits["test"]}
    for qid, answer, refs in zip(batch["ids"], batch["answers"], batch["answer_references"],
                                 strict=True):  # fmt: skip
        assert refs[0] == answer and len(set(refs)) == len(refs)
        assert set(refs) == {answer, *by_id[qid].source["alternatives"]}
    with pytest.raises(ValueError, match="answer_references"):
        EchoModel(answer_references="best")


def exact_similarity(hypotheses, references):
    return [float(h == r) for h, r in zip(hypotheses, references, strict=True)]


def test_a_pair_scorer_adds_pair_level_test_metrics(tmp_path):
    data = fixture_data(limit_examples=16)
    model = EchoModel(meteor="none")
    model.pair_scorer = PairScorer(
        similarity=exact_similarity, answer_questions=lambda contexts, questions: ["x"] * 16
    )
    trainer = logged_trainer(tmp_path)
    trainer.test(model, datamodule=data)

    run_dir = tmp_path / "lightning_logs" / "version_0"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    rows = [json.loads(line) for line in (run_dir / "predictions" / "test.jsonl").open()]
    expected = score_pairs(
        [r["context"] for r in rows],
        [r["predicted_question"] for r in rows],
        [r["predicted_answer"] for r in rows],
        [r["gold_question"] for r in rows],
        [r["gold_answer"] for r in rows],
        similarity=exact_similarity,
    )
    # The echo model's questions never match a gold pair exactly.
    assert metrics["test/pair/qa_aligned_f1"] == pytest.approx(expected["qa_aligned_f1"]) == 0.0
    assert metrics["test/pair/answerability_f1"] == pytest.approx(0.0)


def test_an_unavailable_scorer_warns_and_keeps_the_other_test_metrics(tmp_path):
    def unavailable(hypotheses, references):
        raise ScorerUnavailableError("BERTScore model 'roberta-large' could not be loaded")

    data = fixture_data(limit_examples=8)
    model = EchoModel(meteor="none")
    model.pair_scorer = PairScorer(similarity=unavailable)
    trainer = logged_trainer(tmp_path)
    with pytest.warns(UserWarning, match="pair-level scores skipped: BERTScore model"):
        trainer.test(model, datamodule=data)
    assert "test/answer/bleu1" in trainer.callback_metrics
    assert not any(key.startswith("test/pair/") for key in trainer.callback_metrics)
