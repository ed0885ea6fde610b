"""QAPDataModule: the one LightningDataModule every model in the zoo trains on."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from torch.utils.data import DataLoader, Dataset
from transformers import PreTrainedTokenizerBase

from qapgen.atomic_files import atomic_folder
from qapgen.data import batch_keys as keys
from qapgen.data.cache import check_manifest, load_checked, write_manifest
from qapgen.data.errors import CorruptCacheError
from qapgen.data.features import (
    ANSWER_TARGET,
    DEFAULT_FEATURES,
    IGNORE_INDEX,
    QUESTION_TARGET,
    AnswerSpan,
    Feature,
    TextFeature,
    encode_features,
    format_tokens,
)
from qapgen.data.fixtures import FIXTURES_PATH, fixture_path
from qapgen.data.padding import bucket_width
from qapgen.data.prepare import PreparedData, PrepareOptions, default_cache_dir, prepare
from qapgen.data.records import QARecord
from qapgen.data.resumable import ResumableDataLoader
from qapgen.data.sampler import LengthGroupedSampler
from qapgen.data.tokenizer import (
    ANSWER_START_TOKEN,
    QUESTION_START_TOKEN,
    add_missing_tokens,
    build_word_tokenizer,
    load_tokenizer,
    start_token_ids,
    train_tokenizer,
)

log = logging.getLogger(__name__)

# ``num_workers: auto`` on CUDA: examples are tokenized ahead (setup), so workers only
# collate; a few keep one GPU fed, and more would only take cores from the other ranks.
MAX_AUTO_WORKERS = 4


def _load_cached_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """A tokenizer the data module trained, once its files pass their checksums."""
    check_manifest(folder)
    try:
        return load_tokenizer(str(folder))
    except (OSError, ValueError) as error:
        raise CorruptCacheError(f"it does not load ({error})") from error


@dataclass
class EncodedExample:
    record: QARecord
    features: dict[str, Any]


class EncodedDataset(Dataset):
    def __init__(self, examples: list[EncodedExample]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> EncodedExample:
        return self.examples[index]


@dataclass(frozen=True)
class LoaderSettings:
    """How the DataModule's DataLoaders load: worker processes and pinned host memory."""

    num_workers: int
    pin_memory: bool

    @property
    def persistent_workers(self) -> bool:
        # Workers outlive each epoch rather than being forked again for every one.
        return self.num_workers > 0


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity, which schedulers such as SLURM
    restrict), else every core of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def loader_settings(
    num_workers: int | Literal["auto"],
    *,
    on_cuda: bool,
    processes_per_node: int = 1,
    cpus: int | None = None,
) -> LoaderSettings:
    """Resolve ``QAPDataModule``'s ``num_workers`` for a run on CUDA or not.

    ``auto``: on CUDA, ``min(4, cpus // processes_per_node - 1)`` workers (one core left to
    each training process; every DDP process on a node starts its own workers), else 0, so
    CPU runs and the test suite collate in the main process. Pinned memory exactly on
    CUDA: host-to-device copies of pinned batches are faster and can be asynchronous.
    """
    if num_workers == "auto":
        if on_cuda:
            share = (available_cpus() if cpus is None else cpus) // max(processes_per_node, 1)
            workers = max(0, min(MAX_AUTO_WORKERS, share - 1))
        else:
            workers = 0
    elif isinstance(num_workers, int) and not isinstance(num_workers, bool) and num_workers >= 0:
        workers = num_workers
    else:
        raise ValueError(f"data.num_workers: expected auto or an integer >= 0, got {num_workers!r}")
    return LoaderSettings(num_workers=workers, pin_memory=on_cuda)


