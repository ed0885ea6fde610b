"""Optimisation balance between the answer and question tasks of a two-task model.

Two parts, both config:

- ``OptimisationBalance``, a callback that every N steps measures what the dashboards
  compare: each task's loss, the gradient norm each task's loss induces on the shared
  parameters (encoder; decoder), their ratio and the cosine between the two gradients.
- ``LossBalancer``: how the task losses are combined: as the model defines (IGJA-QAP: the
  plain sum, eq. 14), a fixed λ (OneStop's eq. 15), uncertainty weighting (Kendall et
  al., 2018), or GradNorm (Chen et al., 2018).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning as L
import torch
from torch import nn

from qapgen.data import batch_keys as keys

TASKS = ("answer", "question")
Balancing = Literal["model", "fixed", "uncertainty", "gradnorm"]


def shared_parameter_groups(module: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The trainable parameters both tasks reach: the backbone's encoder and (first) decoder.

    Found by type (the first encoder-decoder transformers model inside ``module``), so every
    backbone-based model of the zoo, of any family, is covered without model code.
    """
    from transformers import PreTrainedModel

    backbone = next(
        (
            m
            for m in module.modules()
            if isinstance(m, PreTrainedModel) and m.config.is_encoder_decoder
        ),
        None,
    )
    if backbone is None:
        return {}
    return {
        "encoder": [p for p in backbone.get_encoder().parameters() if p.requires_grad],
        "decoder": [p for p in backbone.get_decoder().parameters() if p.requires_grad],
    }


def task_gradients(
    losses: dict[str, torch.Tensor], parameters: list[nn.Parameter]
) -> dict[str, list[torch.Tensor]]:
    """Gradient of each task loss w.r.t. ``parameters`` (zeros where a task does not reach).

    The graph is kept, so the losses' own backward can still run afterwards."""
    gradients = {}
    for task, loss in losses.items():
        grads = (
            torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
            if loss.requires_grad
            else [None] * len(parameters)
        )
        gradients[task] = [
            torch.zeros_like(p) if g is None else g for p, g in zip(parameters, grads, strict=True)
        ]
    return gradients


def flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1).float() for t in tensors]) if tensors else torch.zeros(0)


def balance_statistics(
    losses: dict[str, torch.Tensor], groups: dict[str, list[nn.Parameter]]
) -> dict[str, torch.Tensor]:
    """Per-task loss and gradient norms per group; ratio (question / answer) and cosine.

    Every value is a 0-d tensor on the losses' device, so nothing here waits for the GPU;
    the ratio is inf or NaN and the cosine NaN where a gradient is zero.
    """
    stats = {f"balance/{t}_loss": losses[t].detach() for t in losses}
    everything = [p for params in groups.values() for p in params]
    gradients = task_gradients(losses, everything)
    answer, question = gradients["answer"], gradients["question"]
    # Per parameter (P, 3): a·a, q·q, a·q; no flattened copy of either gradient.
    sums = (
        torch.stack([_products(a, q) for a, q in zip(answer, question, strict=True)])
        if everything
        else torch.zeros(0, 3, device=losses["answer"].device)
    )
    offset = 0
    for name, params in groups.items():
        group = sums[offset : offset + len(params)].sum(0)
        stats[f"balance/grad_norm/answer/{name}"] = group[0].sqrt()
        stats[f"balance/grad_norm/question/{name}"] = group[1].sqrt()
        offset += len(params)
    total = sums.sum(0)
    answer_norm, question_norm = total[0].sqrt(), total[1].sqrt()
    stats["balance/grad_norm/answer"] = answer_norm
    stats["balance/grad_norm/question"] = question_norm
    stats["balance/grad_norm_ratio"] = question_norm / answer_norm
    stats["balance/grad_cosine"] = total[2] / (answer_norm * question_norm)
    return stats


