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

from typing import Any, Literal

import lightning as L
import torch
from torch import nn

TASKS = ("answer", "question")
Balancing = Literal["model", "fixed", "uncertainty", "gradnorm"]


def shared_parameter_groups(module: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The trainable parameters both tasks reach: the T5 encoder and (first) decoder.

    Found by type, so every T5-based model of the zoo is covered without model code.
    """
    from transformers import T5ForConditionalGeneration

    backbone = next(
        (m for m in module.modules() if isinstance(m, T5ForConditionalGeneration)), None
    )
    if backbone is None:
        return {}
    return {
        "encoder": [p for p in backbone.encoder.parameters() if p.requires_grad],
        "decoder": [p for p in backbone.decoder.parameters() if p.requires_grad],
    }


def task_gradients(
    losses: dict[str, torch.Tensor], parameters: list[nn.Parameter]
) -> dict[str, list[torch.Tensor]]:
    """Gradient of each task loss w.r.t. ``parameters`` (zeros where a task does not reach)."""
    gradients = {}
    for task, loss in losses.items():
        grads = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
        gradients[task] = [
            torch.zeros_like(p) if g is None else g for p, g in zip(parameters, grads, strict=True)
        ]
    return gradients


def flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1).float() for t in tensors]) if tensors else torch.zeros(0)


def balance_statistics(
    losses: dict[str, torch.Tensor], groups: dict[str, list[nn.Parameter]]
) -> dict[str, float]:
    """Per-task loss and gradient norms per group; ratio (question / answer) and cosine."""
    stats: dict[str, float] = {f"balance/{t}_loss": float(losses[t].detach()) for t in losses}
    everything = [p for params in groups.values() for p in params]
    gradients = task_gradients(losses, everything)
    offset = 0
    for name, params in groups.items():
        for task in losses:
            piece = flat(gradients[task][offset : offset + len(params)])
            stats[f"balance/grad_norm/{task}/{name}"] = float(piece.norm())
        offset += len(params)
    answer, question = flat(gradients["answer"]), flat(gradients["question"])
    answer_norm, question_norm = answer.norm(), question.norm()
    stats["balance/grad_norm/answer"] = float(answer_norm)
    stats["balance/grad_norm/question"] = float(question_norm)
    if answer_norm > 0:
        stats["balance/grad_norm_ratio"] = float(question_norm / answer_norm)
    if answer_norm > 0 and question_norm > 0:
        stats["balance/grad_cosine"] = float(answer @ question / (answer_norm * question_norm))
    return stats


class OptimisationBalance(L.Callback):
    """Logs ``balance/...`` every ``every_n_steps`` for models that train both tasks."""

    def __init__(self, every_n_steps: int = 50) -> None:
        self.every_n_steps = every_n_steps

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step % self.every_n_steps:
            return
        losses = pl_module.compute_losses(batch)
        task_losses = {t: losses[f"{t}_loss"] for t in TASKS if f"{t}_loss" in losses}
        groups = shared_parameter_groups(pl_module)
        if len(task_losses) < 2 or not groups:
            return
        stats = balance_statistics(task_losses, groups)
        pl_module.log_dict(stats, on_step=True, on_epoch=False, batch_size=len(batch["ids"]))


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

    def forward(self, losses: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """(training loss, values to log)."""
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
                "balance/log_variance/answer": float(s[0]),
                "balance/log_variance/question": float(s[1]),
            }
        return self._gradnorm(stacked)

    def _gradnorm(self, stacked: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        weights = self.task_weights
        if not bool(self.initial_losses.any()):
            self.initial_losses.copy_(stacked.detach())
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
            "balance/weight/answer": float(weights[0]),
            "balance/weight/question": float(weights[1]),
        }
        return task_loss + gradnorm_loss, stats

    @torch.no_grad()
    def renormalise(self) -> None:
        """After each optimiser step, GradNorm's weights are rescaled to sum to the task count."""
        if self.method == "gradnorm":
            self.task_weights.clamp_(min=1e-3)
            self.task_weights.mul_(len(TASKS) / self.task_weights.sum())
