"""Speed settings that are not part of any one model: CUDA numerics, precision checks and
``torch.compile`` of the training losses (the length buckets a compiled step pads to are
``qapgen.data.padding``'s).

- ``CudaPerformance`` (a callback the CLI adds to every run): on CUDA, TF32 matmuls and
  convolutions (T5's fp32 parts, e.g. the fp32 log-softmax, run on tensor cores); a clear
  warning when the precision is fp16, in which T5 overflows.
- ``compile_losses``: wraps a model's ``compute_losses`` so that only the batch's tensors
  reach ``torch.compile`` (ids and texts would be guarded on and recompile every batch).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import lightning as L
import torch

log = logging.getLogger(__name__)

FP16_WARNING = (
    "precision={precision!r}: T5 was pretrained in bf16 and its activations overflow fp16 "
    "(inf/NaN losses, most often in the feed-forward layers of t5-base and larger). Use "
    "precision='bf16-mixed' on GPUs that support it (A100, H100, ...); fp16 is allowed only "
    "for GPUs without bf16."
)


class FP16PrecisionWarning(UserWarning):
    """The run trains in fp16, which T5 overflows."""


def enable_tf32() -> None:
    """fp32 matmuls and convolutions on TF32 tensor cores (10-bit mantissa inputs, fp32
    accumulation): the parts autocast keeps in fp32 then run several times faster."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")


def warn_if_fp16(precision: str | int | None) -> bool:
    """Warns (``FP16PrecisionWarning``) when ``precision`` is an fp16 setting; returns
    whether it did."""
    if precision is None or "16" not in str(precision) or "bf16" in str(precision):
        return False
    warnings.warn(FP16_WARNING.format(precision=str(precision)), FP16PrecisionWarning, stacklevel=2)
    return True


class CudaPerformance(L.Callback):
    """Applies the CUDA speed settings when a run starts (any stage) and warns about fp16.

    Args:
        tf32: allow TF32 for fp32 matmuls on CUDA (no effect on CPU).
    """

    def __init__(self, tf32: bool = True) -> None:
        self.tf32 = tf32

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        warn_if_fp16(getattr(trainer.precision_plugin, "precision", None))
        if self.tf32 and trainer.strategy.root_device.type == "cuda":
            enable_tf32()
            log.info("qapgen: TF32 matmuls enabled on %s", trainer.strategy.root_device)


def compile_losses(
    compute_losses: Callable[[dict[str, Any]], dict[str, torch.Tensor]],
    *,
    recompile_limit: int = 64,
    **compile_kwargs: Any,
) -> Callable[[dict[str, Any]], dict[str, torch.Tensor]]:
    """``compute_losses(batch)`` compiled with ``torch.compile`` on the batch's tensors only.

    Non-tensor entries (ids, context texts) are left out of what the compiled function
    sees, so dynamo guards only on tensor shapes; with length buckets there are at most
    (input buckets x answer buckets x question buckets) shapes, hence the raised recompile
    limit (dynamo's default of 8 would silently fall back to eager past it). Static shapes
    (``dynamic=False`` unless given) give the fastest kernels for each bucket.
    """
    torch._dynamo.config.recompile_limit = max(
        torch._dynamo.config.recompile_limit, recompile_limit
    )
    compile_kwargs.setdefault("dynamic", False)

    def tensor_losses(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return compute_losses(tensors)

    compiled = torch.compile(tensor_losses, **compile_kwargs)

    def losses(batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return compiled({k: v for k, v in batch.items() if isinstance(v, torch.Tensor)})

    return losses
