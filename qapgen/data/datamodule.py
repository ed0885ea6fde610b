"""QAPDataModule: the one LightningDataModule every model in the zoo trains on."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset
from transformers import PreTrainedTokenizerBase

from qapgen.atomic_files import atomic_folder
from qapgen.data.cache import check_manifest, load_checked, write_manifest
from qapgen.data.errors import CorruptCacheError
from qapgen.data.features import (
    DEFAULT_FEATURES,
    IGNORE_INDEX,
    AnswerSpan,
    Feature,
    TextFeature,
    encode_features,
)
from qapgen.data.fixtures import FIXTURES_PATH, fixture_path
from qapgen.data.prepare import PreparedData, PrepareOptions, default_cache_dir, prepare
from qapgen.data.records import QARecord
from qapgen.data.resumable import ResumableDataLoader
from qapgen.data.sampler import LengthGroupedSampler
from qapgen.data.tokenizer import (
    build_word_tokenizer,
    load_tokenizer,
    start_token_ids,
    train_tokenizer,
)
from qapgen.performance import bucket_width

log = logging.getLogger(__name__)


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


class QAPDataModule(L.LightningDataModule):
    """Prepared QA records -> tokenized, length-grouped, dynamically padded batches.

    Args:
        dataset: ``squad``, ``newsqa`` or ``coqa``.
        path: official source file or folder; ``fixtures`` for the project's own fixtures;
            None for ``$QAPGEN_DATA_DIR``, else the Hugging Face hub.
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
        seed: fixes the training order (with the epoch).
        num_workers: DataLoader workers.
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
        num_workers: int = 0,
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
        self.num_workers = num_workers
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self._features_override = features
        self.prepared: PreparedData | None = None
        self.tokenizer = None
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
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
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
            "ids": [e.record.id for e in examples],
            "contexts": [e.record.context for e in examples],
            "questions": [e.record.question for e in examples],
            "answers": [e.record.answer for e in examples],
            # Every gold answer, the first (the training target) first: SQuAD dev questions
            # carry up to three crowd answers.
            "answer_references": [answer_references(e.record) for e in examples],
        }
        for feature in self.features:
            if isinstance(feature, AnswerSpan):
                spans = [e.features["answer_span"] for e in examples]
                batch["answer_start_positions"] = torch.tensor(
                    [s[0] if s else IGNORE_INDEX for s in spans], dtype=torch.long
                )
                batch["answer_end_positions"] = torch.tensor(
                    [s[1] if s else IGNORE_INDEX for s in spans], dtype=torch.long
                )
                batch["answer_is_span"] = torch.tensor([s is not None for s in spans])
                continue
            sequences = [e.features[feature.name] for e in examples]
            width = bucket_width(
                max(len(s) for s in sequences),
                self.buckets,
                self.max_lengths.get(feature.max_length_key),
            )
            pad = self.pad_token_id if feature.role == "input" else IGNORE_INDEX
            ids = torch.full((len(sequences), width), pad, dtype=torch.long)
            for row, sequence in enumerate(sequences):
                ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
            if feature.role == "input":
                mask = torch.zeros_like(ids)
                for row, sequence in enumerate(sequences):
                    mask[row, : len(sequence)] = 1
                batch[f"{feature.name}_ids"] = ids
                batch[f"{feature.name}_attention_mask"] = mask
            else:
                batch[f"{feature.name}_labels"] = ids
        return batch