class QAPDataModule(L.LightningDataModule):
    """Prepared QA records -> tokenized, length-grouped, dynamically padded batches.

    Args:
        dataset: ``squad``, ``newsqa`` or ``coqa``.
        path: official source file or folder, or a prepared-data folder written by ``qapgen
            data prepare --out`` (read as is: no sources needed); ``fixtures`` for the
            project's own fixtures; None for ``$QAPGEN_DATA_DIR``, else the Hugging Face hub.
        tokenizer: a hub name (``t5-base``) or a local folder; ``train`` trains a
            T5-compatible unigram tokenizer on the training split, ``words`` builds a
            word-level vocabulary from it (DeepNQG's); either is saved beside the cache.
        tokenizer_vocab_size: vocabulary size when training or building one.
        batch_size / eval_batch_size: per-device batch sizes for training / generation.
        max_source_length / max_answer_length / max_question_length: token limits
            (including ``</s>``); longer texts are truncated and counted.
        val_split / test_split: which prepared split validation / test use (the overfit
            profile sets both to ``train``).
        limit_examples: keep only the first N records of each split (tiny runs).
        split: ``paper`` (the paper's split) or ``du2017`` (SQuAD: Du et al.'s article lists).
        segmenter: ``pysbd`` or ``punkt``; None takes the dataset's default.
        sentence_policy: ``unique`` or ``every_pair``; None takes the dataset's default.
        coqa_context, coqa_unanswerable, split_seed, article_split: preparation options
            (see PrepareOptions).
        seed: fixes the training order (with the epoch). The order comes from the sampler
            in the main process, so it does not depend on ``num_workers``; workers are
            seeded from a generator seeded with ``seed``.
        num_workers: DataLoader worker processes. ``auto`` (default): on CUDA ``min(4,
            cores - 1)`` per training process, else 0 (see ``loader_settings``); an
            integer is used as given. Workers persist across epochs. CUDA is the attached
            trainer's accelerator, or ``torch.cuda.is_available()`` without a trainer.
            Batches are pinned in host memory exactly when loading for CUDA.
        cache_dir: prepared data and trained tokenizers (default ``$QAPGEN_CACHE_DIR``
            or ``~/.cache/qapgen``).
        features: override the features the model declares (rarely needed).
        pad_to_buckets: pad each text feature's width (input, answer and question
            separately) up to the smallest of these sizes that holds the batch's longest
            row, capped at the feature's max length, instead of to that row's length. A
            compiled training step then sees a few shapes (one compile each) instead of
            one per batch; padding is masked, so losses do not change. None: dynamic
            padding (fastest in eager mode).
    """

    def __init__(
        self,
        dataset: str = "squad",
        path: str | None = None,
        tokenizer: str = "t5-base",
        tokenizer_vocab_size: int = 8000,
        batch_size: int = 16,
        eval_batch_size: int = 64,
        max_source_length: int = 128,
        max_answer_length: int = 32,
        max_question_length: int = 48,
        val_split: str = "val",
        test_split: str = "test",
        limit_examples: int | None = None,
        split: str = "paper",
        segmenter: str | None = None,
        sentence_policy: str | None = None,
        coqa_context: str = "rationale",
        coqa_unanswerable: str = "keep",
        split_seed: int = 0,
        article_split: tuple[int, int, int] | None = None,
        seed: int = 0,
        num_workers: int | Literal["auto"] = "auto",
        cache_dir: str | None = None,
        features: tuple[Feature, ...] | None = None,
        pad_to_buckets: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["features"])
        self.pad_to_buckets = sorted(pad_to_buckets) if pad_to_buckets else None
        self.dataset_name = dataset
        self.path = path
        self.tokenizer_name = tokenizer
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.max_lengths = {
            "source": max_source_length,
            "answer": max_answer_length,
            "question": max_question_length,
        }
        self.splits = {"train": "train", "val": val_split, "test": test_split}
        self.limit_examples = limit_examples
        self.options = PrepareOptions(
            coqa_context=coqa_context,
            coqa_unanswerable=coqa_unanswerable,
            split=split,
            segmenter=segmenter,
            sentence_policy=sentence_policy,
            split_seed=split_seed,
            article_split=tuple(article_split) if article_split else None,
        )
        self.seed = seed
        # Checked now, so that a bad value fails at construction, not at the first batch.
        loader_settings(num_workers, on_cuda=False)
        self.num_workers = num_workers
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self._features_override = features
        self.prepared: PreparedData | None = None
        self.tokenizer = None
        # Tokens setup added to the loaded tokenizer for the features' formats (<hl>, <sep>).
        self.added_tokens: list[str] = []
        self.datasets: dict[str, EncodedDataset] = {}
        self.report: dict[str, Any] = {}

    # -- preparation -------------------------------------------------------------------
    def _source_path(self) -> str | Path | None:
        if self.path == FIXTURES_PATH:
            return fixture_path(self.dataset_name)
        return self.path

    def prepare_data(self) -> None:
        """Read and cache the prepared splits (and train a tokenizer if asked), once."""
        self._load_prepared()
        self._load_tokenizer()

    def _load_prepared(self) -> PreparedData:
        if self.prepared is None:
            self.prepared = prepare(
                self.dataset_name, self._source_path(), self.options, cache_dir=self.cache_dir
            )
        return self.prepared

    def _load_tokenizer(self):
        if self.tokenizer is not None:
            return self.tokenizer
        builders = {"train": train_tokenizer, "words": build_word_tokenizer}
        if self.tokenizer_name not in builders:
            self.tokenizer = load_tokenizer(self.tokenizer_name)
            return self.tokenizer
        prepared = self._load_prepared()
        train = prepared.splits["train"]
        if not train:
            raise ValueError(
                f"tokenizer: {self.tokenizer_name} needs a training split, but "
                f"{self.dataset_name} at {self._source_path()} has none"
            )
        texts = [text for r in train for text in (r.context, r.question, r.answer)]
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
        vocab = self.hparams.tokenizer_vocab_size
        kind = "" if self.tokenizer_name == "train" else f"{self.tokenizer_name}-"
        folder = self.cache_dir / "tokenizers" / f"{kind}{self.dataset_name}-{digest}-v{vocab}"
        self.tokenizer = load_checked(folder, _load_cached_tokenizer, "tokenizer")
        if self.tokenizer is None:
            with atomic_folder(folder) as building:
                builders[self.tokenizer_name](texts, vocab, building)
                write_manifest(building)
            # Loaded from where it now lives: checkpoints record the tokenizer's location.
            self.tokenizer = _load_cached_tokenizer(folder)
        return self.tokenizer

    @property
    def start_token_ids(self) -> tuple[int, int]:
        return start_token_ids(self._load_tokenizer())

    def features(self) -> tuple[Feature, ...]:
        """What to build: the override, else what the attached model declares, else defaults."""
        if self._features_override is not None:
            return tuple(self._features_override)
        model = self.trainer.lightning_module if self.trainer is not None else None
        declared = getattr(model, "data_features", None)
        return tuple(declared) if declared else DEFAULT_FEATURES

    def setup(self, stage: str | None = None) -> None:
        prepared = self._load_prepared()
        tokenizer = self._load_tokenizer()
        features = self.features()
        # The task start tokens, and the whole tokens the features write (QG-Bench's <hl> and
        # <sep>): a tokenizer without them (BART's) gets them after every existing id, and the
        # model's vocabulary records them (Vocabulary.added_tokens).
        self.added_tokens += add_missing_tokens(
            tokenizer, (ANSWER_START_TOKEN, QUESTION_START_TOKEN, *format_tokens(features))
        )
        for role, split in self.splits.items():
            records = prepared.splits[split]
            if self.limit_examples is not None:
                records = records[: self.limit_examples]
            rows, counters = encode_features(records, features, tokenizer, self.max_lengths)
            self.datasets[role] = EncodedDataset(
                [EncodedExample(r, f) for r, f in zip(records, rows, strict=True)]
            )
            self.report[role] = {"split": split, "examples": len(records), **counters}
            truncated = {k: v for k, v in counters.items() if v}
            if truncated:
                log.warning("%s (%s split): %s", role, split, truncated)
        self._features = features

    # -- loading -----------------------------------------------------------------------
    def loader_settings(self) -> LoaderSettings:
        """``num_workers`` resolved for the attached trainer's accelerator (see the module
        function ``loader_settings``)."""
        if self.trainer is None:
            return loader_settings(self.num_workers, on_cuda=torch.cuda.is_available())
        return loader_settings(
            self.num_workers,
            on_cuda=isinstance(self.trainer.accelerator, CUDAAccelerator),
            processes_per_node=self.trainer.num_devices,
        )

    def _loader(self, role: str, batch_size: int, shuffle: bool) -> DataLoader:
        dataset = self.datasets[role]
        source = next(
            (f for f in self._features if isinstance(f, TextFeature) and f.role == "input"), None
        )
        lengths = [len(e.features[source.name]) if source else 0 for e in dataset.examples]
        sampler = LengthGroupedSampler(lengths, batch_size, shuffle=shuffle, seed=self.seed)
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        # Only training resumes mid-epoch; evaluation loaders are unshuffled and restart whole.
        loader_class = ResumableDataLoader if role == "train" else DataLoader
        settings = self.loader_settings()
        return loader_class(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=Collator(
                self._features,
                self.tokenizer.pad_token_id,
                buckets=self.pad_to_buckets,
                max_lengths=self.max_lengths,
            ),
            num_workers=settings.num_workers,
            persistent_workers=settings.persistent_workers,
            pin_memory=settings.pin_memory,
            generator=generator,
        )

    def train_dataloader(self) -> ResumableDataLoader:
        """Shuffled by ``seed + epoch``; its state (epoch, batches taken) resumes mid-epoch."""
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)


