"""Optimisation-balance diagnostics and loss balancing, against direct computations."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch
from torch import nn

from qapgen.balance import (
    LossBalancer,
    OptimisationBalance,
    balance_statistics,
    shared_parameter_groups,
)
from qapgen.models.backbone import load_backbone


def tiny_losses():
    torch.manual_seed(0)
    backbone = load_backbone(None, size="tiny", vocab_size=40)
    inputs = torch.randint(3, 40, (2, 6))
    answer = torch.randint(3, 40, (2, 3))
    question = torch.randint(3, 40, (2, 4))
    answer_loss = backbone(input_ids=inputs, labels=answer).loss
    question_loss = backbone(input_ids=inputs, labels=question).loss
    return backbone, {"answer": answer_loss, "question": question_loss}


def test_gradient_norms_ratio_and_cosine_match_a_direct_computation():
    backbone, losses = tiny_losses()
    groups = shared_parameter_groups(nn.ModuleDict({"model": backbone}))
    assert set(groups) == {"encoder", "decoder"}
    stats = balance_statistics(losses, groups)

    def direct(loss, params):
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        return torch.cat(
            [
                (torch.zeros_like(p) if g is None else g).reshape(-1)
                for p, g in zip(params, grads, strict=True)
            ]
        )

    encoder = list(backbone.encoder.parameters())
    decoder = list(backbone.decoder.parameters())
    a_enc, q_enc = direct(losses["answer"], encoder), direct(losses["question"], encoder)
    a_all = torch.cat([a_enc, direct(losses["answer"], decoder)])
    q_all = torch.cat([q_enc, direct(losses["question"], decoder)])
    # Device tensors, never Python numbers: reading them would wait for the GPU.
    assert all(isinstance(v, torch.Tensor) and v.ndim == 0 for v in stats.values())
    values = {key: float(value) for key, value in stats.items()}
    assert values["balance/grad_norm/answer/encoder"] == pytest.approx(
        float(a_enc.norm()), rel=1e-5
    )
    assert values["balance/grad_norm/question/encoder"] == pytest.approx(
        float(q_enc.norm()), rel=1e-5
    )
    assert values["balance/grad_norm_ratio"] == pytest.approx(
        float(q_all.norm() / a_all.norm()), rel=1e-5
    )
    cosine = float(a_all @ q_all / (a_all.norm() * q_all.norm()))
    assert values["balance/grad_cosine"] == pytest.approx(cosine, rel=1e-4)
    assert values["balance/answer_loss"] == pytest.approx(float(losses["answer"].detach()))
    # The graph is kept: the step's own backward still runs after the measurement.
    (losses["answer"] + losses["question"]).backward()


def test_fixed_and_uncertainty_weighting_formulas():
    losses = {
        "loss": torch.tensor(9.0),
        "answer_loss": torch.tensor(2.0),
        "question_loss": torch.tensor(4.0),
    }
    assert float(LossBalancer("model")(losses)[0]) == 9.0
    assert float(LossBalancer("fixed", answer_weight=0.25)(losses)[0]) == pytest.approx(
        0.25 * 2 + 0.75 * 4
    )
    uncertainty = LossBalancer("uncertainty")
    with torch.no_grad():
        uncertainty.log_variances.copy_(torch.tensor([0.5, -1.0]))
    expected = math.exp(-0.5) * 2 + 0.5 + math.exp(1.0) * 4 - 1.0
    assert float(uncertainty(losses)[0]) == pytest.approx(expected, rel=1e-6)


def test_gradnorm_moves_weight_towards_the_slower_task_and_renormalises():
    torch.manual_seed(0)
    shared = nn.Parameter(torch.randn(3, 3))
    balancer = LossBalancer("gradnorm", alpha=1.5, gradnorm_parameter=shared)
    optimizer = torch.optim.SGD(balancer.parameters(), lr=0.05)
    x = torch.randn(3)

    def losses(scale_answer: float):
        answer = scale_answer * (shared @ x).pow(2).sum()
        question = (shared @ x).abs().sum()
        return {"answer_loss": answer, "question_loss": question}

    balancer(losses(1.0))  # records the initial losses
    for _ in range(20):
        # The answer loss stays at its start (slow), the question loss has halved (fast).
        step = losses(1.0)
        step["question_loss"] = step["question_loss"] * 0.5
        loss, stats = balancer(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        balancer.renormalise()
    assert all(isinstance(v, torch.Tensor) for v in stats.values())
    weights = balancer.task_weights.detach()
    assert float(weights.sum()) == pytest.approx(2.0)
    assert weights[0] > weights[1]  # the slower task gets more weight
    assert shared.grad is not None  # the tasks still train the shared layer


def test_balancing_a_single_task_model_is_refused():
    from qapgen.models.base import QAPModule, Vocabulary

    class QuestionOnly(QAPModule):
        tasks = ("question",)

        def build(self, vocab: Vocabulary) -> None:
            self.weight = nn.Parameter(torch.zeros(1))

    model = QuestionOnly(
        loss_balancing="fixed",
        vocab={
            "size": 10,
            "pad_token_id": 0,
            "eos_token_id": 1,
            "answer_start_token_id": 3,
            "question_start_token_id": 4,
        },
    )
    with pytest.raises(ValueError, match="needs a model that trains both tasks"):
        model.configure_model()


class CountedLosses(L.Callback):
    """How often each step computed the losses (a second forward would show as 2)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def on_fit_start(self, trainer, pl_module) -> None:
        compute = pl_module._training_losses

        def counted(batch):
            self.calls[-1] += 1
            return compute(batch)

        pl_module._training_losses = counted

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.calls.append(0)


def fit_with_balance(model_class, tmp_path):
    from qapgen.data.datamodule import QAPDataModule

    data = QAPDataModule(
        path="fixtures", tokenizer="train", tokenizer_vocab_size=600, batch_size=4,
        limit_examples=8, max_answer_length=8, max_question_length=8,
    )  # fmt: skip
    torch.manual_seed(0)
    model = model_class(
        backbone_size="tiny", meteor="none", max_answer_length=8, max_question_length=8
    )
    counted = CountedLosses()
    trainer = L.Trainer(
        max_steps=4, log_every_n_steps=2, limit_val_batches=0, accelerator="cpu",
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path,
        callbacks=[OptimisationBalance(every_n_steps=2), counted],
    )  # fmt: skip
    trainer.fit(model, datamodule=data)
    return trainer, counted.calls


def test_the_balance_diagnostics_reuse_the_steps_own_forward(tmp_path):
    from qapgen.models.igja_qap_module import IGJAQAPModule

    trainer, calls = fit_with_balance(IGJAQAPModule, tmp_path)
    assert calls == [1, 1, 1, 1]
    # measured on the logging steps (1 and 3), so Lightning logs the step's own values
    assert "balance/grad_cosine" in trainer.logged_metrics
    assert -1.0 <= float(trainer.logged_metrics["balance/grad_cosine"]) <= 1.0


def test_the_balance_diagnostics_are_off_for_single_task_models(tmp_path):
    from baselines.t5_qg import T5QGModule

    trainer, calls = fit_with_balance(T5QGModule, tmp_path)
    assert calls == [1, 1, 1, 1]
    assert not any(key.startswith("balance/") for key in trainer.logged_metrics)
