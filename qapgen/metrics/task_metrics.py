"""Per-task metric objects for LightningModules: accumulate strings, score once, DDP-safe.

Text metrics cannot be summed from per-rank partial states (BLEU's brevity penalty and
METEOR 1.5's corpus score need the whole corpus), so each rank keeps its examples as
strings; ``compute`` gathers them to every rank, drops the duplicates that
DistributedSampler adds to even out the ranks (same id), scores on rank 0 only (one
JVM, not one per rank) and broadcasts the scores, so every rank returns the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from qapgen.metrics.meteor_java import Meteor15
from qapgen.metrics.scoring import METRIC_KEYS, check_options, score


class Example(NamedTuple):
    """One scored example as ranks exchange it (plain values: pickles cheaply)."""

    id: str
    prediction: str
    references: list[str]
    context: str | None


class TaskMetrics:
    """BLEU-1..4, ROUGE-L and METEOR of one task (question or answer) at one stage.

    Keep one per task and stage, e.g. ``self.val_question = TaskMetrics()``; call
    :meth:`update` every batch, :meth:`compute` at epoch end on every rank, then
    :meth:`reset`. Works with and without ``torch.distributed`` initialised; every rank
    gets the same values, so logging needs no ``sync_dist``::

        # __init__: plain attributes (not nn.Modules, nothing goes into checkpoints)
        self.val_question, self.val_answer = TaskMetrics(), TaskMetrics()
        # validation_step, after generating:
        self.val_question.update(batch[keys.IDS], questions, [[q] for q in batch[keys.QUESTIONS]])
        # on_validation_epoch_end:
        self.log_dict(self.val_question.compute_prefixed("val/question"))
        self.val_question.reset()

    Args:
        meteor: ``"java"`` (METEOR 1.5, key ``meteor``), ``"nltk"`` (key
            ``meteor_nltk`` only) or ``"none"`` (fastest: BLEU and ROUGE-L only).
        meteor_nltk: also report ``meteor_nltk`` next to METEOR 1.5.
        protocol: ``"example"`` or ``"grouped"`` (``update`` then needs contexts).
        meteor_scorer: a METEOR 1.5 process; default the process-wide shared one,
            started on the first ``compute`` and reused for every later one.
    """

    def __init__(
        self,
        *,
        meteor: str = "java",
        meteor_nltk: bool = False,
        protocol: str = "example",
        meteor_scorer: Meteor15 | None = None,
    ) -> None:
        check_options(protocol, meteor)
        self.meteor = meteor
        self.meteor_nltk = meteor_nltk
        self.protocol = protocol
        self.meteor_scorer = meteor_scorer
        self.last_result: dict[str, Any] | None = None
        self._examples: list[Example] = []

    def __len__(self) -> int:
        """Examples accumulated on this rank since the last reset (duplicates included)."""
        return len(self._examples)

    def update(
        self,
        ids: Sequence[Any],
        predictions: Sequence[str],
        references: Sequence[Sequence[str]],
        contexts: Sequence[str] | None = None,
    ) -> None:
        """Add a batch. ``ids`` identify examples across ranks (converted to ``str``)."""
        if not len(ids) == len(predictions) == len(references):
            raise ValueError(
                f"{len(ids)} ids, {len(predictions)} predictions and {len(references)} "
                "reference sets: one of each per example"
            )
        if contexts is not None and len(contexts) != len(ids):
            raise ValueError(f"{len(contexts)} contexts for {len(ids)} examples")
        if self.protocol == "grouped" and contexts is None:
            raise ValueError("the grouped protocol needs contexts in update()")
        for index, (id_, prediction, refs) in enumerate(
            zip(ids, predictions, references, strict=True)
        ):
            if isinstance(refs, str):
                raise TypeError(f"references of id {id_} must be a list of strings, not a str")
            context = contexts[index] if contexts is not None else None
            self._examples.append(Example(str(id_), prediction, list(refs), context))

    def reset(self) -> None:
        """Forget the accumulated examples (the METEOR process stays up)."""
        self._examples = []

    def compute(self) -> dict[str, float]:
        """Scores in 0-100 over the examples of all ranks, each id counted once.

        Keys: ``bleu1``..``bleu4``, ``rougeL``, and ``meteor`` / ``meteor_nltk`` as
        configured. Must be called on every rank (it communicates). The full result,
        with protocol and implementations, is kept in :attr:`last_result`.
        """
        examples = _unique_by_id(_gather(self._examples))
        outcome = _on_rank_zero(lambda: self._score(examples))
        self.last_result = outcome
        return {key: float(outcome[key]) for key in METRIC_KEYS if key in outcome}

    def compute_prefixed(self, prefix: str) -> dict[str, float]:
        """:meth:`compute` with keys ``{prefix}/{metric}``, e.g. ``val/question/meteor``."""
        return {f"{prefix}/{key}": value for key, value in self.compute().items()}

    def _score(self, examples: list[Example]) -> dict[str, Any]:
        return score(
            [e.prediction for e in examples],
            [e.references for e in examples],
            protocol=self.protocol,
            contexts=[e.context for e in examples] if self.protocol == "grouped" else None,
            meteor=self.meteor,
            meteor_nltk=self.meteor_nltk,
            meteor_scorer=self.meteor_scorer,
        )


def _distributed_world() -> int:
    """World size when torch.distributed is initialised, else 1."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _gather(examples: list[Example]) -> list[Example]:
    """Every rank's examples, on every rank, in the order the dataset had them.

    DistributedSampler (without shuffling) deals index i to rank i % world, so taking
    the ranks' lists round-robin restores dataset order; the grouped protocol's "last
    prediction of a context" then means the same as in a single process.
    """
    world = _distributed_world()
    if world == 1:
        return list(examples)
    import torch.distributed as dist

    per_rank: list[list[Example] | None] = [None] * world
    dist.all_gather_object(per_rank, [tuple(e) for e in examples])
    lists = [[Example(*e) for e in rank_examples or []] for rank_examples in per_rank]
    ordered = []
    for position in range(max(len(rank_list) for rank_list in lists)):
        ordered.extend(rank_list[position] for rank_list in lists if position < len(rank_list))
    return ordered


def _unique_by_id(examples: list[Example]) -> list[Example]:
    """The first example of each id: DistributedSampler's padding repeats examples."""
    seen: set[str] = set()
    unique = []
    for example in examples:
        if example.id not in seen:
            seen.add(example.id)
            unique.append(example)
    return unique


def _on_rank_zero(work):
    """Run ``work`` on rank 0 only and hand its result (or its error) to every rank."""
    if _distributed_world() == 1:
        return work()
    import torch.distributed as dist

    message: list[Any] = [None]
    if dist.get_rank() == 0:
        try:
            message[0] = ("ok", work())
        except Exception as error:  # re-raised below on every rank, rank 0 included
            message[0] = ("error", f"{type(error).__name__}: {error}")
    dist.broadcast_object_list(message, src=0)
    status, payload = message[0]
    if status == "error":
        raise RuntimeError(f"scoring failed on rank 0: {payload}")
    return payload
