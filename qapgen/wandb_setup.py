"""Choosing how a run talks to Weights & Biases: online, offline, or not at all.

``auto`` (the default for fit) logs online when an API key and the W&B server are both
there, otherwise offline into the run directory, and says which and why; offline runs are
uploaded later with ``wandb sync``. ``WANDB_MODE=disabled`` in the environment turns W&B
off entirely (the test suite does this).
"""

from __future__ import annotations

import netrc
import os
import socket
from pathlib import Path

WANDB_HOST = "api.wandb.ai"


def _has_api_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def _server_reachable(timeout: float = 2.0) -> bool:
    try:
        socket.create_connection((WANDB_HOST, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def resolve_wandb_mode(requested: str) -> tuple[str, str]:
    """(mode, reason) with mode one of ``online``, ``offline``, ``disabled``."""
    environment = os.environ.get("WANDB_MODE")
    if environment in ("disabled", "dryrun") or requested == "disabled":
        return (
            "disabled",
            f"W&B disabled ({'WANDB_MODE=' + environment if environment else 'requested'})",
        )
    if requested in ("online", "offline"):
        return requested, "requested"
    if environment == "offline":
        return "offline", "WANDB_MODE=offline"
    if not _has_api_key():
        return "offline", "no W&B API key (WANDB_API_KEY or ~/.netrc)"
    if not _server_reachable():
        return "offline", f"{WANDB_HOST} is unreachable"
    return "online", "API key found and the server is reachable"


def make_wandb_logger(
    mode: str,
    save_dir: str | Path,
    *,
    project: str,
    group: str | None,
    tags: list[str],
    name: str | None = None,
):
    from lightning.pytorch.loggers import WandbLogger

    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(
        project=project,
        save_dir=str(save_dir),
        offline=mode == "offline",
        group=group,
        tags=tags,
        name=name,
    )
