"""Callbacks the qapgen CLI adds to every run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightning as L
import torch

from qapgen.models.base import run_directory


class MetricsFile(L.Callback):
    """After test, writes every logged ``test/...`` value to ``<run dir>/metrics.json``.

    Keys are exactly as logged (``test/question/meteor``); the path is printed so that
    scripts and people can find it.
    """

    def __init__(self, filename: str = "metrics.json") -> None:
        self.filename = filename
        self.path: Path | None = None

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = {
            key: _number(value)
            for key, value in sorted(trainer.callback_metrics.items())
            if key.startswith("test/")
        }
        self.path = Path(run_directory(trainer)) / self.filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {**metrics, "global_step": trainer.global_step}
        evaluation = _evaluation_provenance(pl_module)
        if evaluation:
            payload["evaluation"] = evaluation
        self.path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        print(f"qapgen: test metrics written to {self.path}")


def _number(value: torch.Tensor | float) -> float | None:
    number = float(value.item() if isinstance(value, torch.Tensor) else value)
    return number if math.isfinite(number) else None


def _evaluation_provenance(pl_module: L.LightningModule) -> dict:
    """Protocol and metric implementations behind each task's test scores."""
    stage_metrics = getattr(pl_module, "metrics", {}).get("test", {})
    provenance = {}
    for task, task_metrics in stage_metrics.items():
        result = getattr(task_metrics, "last_result", None) or {}
        provenance[task] = {
            key: result[key]
            for key in ("protocol", "implementations", "normalisation", "n")
            if key in result
        }
    return provenance