def _products(answer: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
    """(a·a, q·q, a·q) of two gradients of one parameter, in fp32."""
    a, q = answer.float(), question.float()
    return torch.stack([(a * a).sum(), (q * q).sum(), (a * q).sum()])


class OptimisationBalance(L.Callback):
    """Logs ``balance/...`` (see ``balance_statistics``) for models that train both tasks.

    Measured on the training step's own losses, before its backward: two extra backward
    passes to the shared parameters, no extra forward, and no host sync (the values are
    device tensors that Lightning converts when it logs). The steps measured are ones that
    Lightning logs, so the logged values are that step's and none is measured to be
    dropped: the first logged step, then every ``lcm(every_n_steps, log_every_n_steps)``
    steps. Single-task models (``tasks`` has one entry) and models without separate answer
    and question losses are never measured.
    """

    def __init__(self, every_n_steps: int = 50) -> None:
        self.every_n_steps = every_n_steps
        self._groups: dict[str, list[nn.Parameter]] = {}
        self._batch_size = 0
        self._due = False

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trains_both = set(TASKS) <= set(getattr(pl_module, "tasks", ()))
        groups = shared_parameter_groups(pl_module) if trains_both else {}
        self._groups = {name: params for name, params in groups.items() if params}

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        logged = trainer.global_step + 1  # the steps Lightning logs: multiples of log_every
        every = math.lcm(self.every_n_steps, trainer.log_every_n_steps)
        first = logged == trainer.log_every_n_steps
        self._due = bool(self._groups) and (logged % every == 0 or first)
        self._batch_size = len(batch[keys.IDS])

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        if not self._due:
            return
        self._due = False
        losses = pl_module.step_losses or {}
        task_losses = {t: losses[f"{t}_loss"] for t in TASKS if f"{t}_loss" in losses}
        if len(task_losses) < 2:
            return
        stats = balance_statistics(task_losses, self._groups)
        pl_module.log_dict(stats, on_step=True, on_epoch=False, batch_size=self._batch_size)


class LossBalancer(nn.Module):
    """Combines the answer and question losses into the training loss.

    Args:
        method: ``model`` (the model's own ``loss``), ``fixed`` (λ·Φ_a + (1-λ)·Φ_q),
            ``uncertainty`` (Σ_t exp(-s_t)·Φ_t + s_t with learned log-variances s_t) or
            ``gradnorm`` (learned task weights w_t, Σ w_t = 2, trained so that each task's
            weighted gradient norm on the last shared layer follows its relative training
            rate r_t^α).
        answer_weight: λ of ``fixed``.
        alpha: GradNorm's restoring-force strength α.
        gradnorm_parameter: the shared weight GradNorm measures (its last shared layer).
    """

    def __init__(
        self,
        method: Balancing = "model",
        answer_weight: float = 0.5,
        alpha: float = 1.5,
        gradnorm_parameter: nn.Parameter | None = None,
    ) -> None:
        super().__init__()
        self.method = method
        self.answer_weight = answer_weight
        self.alpha = alpha
        self.gradnorm_parameter = [gradnorm_parameter] if gradnorm_parameter is not None else []
        if method == "uncertainty":
            self.log_variances = nn.Parameter(torch.zeros(len(TASKS)))
        if method == "gradnorm":
            if gradnorm_parameter is None:
                raise ValueError("gradnorm needs the shared parameter it measures")
            self.task_weights = nn.Parameter(torch.ones(len(TASKS)))
            self.register_buffer("initial_losses", torch.zeros(len(TASKS)))

    def forward(
        self, losses: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(training loss, values to log: detached 0-d tensors, never read on the host)."""
        if self.method == "model":
            return losses["loss"], {}
        answer, question = losses["answer_loss"], losses["question_loss"]
        if self.method == "fixed":
            # OneStop's eq. 15: Φ = λ·Φ_a + (1 - λ)·Φ_q
            return self.answer_weight * answer + (1 - self.answer_weight) * question, {}
        stacked = torch.stack([answer, question])
        if self.method == "uncertainty":
            s = self.log_variances
            loss = (torch.exp(-s) * stacked + s).sum()
            return loss, {
                "balance/log_variance/answer": s[0].detach(),
                "balance/log_variance/question": s[1].detach(),
            }
        return self._gradnorm(stacked)

    def _gradnorm(self, stacked: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        weights = self.task_weights
        # The first step's losses are recorded (all zeros: none yet), decided on the device.
        recorded = self.initial_losses.any()
        self.initial_losses.copy_(torch.where(recorded, self.initial_losses, stacked.detach()))
        # g_t = ||∇_W Φ_t|| on the last shared layer, taken as data: GradNorm's own loss
        # must move only the task weights, and ∇_W(w_t Φ_t) = w_t ∇_W Φ_t.
        norms = torch.stack(
            [
                flat(torch.autograd.grad(loss, self.gradnorm_parameter, retain_graph=True)).norm()
                for loss in stacked
            ]
        ).detach()
        weighted_norms = weights * norms
        ratios = stacked.detach() / self.initial_losses.clamp_min(1e-12)
        relative_rate = ratios / ratios.mean()
        target = (weighted_norms.mean() * relative_rate**self.alpha).detach()
        gradnorm_loss = (weighted_norms - target).abs().sum()
        # The tasks train with the weights held fixed; the weights learn from GradNorm alone.
        task_loss = (weights.detach() * stacked).sum()
        stats = {
            "balance/weight/answer": weights[0].detach(),
            "balance/weight/question": weights[1].detach(),
        }
        return task_loss + gradnorm_loss, stats

    @torch.no_grad()
    def renormalise(self) -> None:
        """After each optimiser step, GradNorm's weights are rescaled to sum to the task count."""
        if self.method == "gradnorm":
            self.task_weights.clamp_(min=1e-3)
            self.task_weights.mul_(len(TASKS) / self.task_weights.sum())
