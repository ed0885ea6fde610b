"""QAPModule: the shared LightningModule base of IGJA-QAP and every baseline.

A model adds only what makes it different:

- ``tasks``: which outputs it produces (``"question"``, ``"answer"``);
- ``data_features``: what the DataModule must build for it;
- ``build(vocab)``: create its networks once the tokenizer is known;
- ``compute_losses(batch)``: ``{"loss": ..., "<task>_loss": ...}``;
- ``generate_batch(batch)``: ``{task: [text, ...]}`` through its real inference path.

The base does the rest the same way for every model: optimiser and schedule, logging of
``train/loss`` and per-task losses, generation-based validation and test scored per task
(``val/question/meteor``, ``test/answer/bleu1``, ...), and predictions written as JSONL.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightning as L
import torch
import torch.distributed as dist
from transformers.optimization import Adafactor

from qapgen.atomic_files import atomic_open
from qapgen.balance import LossBalancer, shared_parameter_groups
from qapgen.data import batch_keys as keys
from qapgen.data.features import DEFAULT_FEATURES, Feature
from qapgen.data.tokenizer import start_token_ids
from qapgen.metrics import TaskMetrics
from qapgen.metrics.pair_alignment import PairScorer, ScorerUnavailableError
from qapgen.models.backbone import load_backbone
from qapgen.models.constraints import ContextSpanConstraint
from qapgen.performance import compile_losses

STAGES = ("val", "test")


@dataclass(frozen=True)
class Vocabulary:
    """What a model needs to know of its tokenizer; stored in the hyperparameters so that a
    checkpoint rebuilds the same networks without the DataModule."""

    size: int
    pad_token_id: int
    eos_token_id: int
    answer_start_token_id: int
    question_start_token_id: int
    tokenizer: str | None = None  # where the tokenizer was loaded from
    # Tokens added to the tokenizer at that location (QG-Bench's <hl>, <sep>), in id order.
    added_tokens: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationOptions:
    """Decoding beyond ``generate_batch``'s one beam-searched pair per input (see
    ``QAPModule.generate_candidates``).

    Args:
        num_return_sequences: candidate pairs wanted per input (beam n-best or samples).
        do_sample: nucleus sampling instead of beam search.
        top_p: the nucleus mass when sampling.
        answer_in_context: answers may only be token sequences of the input context.
    """

    num_return_sequences: int = 1
    do_sample: bool = False
    top_p: float = 1.0
    answer_in_context: bool = False

    @property
    def is_default(self) -> bool:
        return self == GenerationOptions()


@dataclass(frozen=True)
class PairCandidate:
    """One generated pair with its sequence log-probabilities (None where not computed)."""

    answer: str
    question: str
    answer_log_prob: float | None = None
    question_log_prob: float | None = None


@dataclass
class GenerationCost:
    """Wall-clock seconds spent generating in one evaluation epoch, and rows generated."""

    seconds: float = 0.0
    samples: int = 0

    def __iadd__(self, step: tuple[float, int]) -> GenerationCost:
        self.seconds += step[0]
        self.samples += step[1]
        return self


class GenerationNotSupportedError(ValueError):
    """A model cannot decode with the requested ``GenerationOptions``."""


class QAPModule(L.LightningModule):
    """Base of every qapgen model (see the module docstring for what a subclass adds).

    Args:
        backbone: a hub name (``t5-base``, ``google/flan-t5-base``, ``facebook/bart-base``) or
            a local ``save_pretrained`` folder; ignored when ``backbone_size`` is set.
        backbone_size: a random-init size instead (``tiny``, ``mini``, ``t5-small-shape``,
            ``t5-base-shape``).
        backbone_family: the random-init size's family: ``t5`` (v1.0, as t5-base),
            ``t5-v1.1`` (as flan-t5) or ``bart``; a pretrained backbone is of its own.
        dropout_rate: overrides the backbone's dropout (None keeps its own, 0.1 for T5).
        optimizer: ``adam`` (the paper's), ``adamw``, ``adafactor`` (T5's own, updates
            scaled by each parameter's RMS; the learning rate is then relative, e.g. 3e-2)
            or ``sgd`` (plain, DeepNQG's).
        lr: learning rate (paper: 1e-5).
        weight_decay: AdamW's decoupled weight decay (or Adam's L2 term).
        warmup_steps: linear warm-up from 0 to ``lr``.
        lr_schedule: after warm-up, ``constant`` (paper), ``linear`` or ``cosine`` decay
            to 0 at the last training step; or ``epoch_decay`` (no warm-up): ``lr`` until
            epoch ``lr_decay_start_epoch`` ends, then times ``lr_decay_factor`` after each
            epoch (DeepNQG's, see ``epoch_decay_factor``).
        lr_decay_start_epoch / lr_decay_factor: ``epoch_decay``'s epoch (1-based) and factor.
        num_beams: beam width for validation, test and predict generation.
        max_answer_length / max_question_length: generation limits in tokens.
        meteor: METEOR implementation for validation and test (``java`` = METEOR 1.5,
            ``nltk``, ``none``).
        protocol: ``example`` or ``grouped`` scoring (see ``qapgen.metrics``).
        answer_references: score answers against the ``first`` gold answer (the training
            target; the QG literature's convention) or ``all`` of a question's gold answers
            (SQuAD dev questions carry up to three); ``metrics.json`` records which.
        loss_balancing: how a two-task model combines its task losses: ``model`` (as the
            model defines; IGJA-QAP sums them, eq. 14), ``fixed`` (λ·Φ_a + (1-λ)·Φ_q),
            ``uncertainty`` (learned task uncertainties) or ``gradnorm`` (see
            ``qapgen.balance``).
        balancing_answer_weight: λ of ``fixed``.
        gradnorm_alpha: GradNorm's α.
        compile: ``torch.compile`` the training losses (``compute_losses``); pair it with
            the DataModule's ``pad_to_buckets`` so that recompiles stay bounded.
        compile_backend: ``torch.compile``'s backend (``inductor``; ``aot_eager`` checks
            tracing without code generation).
        vocab: filled in by qapgen from the DataModule's tokenizer; leave unset.
    """

    tasks: ClassVar[tuple[str, ...]] = ("answer", "question")
    data_features: ClassVar[tuple[Feature, ...]] = DEFAULT_FEATURES
    # False where the losses are not two balanceable task losses on shared parameters (the
    # comment beside a model's False says why): such a model refuses any loss_balancing but
    # "model" when it is constructed.
    supports_loss_balancing: ClassVar[bool] = True
    # The training step's losses, still in its graph, from training_step until the batch
    # ends: callbacks read them before backward (qapgen.balance.OptimisationBalance).
    step_losses: dict[str, torch.Tensor] | None = None
    # Pair-level test scores (QA-aligned F1, answerability) for pair models: set by the CLI
    # from --pair_metrics, or by the caller; None scores no pairs.
    pair_scorer: PairScorer | None = None

    def __init__(
        self,
        backbone: str = "t5-base",
        backbone_size: str | None = None,
        backbone_family: Literal["t5", "t5-v1.1", "bart"] = "t5",
        dropout_rate: float | None = None,
        optimizer: Literal["adam", "adamw", "adafactor", "sgd"] = "adam",
        lr: float = 1e-5,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        lr_schedule: Literal["constant", "linear", "cosine", "epoch_decay"] = "constant",
        lr_decay_start_epoch: int = 8,
        lr_decay_factor: float = 0.5,
        num_beams: int = 4,
        max_answer_length: int = 32,
        max_question_length: int = 48,
        meteor: Literal["java", "nltk", "none"] = "java",
        protocol: Literal["example", "grouped"] = "example",
        answer_references: Literal["first", "all"] = "first",
        loss_balancing: Literal["model", "fixed", "uncertainty", "gradnorm"] = "model",
        balancing_answer_weight: float = 0.5,
        gradnorm_alpha: float = 1.5,
        compile: bool = False,
        compile_backend: str = "inductor",
        vocab: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if lr_schedule == "epoch_decay" and warmup_steps:
            raise ValueError("lr_schedule epoch_decay steps by epoch and takes no warmup_steps")
        if answer_references not in ANSWER_REFERENCES:
            raise ValueError(
                f"answer_references must be one of {tuple(ANSWER_REFERENCES)}, "
                f"not {answer_references!r}"
            )
        self.save_hyperparameters()
        if loss_balancing != "model" and not type(self).supports_loss_balancing:
            raise ValueError(
                f"{type(self).__name__} cannot balance its task losses (see the comment at its "
                f"supports_loss_balancing); loss_balancing must be 'model', not {loss_balancing!r}"
            )
        self.tokenizer = None
        self.metrics = {
            stage: {task: TaskMetrics(meteor=meteor, protocol=protocol) for task in self.tasks}
            for stage in STAGES
        }
        self._predictions: list[dict[str, Any]] = []
        self._generation_cost = {stage: GenerationCost() for stage in STAGES}
        # compute_losses, or its compiled form once the model is built with compile=True.
        self._training_losses = self.compute_losses
        self._built = False

    # -- what subclasses provide ---------------------------------------------------------
    def build(self, vocab: Vocabulary) -> None:
        raise TypeError(f"{type(self).__name__} must define build(vocab)")

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        raise TypeError(f"{type(self).__name__} must define compute_losses(batch)")

    def generate_batch(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        raise TypeError(f"{type(self).__name__} must define generate_batch(batch)")

    def generate_candidates(
        self, batch: dict[str, Any], options: GenerationOptions | None = None, *, score: bool = True
    ) -> list[list[PairCandidate]]:
        """Candidate (answer, question) pairs per input row, best first, with their sequence
        log-probabilities (``score=False`` leaves them None and saves the scoring pass).

        The base serves only the default options, through ``generate_batch`` (one pair per
        row, no scores); a model that can return n-best lists or samples, score them, or
        constrain answers to the context overrides this (every pair model of the zoo does).
        """
        options = options or GenerationOptions()
        if not options.is_default:
            raise GenerationNotSupportedError(
                f"{type(self).__name__} supports only plain generation (one beam-searched "
                f"pair per sentence); {options} is not supported for this model"
            )
        outputs = self.generate_batch(batch)
        return [
            [PairCandidate(answer, question)]
            for answer, question in zip(outputs["answer"], outputs["question"], strict=True)
        ]

    def context_constraint(self, batch: dict[str, Any], **kwargs: Any) -> ContextSpanConstraint:
        """Decoding limited to token sequences of each row's context (``batch[keys.CONTEXTS]``
        tokenized as the data's ``{context}`` input is); ``kwargs`` go to the constraint."""
        contexts = self.tokenizer(list(batch[keys.CONTEXTS]), add_special_tokens=False)["input_ids"]
        vocab = self.vocab
        return ContextSpanConstraint(
            contexts, eos_token_id=vocab.eos_token_id, pad_token_id=vocab.pad_token_id, **kwargs
        )

    # -- construction --------------------------------------------------------------------
    def load_backbone(self, vocab: Vocabulary):
        """The configured backbone: pretrained (hub name or folder) or random-init of a named size
        and family."""
        hp = self.hparams
        overrides = {} if hp.dropout_rate is None else {"dropout_rate": hp.dropout_rate}
        if hp.backbone_size:
            return load_backbone(
                None,
                size=hp.backbone_size,
                family=hp.get("backbone_family", "t5"),
                vocab_size=vocab.size,
                pad_token_id=vocab.pad_token_id,
                eos_token_id=vocab.eos_token_id,
                **overrides,
            )
        backbone = load_backbone(hp.backbone, **overrides)
        if backbone.config.vocab_size < vocab.size:
            backbone.resize_token_embeddings(vocab.size)
        return backbone

    @property
    def vocab(self) -> Vocabulary:
        if self.hparams.vocab is None:
            raise RuntimeError(
                "the model has no vocabulary yet: it is built from the DataModule's tokenizer "
                "when training starts, or from a checkpoint's hyperparameters"
            )
        return Vocabulary(**self.hparams.vocab)

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        tokenizer = getattr(datamodule, "tokenizer", None)
        if tokenizer is None:
            return
        self.tokenizer = tokenizer
        answer_start, question_start = start_token_ids(tokenizer)
        vocab = Vocabulary(
            size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            answer_start_token_id=answer_start,
            question_start_token_id=question_start,
            tokenizer=str(getattr(tokenizer, "name_or_path", "") or ""),
            added_tokens=tuple(getattr(datamodule, "added_tokens", ())),
        )
        if self.hparams.vocab is not None and Vocabulary(**self.hparams.vocab).size != vocab.size:
            raise ValueError(
                f"the checkpoint's vocabulary has {self.hparams.vocab['size']} tokens, the "
                f"DataModule's tokenizer {len(tokenizer)}: use the tokenizer it was trained with"
            )
        self.hparams.vocab = asdict(vocab)

    def configure_model(self) -> None:
        if not self._built:
            self.build(self.vocab)
            self.balancer = self._make_balancer()
            if self.hparams.compile:
                self._training_losses = compile_losses(
                    self.compute_losses, backend=self.hparams.compile_backend
                )
            self._built = True

    def _make_balancer(self) -> LossBalancer:
        hp = self.hparams
        if hp.loss_balancing == "model":
            return LossBalancer("model")
        if set(self.tasks) != {"answer", "question"}:
            raise ValueError(
                f"loss_balancing={hp.loss_balancing!r} needs a model that trains both tasks; "
                f"{type(self).__name__} trains {self.tasks}"
            )
        encoder = shared_parameter_groups(self).get("encoder", [])
        matrices = [p for p in encoder if p.ndim >= 2]
        return LossBalancer(
            hp.loss_balancing,
            answer_weight=hp.balancing_answer_weight,
            alpha=hp.gradnorm_alpha,
            gradnorm_parameter=matrices[-1] if matrices else None,
        )

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self):
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        fused = {"fused": True} if self.device.type == "cuda" else {}
        if hp.optimizer == "adamw":
            optimizer = torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay, **fused)
        elif hp.optimizer == "adafactor":
            # T5's own optimiser, with the step scaled by each parameter's RMS: T5's input
            # embeddings start at std 1 and its projections near d**-0.5, and one absolute
            # Adam step size moves the first far more slowly than the second.
            optimizer = Adafactor(
                params,
                lr=hp.lr,
                weight_decay=hp.weight_decay,
                scale_parameter=True,
                relative_step=False,
                warmup_init=False,
            )
        elif hp.optimizer == "sgd":
            # Plain SGD, no momentum: DeepNQG's optimiser (Du et al. 2017, on OpenNMT).
            optimizer = torch.optim.SGD(params, lr=hp.lr, weight_decay=hp.weight_decay)
        else:
            optimizer = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay, **fused)
        if hp.warmup_steps == 0 and hp.lr_schedule == "constant":
            return optimizer
        if hp.lr_schedule == "epoch_decay":
            scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer,
                lambda epoch: epoch_decay_factor(
                    epoch, hp.lr_decay_start_epoch, hp.lr_decay_factor
                ),
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
            }
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, hp.warmup_steps, total, hp.lr_schedule)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # -- training ------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_index: int) -> torch.Tensor:
        losses = self._training_losses(batch)
        self.step_losses = losses
        size = len(batch[keys.IDS])
        loss, balance_values = self.balancer(losses)
        # Logged as device tensors, which Lightning converts only on the steps it logs. Not
        # with prog_bar=True: Lightning converts progress-bar values after every batch, a
        # host sync per step on CUDA (qapgen.callbacks.LoggingStepProgressBar shows the loss).
        self.log("train/loss", loss.detach(), batch_size=size)
        if balance_values:
            self.log_dict(balance_values, batch_size=size)
        # Every named part (``question_loss``, an auxiliary ``qa_loss`` ...) is logged.
        for name, value in losses.items():
            if name.endswith("_loss"):
                self.log(f"train/{name}", value.detach(), batch_size=size)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_index: int) -> None:
        self.step_losses = None
        self.balancer.renormalise()

    # -- evaluation ----------------------------------------------------------------------
    def validation_step(self, batch: dict[str, Any], batch_index: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_index: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict[str, Any], batch_index: int) -> list[dict[str, Any]]:
        return self._prediction_rows(batch, self.generate_batch(batch))

    def _evaluate(self, batch: dict[str, Any], stage: str) -> None:
        size = len(batch[keys.IDS])
        losses = self.compute_losses(batch)
        # The teacher-forced losses of held-out data, per task as in training: where n-gram
        # metrics cannot yet separate two models, ``val/question_loss`` can.
        for name, value in losses.items():
            if name == "loss" or name.endswith("_loss"):
                self.log(f"{stage}/{name}", value, batch_size=size, sync_dist=True)
        started = time.perf_counter()
        outputs = self.generate_batch(batch)  # decoded texts: the device has synchronised
        self._generation_cost[stage] += (time.perf_counter() - started, size)
        for task in self.tasks:
            self.metrics[stage][task].update(
                batch[keys.IDS], outputs[task], self._references(batch, task), batch[keys.CONTEXTS]
            )
        if stage == "test":
            self._predictions += self._prediction_rows(batch, outputs)

    def _references(self, batch: dict[str, Any], task: str) -> list[list[str]]:
        if task == "answer" and self.hparams.get("answer_references", "first") == "all":
            return [list(refs) for refs in batch[keys.ANSWER_REFERENCES]]
        return [[gold] for gold in batch[f"{task}s"]]

    def _prediction_rows(
        self, batch: dict[str, Any], outputs: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        rows = []
        for index, example_id in enumerate(batch[keys.IDS]):
            row = {
                "id": example_id,
                "context": batch[keys.CONTEXTS][index],
                "gold_question": batch[keys.QUESTIONS][index],
                "gold_answer": batch[keys.ANSWERS][index],
            }
            for task in self.tasks:
                row[f"predicted_{task}"] = outputs[task][index]
            rows.append(row)
        return rows

    def _log_stage_metrics(self, stage: str) -> None:
        self._log_generation_cost(stage)
        for task in self.tasks:
            values = self.metrics[stage][task].compute_prefixed(f"{stage}/{task}")
            # Every rank holds the same values (TaskMetrics gathers, de-duplicates and
            # broadcasts), so no further reduction is wanted.
            self.log_dict(values, sync_dist=False)
            self.metrics[stage][task].reset()

    def on_validation_epoch_end(self) -> None:
        self._log_stage_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_stage_metrics("test")
        rows = _gather_unique(self._predictions)
        self._predictions = []
        if self.trainer.is_global_zero and rows:
            path = Path(run_directory(self.trainer)) / "predictions" / "test.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(path, "w") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        if self.pair_scorer is not None and rows and set(self.tasks) == {"answer", "question"}:
            self._log_pair_scores(rows)

    def _log_pair_scores(self, rows: list[dict[str, Any]]) -> None:
        """``test/pair/*``: scored once, on global rank 0, and shared with every rank."""
        scores: dict[str, float] = {}
        if self.trainer.is_global_zero:
            try:
                scores = self.pair_scorer(rows)
            except ScorerUnavailableError as error:
                warnings.warn(
                    f"pair-level scores skipped: {error}; score the run's predictions later "
                    "with `qapgen evaluate --task pairs --predictions .../predictions/test.jsonl`",
                    stacklevel=2,
                )
        scores = self.trainer.strategy.broadcast(scores, src=0)
        for name, value in scores.items():
            self.log(f"test/pair/{name}", value, sync_dist=False)

    def _log_generation_cost(self, stage: str) -> None:
        """``{stage}/generation_seconds`` (the slowest rank's, which the epoch waits for)
        and ``{stage}/generation_samples_per_s`` (all ranks' rows over that time)."""
        cost = self._generation_cost[stage]
        self._generation_cost[stage] = GenerationCost()
        local = torch.tensor([cost.seconds, float(cost.samples)], device=self.device)
        ranks = self.all_gather(local).reshape(-1, 2).cpu()  # (world, 2)
        seconds, samples = ranks[:, 0].max().item(), ranks[:, 1].sum().item()
        if samples == 0:
            return
        self.log(f"{stage}/generation_seconds", seconds, sync_dist=False)
        self.log(f"{stage}/generation_samples_per_s", samples / max(seconds, 1e-9), sync_dist=False)

    # -- helpers for subclasses ----------------------------------------------------------
    def decode(self, token_ids: torch.Tensor) -> list[str]:
        """Token ids (B, T) -> texts, without special tokens or padding."""
        return [
            text.strip()
            for text in self.tokenizer.batch_decode(token_ids, skip_special_tokens=True)
        ]


# What each answer_references value scores against, as metrics.json records it.
ANSWER_REFERENCES = {
    "first": "the first gold answer",
    "all": "every gold answer of the question",
}


def group_candidates(
    answers: Sequence[str],
    questions: Sequence[str],
    answer_log_probs: Sequence[float] | None,
    question_log_probs: Sequence[float] | None,
    per_row: int,
) -> list[list[PairCandidate]]:
    """Flat, input-major candidate fields (row i*K + k is input i's k-th) -> K
    ``PairCandidate``s per input."""
    count = len(answers)
    answer_log_probs = [None] * count if answer_log_probs is None else list(answer_log_probs)
    question_log_probs = [None] * count if question_log_probs is None else list(question_log_probs)
    flat = [
        PairCandidate(answer, question, _float(answer_lp), _float(question_lp))
        for answer, question, answer_lp, question_lp in zip(
            answers, questions, answer_log_probs, question_log_probs, strict=True
        )
    ]
    return [flat[start : start + per_row] for start in range(0, count, per_row)]


def best_pairs(candidates: Sequence[Sequence[PairCandidate]]) -> dict[str, list[str]]:
    """``generate_batch``'s output from each row's best candidate."""
    return {
        "answer": [row[0].answer for row in candidates],
        "question": [row[0].question for row in candidates],
    }


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def lr_factor(step: int, warmup: int, total: int, schedule: str) -> float:
    """Multiplier of the base learning rate at ``step``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def epoch_decay_factor(epoch: int, start_epoch: int, factor: float) -> float:
    """Multiplier of the base learning rate in (0-based) ``epoch``: 1 through epoch
    ``start_epoch`` (1-based), then ``factor`` more after each later epoch ends, as OpenNMT's
    ``start_decay_at`` does (Du et al. 2017: halved after epoch 8 -> 1.0 for epochs 1-8, 0.5
    for epoch 9, 0.25 for epoch 10, ...)."""
    return factor ** max(0, epoch + 1 - start_epoch)


def run_directory(trainer: L.Trainer) -> str:
    """Where a run's files go: the first logger's version folder, else default_root_dir.

    Safe to call on rank 0 alone (as every writer of run files does): ``trainer.log_dir``
    would broadcast the path from rank 0, a collective that crashes or hangs under DDP
    when the other ranks do not call it too.
    """
    logger = trainer.loggers[0] if trainer.loggers else None
    if logger is None:
        return trainer.default_root_dir
    return getattr(logger, "log_dir", None) or logger.save_dir or trainer.default_root_dir


def _gather_unique(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """All ranks' rows, each id once (DistributedSampler pads with repeats)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        gathered: list[list[dict[str, Any]]] = [None] * dist.get_world_size()  # type: ignore[list-item]
        dist.all_gather_object(gathered, list(rows))
        rows = [row for part in gathered for row in part]
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(str(row["id"]), row)
    return list(unique.values())