def answer_references(record: QARecord) -> list[str]:
    """The record's gold answer, then its distinct alternative answers."""
    references = [record.answer]
    for alternative in record.source.get("alternatives", []):
        if alternative and alternative not in references:
            references.append(alternative)
    return references


class Collator:
    """Pads each feature of a list of examples into one batch: to the longest row (dynamic
    padding), or with ``buckets`` to the bucket that holds it, capped at the feature's
    entry in ``max_lengths`` (see ``QAPDataModule``'s ``pad_to_buckets``)."""

    def __init__(
        self,
        features: tuple[Feature, ...],
        pad_token_id: int,
        *,
        buckets: list[int] | None = None,
        max_lengths: dict[str, int] | None = None,
    ) -> None:
        self.features = features
        self.pad_token_id = pad_token_id
        self.buckets = buckets
        self.max_lengths = max_lengths or {}

    def __call__(self, examples: list[EncodedExample]) -> dict[str, Any]:
        batch: dict[str, Any] = {
            keys.IDS: [e.record.id for e in examples],
            keys.CONTEXTS: [e.record.context for e in examples],
            keys.QUESTIONS: [e.record.question for e in examples],
            keys.ANSWERS: [e.record.answer for e in examples],
            # Every gold answer, the first (the training target) first: SQuAD dev questions
            # carry up to three crowd answers.
            keys.ANSWER_REFERENCES: [answer_references(e.record) for e in examples],
        }
        for feature in self.features:
            if isinstance(feature, AnswerSpan):
                spans = [e.features["answer_span"] for e in examples]
                batch[feature.start_key] = torch.tensor(
                    [s[0] if s else IGNORE_INDEX for s in spans], dtype=torch.long
                )
                batch[feature.end_key] = torch.tensor(
                    [s[1] if s else IGNORE_INDEX for s in spans], dtype=torch.long
                )
                continue
            sequences = [e.features[feature.name] for e in examples]
            width = bucket_width(
                max(len(s) for s in sequences),
                self.buckets,
                self.max_lengths.get(feature.max_length_key),
            )
            pad = self.pad_token_id if feature.role == "input" else IGNORE_INDEX
            ids, tokens = pad_rows(sequences, width, pad)
            if feature.role == "input":
                batch[feature.ids_key] = ids
                batch[feature.mask_key] = tokens.long()
            else:
                batch[feature.labels_key] = ids
        if keys.ANSWER_LABELS in batch and keys.QUESTION_LABELS in batch:
            # The longest answer plus question of one row: the width of a decoder call that
            # packs both targets row by row (IGJA-QAP), known here without reading a tensor
            # back from the device.
            answer_width = batch[keys.ANSWER_LABELS].size(1)
            question_width = batch[keys.QUESTION_LABELS].size(1)
            batch[keys.ANSWER_QUESTION_WIDTH] = max(
                min(len(e.features[ANSWER_TARGET.name]), answer_width)
                + min(len(e.features[QUESTION_TARGET.name]), question_width)
                for e in examples
            )
        return batch


def pad_rows(sequences: list[list[int]], width: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, tokens)``: the rows left-aligned in a ``(B, width)`` long tensor filled with
    ``pad``, and a bool ``(B, width)`` mask of where their tokens are.

    Built from one tensor of all the rows' tokens, not a tensor write per row: that Python
    loop was most of a batch's collation time.
    """
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    tokens = torch.arange(width) < lengths[:, None]  # (B, width)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    # masked_scatter_ fills the True positions in row-major order: exactly the rows'
    # tokens one row after the other.
    ids.masked_scatter_(
        tokens, torch.tensor(list(chain.from_iterable(sequences)), dtype=torch.long)
    )
    return ids, tokens
