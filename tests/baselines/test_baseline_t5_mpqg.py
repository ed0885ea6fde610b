"""T5-MPQG: the question loss is optimised before the switch step, the answer loss (with an
optional rehearsal of the questions) after. The shipped YAML is strictly sequential, as
published: phase one learns the questions, phase two the answers (what the paper reports) and
forgets the questions. That rehearsal keeps both is the zoo contract's overfit run for T5-MPQG
(test_baseline_zoo_contract.py)."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import pytest
import torch
import yaml

from baselines.t5_mpqg import T5MPQGModule
from qapgen.models.seq2seq import seq2seq_loss
from zoo_testing import CONF, fit_overfit, fixture_batch, tiny_model

MODEL_YAML = CONF / "model" / "t5_mpqg.yaml"
# Validation is skipped because test scores the same 16 examples right after fit.
NO_VALIDATION = ["--trainer.limit_val_batches", "0"]


def tiny_mpqg(tokenizer, **phase):
    """A tiny T5-MPQG without dropout, in training mode."""
    return tiny_model(T5MPQGModule, tokenizer, dropout_rate=0.0, **phase).train()


def at_step(model, global_step, total_steps=100):
    """Attach a stand-in trainer: what the model reads of a Trainer at that step."""
    model._trainer = SimpleNamespace(
        global_step=global_step, estimated_stepping_batches=total_steps
    )
    return model


def gradient(loss, model):
    grads = torch.autograd.grad(loss, list(model.backbone.parameters()), allow_unused=True)
    return torch.cat([g.flatten() for g in grads if g is not None])


@pytest.mark.parametrize(("step", "optimised"), [(0, "question"), (2, "question"), (3, "answer")])
def test_optimises_one_task_at_a_time_switching_at_the_phase_step(
    fixture_tokenizer, step, optimised
):
    model = at_step(tiny_mpqg(fixture_tokenizer, question_phase_steps=3), step)
    batch = fixture_batch(fixture_tokenizer, model.data_features)
    vocab = model.vocab
    starts = {"answer": vocab.answer_start_token_id, "question": vocab.question_start_token_id}
    task_gradients = {
        task: gradient(
            seq2seq_loss(
                model.backbone,
                batch["input_ids"],
                batch["input_attention_mask"],
                batch[f"{task}_labels"],
                starts[task],
            ),
            model,
        )
        for task in starts
    }
    losses = model.compute_losses(batch)
    other = "answer" if optimised == "question" else "question"
    assert model.current_phase() == optimised
    torch.testing.assert_close(gradient(losses["loss"], model), task_gradients[optimised])
    assert not torch.allclose(task_gradients[optimised], task_gradients[other])
    assert {"answer_loss", "question_loss"} <= set(losses)  # both are logged in every phase


@pytest.mark.parametrize(("step", "rehearsed"), [(2, False), (3, True)])
def test_rehearses_questions_only_in_the_answer_phase(fixture_tokenizer, step, rehearsed):
    model = tiny_mpqg(fixture_tokenizer, question_phase_steps=3, question_rehearsal_weight=0.25)
    losses = at_step(model, step).compute_losses(
        fixture_batch(fixture_tokenizer, model.data_features)
    )
    expected = (
        losses["answer_loss"] + 0.25 * losses["question_loss"]
        if rehearsed
        else losses["question_loss"]
    )
    torch.testing.assert_close(losses["loss"], expected)
    with pytest.raises(ValueError, match="question_rehearsal_weight"):
        T5MPQGModule(question_rehearsal_weight=-0.1)


def test_phase_length_is_a_fraction_of_the_run_unless_steps_are_given(fixture_tokenizer):
    model = at_step(tiny_mpqg(fixture_tokenizer, question_phase_fraction=0.3), 0, total_steps=120)
    assert model.question_phase_length() == 36
    model = at_step(tiny_mpqg(fixture_tokenizer, question_phase_steps=7), 0, total_steps=120)
    assert model.question_phase_length() == 7
    with pytest.raises(ValueError, match="question_phase_fraction"):
        T5MPQGModule(question_phase_fraction=1.5)
    with pytest.raises(ValueError, match="loss_balancing"):  # the phases are the balancing
        T5MPQGModule(loss_balancing="fixed")


def test_the_shipped_yaml_switches_halfway_and_never_rehearses():
    # The zoo contract checks that the YAML's init_args reach the model under every profile.
    init_args = yaml.safe_load(MODEL_YAML.read_text())["model"]["init_args"]
    hparams = T5MPQGModule(**init_args).hparams
    assert hparams.question_phase_fraction == 0.5
    assert hparams.question_phase_steps is None  # the fraction decides, whatever the run length
    # strictly sequential, as the paper trains it
    assert hparams.question_rehearsal_weight == 0.0


# The shipped YAML, 60 question steps then 60 answer steps on the overfit profile's 16
# examples: the answers are memorised, the questions were learnt in phase one and are then
# overwritten (question METEOR about 2 at the end).
@pytest.mark.learnability
def test_shipped_config_learns_questions_first_then_answers_and_forgets_the_questions(tmp_path):
    metrics = fit_overfit(
        MODEL_YAML,
        tmp_path,
        *NO_VALIDATION,
        "--trainer.max_epochs", "120",
        # the profile's warm-up is for its 400 steps; two 60-step phases want a short one
        "--model.init_args.warmup_steps", "20",
        "--trainer.log_every_n_steps", "1",
    )  # fmt: skip
    assert metrics["test/answer/meteor"] >= 90.0  # what the paper reports of T5-MPQG
    assert metrics["test/question/meteor"] < 50.0
    with next(tmp_path.rglob("metrics.csv")).open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["train/phase"]]
    phase = {int(r["step"]): float(r["train/phase"]) for r in rows}
    question_loss = {int(r["step"]): float(r["train/question_loss"]) for r in rows}
    answer_loss = {int(r["step"]): float(r["train/answer_loss"]) for r in rows}
    assert phase[0] == phase[59] == 0.0 and phase[60] == phase[119] == 1.0
    # phase one learns the questions (and only them), phase two the answers
    assert question_loss[59] < 0.1 * question_loss[0]
    assert answer_loss[59] > 0.5 * answer_loss[0]
    assert answer_loss[119] < 0.1 * answer_loss[59]
    assert question_loss[119] > 5 * question_loss[59]  # logged in both phases: forgetting
