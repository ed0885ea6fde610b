"""The name transformers gives the decoder cache in model inputs and outputs.

transformers 5.24 renamed it from ``past_key_values`` to ``cache`` (keyword arguments of
``forward`` and ``generate``, fields of the outputs); earlier releases know only the old
name. qapgen's own code calls it ``cache`` and speaks to transformers through these
helpers, so that every supported release gets the cache it expects (the name is read off
T5's signature, not guessed from a version number).
"""

from __future__ import annotations

import inspect
from typing import Any

from transformers.cache_utils import Cache
from transformers.models.t5.modeling_t5 import T5Stack

CACHE_ARGUMENT = (
    "cache" if "cache" in inspect.signature(T5Stack.forward).parameters else "past_key_values"
)


def cache_argument(cache: Cache | None) -> dict[str, Any]:
    """``cache`` as the keyword argument this transformers reads (``forward``, ``generate``)
    or as the output field it writes (``Seq2SeqLMOutput``)."""
    return {CACHE_ARGUMENT: cache}


def cache_of(output: Any) -> Cache | None:
    """The decoder cache a model or ``generate`` output holds, under this transformers' name
    (None without one)."""
    return output.get(CACHE_ARGUMENT)


def step_cache(cache: Cache | None, past_key_values: Cache | None) -> Cache | None:
    """The cache a step model's ``forward`` was given under either name: ``generate`` passes
    ``cache`` from 5.24 and ``past_key_values`` before."""
    return cache if cache is not None else past_key_values
