"""Loading a published seq2seq checkpoint (hub name or local folder) and running beam search
over input texts through transformers' ``generate``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class CheckpointLoadError(OSError):
    """A published checkpoint could not be loaded; the message says how to use a local copy."""


@dataclass(frozen=True)
class DecodingSettings:
    num_beams: int = 4
    max_input_length: int = 512
    max_new_tokens: int = 64
    batch_size: int = 16


def load_seq2seq(name_or_path: str, device: str = "cpu") -> tuple[Any, Any]:
    """``(model, tokenizer)`` of any ``AutoModelForSeq2SeqLM`` checkpoint, in eval mode on
    ``device``. Code shipped with a checkpoint is never run (no ``trust_remote_code``)."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    local = Path(name_or_path).expanduser()
    if name_or_path.startswith((".", "/", "~")) and not local.is_dir():
        raise CheckpointLoadError(f"{name_or_path}: no such checkpoint folder")
    source = str(local) if local.exists() else name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSeq2SeqLM.from_pretrained(source)
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointLoadError(
            f"could not load the checkpoint {name_or_path!r} ({reason}); on a machine without "
            "hub access, download it elsewhere (hf download NAME --local-dir DIR), copy DIR "
            "here and pass the folder"
        ) from error
    return model.to(device).eval(), tokenizer


def generate_texts(
    model: Any,
    tokenizer: Any,
    sources: Sequence[str],
    settings: DecodingSettings,
    *,
    keep_special_tokens: bool = False,
) -> list[str]:
    """One beam-search output per source, in the sources' order. Batches hold sources of
    similar length (sorted), so that little of each batch is padding.

    ``keep_special_tokens`` keeps added tokens such as ``<sep>`` in the text (pad and
    end-of-sequence tokens are still removed).
    """
    import torch

    order = sorted(range(len(sources)), key=lambda index: len(sources[index]))
    outputs: list[str] = [""] * len(sources)
    removed = [t for t in (tokenizer.pad_token, tokenizer.eos_token) if t]
    for begin in range(0, len(order), settings.batch_size):
        rows = order[begin : begin + settings.batch_size]
        encoded = tokenizer(
            [sources[row] for row in rows],
            padding=True,
            truncation=True,
            max_length=settings.max_input_length,
            return_tensors="pt",
        ).to(model.device)
        with torch.no_grad():
            generated = model.generate(
                **encoded,
                num_beams=settings.num_beams,
                max_new_tokens=settings.max_new_tokens,
            )
        for row, ids in zip(rows, generated, strict=True):
            text = tokenizer.decode(ids, skip_special_tokens=not keep_special_tokens)
            for token in removed if keep_special_tokens else ():
                text = text.replace(token, " ")
            outputs[row] = " ".join(text.split())
    return outputs
