"""QAPGenerator: question-answer pairs from any text with a trained qapgen model.

Sentences are found with the data preparation's segmentation and encoded with the model's
own input features (for IGJA-QAP, the sentence + ``</s>``), exactly as in training, then
decoded in batches on the model's device through the model's ``generate_candidates``:
every pair model of the zoo returns K scored candidates per sentence from its own inference
path (beam n-best or nucleus samples, answers optionally constrained to the context), and
with default options exactly the pair that validation and test score. A model that defines
only ``generate_batch`` gets plain generation and refuses the other options.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from qapgen.data.datamodule import Collator, EncodedExample
from qapgen.data.features import TextFeature, encode_features
from qapgen.data.records import QARecord
from qapgen.export import LoadedModel, ModelLoadError, load_model
from qapgen.generate.consistency import ConsistencyFilter
from qapgen.generate.readers import Document, ReadReport
from qapgen.generate.sentences import SegmentReport, Sentence, iter_sentences
from qapgen.models.base import GenerationOptions, PairCandidate

PAIR_TASKS = frozenset({"answer", "question"})


@dataclass(frozen=True)
class GeneratedPair:
    """One generated question-answer pair and where it came from.

    ``rank`` orders a sentence's pairs (0 = the model's best). Log-probabilities are sums
    over the sequence's tokens (None for models that do not score). The consistency fields
    are set when a consistency filter ran.
    """

    document: str
    sentence_index: int
    sentence: str
    question: str
    answer: str
    rank: int = 0
    answer_log_prob: float | None = None
    question_log_prob: float | None = None
    qa_answer: str | None = None
    consistency_f1: float | None = None
    consistent: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GenerationSummary:
    """Counts for the end-of-run summary: what was read, repaired, cut and dropped."""

    read: ReadReport = field(default_factory=ReadReport)
    segments: SegmentReport = field(default_factory=SegmentReport)
    truncated_sentences: int = 0
    pairs: int = 0
    duplicates_dropped: int = 0
    empty_dropped: int = 0
    inconsistent_dropped: int = 0
    inconsistent_flagged: int = 0

    def lines(self, max_source_length: int) -> list[str]:
        """Human-readable lines; repairs and drops are listed only when they happened."""
        lines = [
            f"{self.read.documents} documents, {self.segments.sentences} sentences, "
            f"{self.pairs} pairs"
        ]
        notes = {
            "empty documents skipped": self.read.empty_documents,
            **{f"{reason} skipped": count for reason, count in sorted(self.read.skipped.items())},
            "documents read as Windows-1252 (not UTF-8)": self.read.windows_1252_documents,
            "undecodable bytes replaced with U+FFFD": self.read.undecodable_bytes,
            "over-long lines windowed before segmentation": self.segments.windowed_lines,
            f"sentences truncated to {max_source_length} tokens": self.truncated_sentences,
            "duplicate pairs dropped": self.duplicates_dropped,
            "empty pairs dropped": self.empty_dropped,
            "inconsistent pairs dropped": self.inconsistent_dropped,
            "inconsistent pairs flagged": self.inconsistent_flagged,
        }
        lines += [f"{count} {what}" for what, count in notes.items() if count]
        return lines


class QAPGenerator:
    """Generates question-answer pairs with a trained model.

    Args:
        loaded: a model with its tokenizer (see ``qapgen.export.load_model``).
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1`` ...
        batch_size: sentences per forward pass.
        num_beams: beam width (None keeps the model's own).
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        device: str = "auto",
        batch_size: int = 16,
        num_beams: int | None = None,
    ) -> None:
        model = loaded.model
        if not PAIR_TASKS <= set(model.tasks):
            raise ModelLoadError(
                f"{type(model).__name__} generates only {', '.join(model.tasks)}; "
                "qapgen generate needs a model that produces question-answer pairs"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelLoadError(f"device {device!r} asked for, but CUDA is not available")
        if num_beams is not None:
            # every model's generate_batch reads its beam width from the hyperparameters
            model.hparams.num_beams = num_beams
        self.loaded = loaded
        self.model = model.to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.features = tuple(
            f for f in model.data_features if isinstance(f, TextFeature) and f.role == "input"
        )
        self.collate = Collator(self.features, loaded.tokenizer.pad_token_id)
        self.summary = GenerationSummary()

    @classmethod
    def from_pretrained(
        cls, path: str | Path, *, class_path: str | None = None, **kwargs: Any
    ) -> QAPGenerator:
        """From an exported folder or a Lightning checkpoint (``kwargs``: see the class)."""
        return cls(load_model(path, class_path=class_path), **kwargs)

    @property
    def max_source_length(self) -> int:
        return self.loaded.max_source_length

    def generate(
        self,
        texts: str | Sequence[str] | Sequence[Document],
        *,
        pairs_per_sentence: int = 1,
        do_sample: bool = False,
        top_p: float = 0.9,
        answer_in_context: bool = False,
        consistency: ConsistencyFilter | None = None,
    ) -> list[GeneratedPair]:
        """Pairs for each sentence of each text (a string is one text; texts are named
        ``text-0``, ``text-1`` ... unless given as ``Document``s)."""
        if isinstance(texts, str):
            texts = [texts]
        documents = [
            t if isinstance(t, Document) else Document(f"text-{i}", t) for i, t in enumerate(texts)
        ]
        self.summary.read.documents += len(documents)
        options = self.options(pairs_per_sentence, do_sample, top_p, answer_in_context)
        return list(self.generate_from_documents(documents, options, consistency=consistency))

    @staticmethod
    def options(
        pairs_per_sentence: int = 1,
        do_sample: bool = False,
        top_p: float = 0.9,
        answer_in_context: bool = False,
    ) -> GenerationOptions:
        """Checked ``GenerationOptions`` from user-facing settings."""
        if pairs_per_sentence < 1:
            raise ValueError(f"pairs per sentence must be at least 1, not {pairs_per_sentence}")
        if do_sample and not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], not {top_p}")
        return GenerationOptions(
            num_return_sequences=pairs_per_sentence,
            do_sample=do_sample,
            top_p=top_p if do_sample else 1.0,
            answer_in_context=answer_in_context,
        )

    def generate_from_documents(
        self,
        documents: Iterable[Document],
        options: GenerationOptions | None = None,
        *,
        consistency: ConsistencyFilter | None = None,
        progress: bool = False,
    ) -> Iterator[GeneratedPair]:
        """Stream pairs document by document, batch by batch (bounded memory)."""
        options = options or GenerationOptions()
        sentences = iter_sentences(documents, self.summary.segments)
        with tqdm(desc="generating", unit=" sentences", disable=not progress, leave=False) as bar:
            for batch in _batches(sentences, self.batch_size):
                yield from self._generate_batch(batch, options, consistency)
                bar.update(len(batch))

    @torch.no_grad()
    def _generate_batch(
        self,
        sentences: list[Sentence],
        options: GenerationOptions,
        consistency: ConsistencyFilter | None,
    ) -> list[GeneratedPair]:
        candidates = self.model.generate_candidates(self._encode(sentences), options)
        pairs = [
            GeneratedPair(
                s.document,
                s.index,
                s.text,
                c.question,
                c.answer,
                rank,
                c.answer_log_prob,
                c.question_log_prob,
            )
            for s, row in zip(sentences, candidates, strict=True)
            for rank, c in enumerate(self._distinct(row))
        ]
        if consistency is not None:
            pairs = self._check_consistency(pairs, consistency)
        self.summary.pairs += len(pairs)
        return pairs

    def _encode(self, sentences: list[Sentence]) -> dict[str, Any]:
        records = [
            QARecord(f"{s.document}#{s.index}", "generate", "generate", s.text, "", "")
            for s in sentences
        ]
        hp = self.model.hparams
        limits = {
            "source": self.max_source_length,
            "answer": hp.max_answer_length,
            "question": hp.max_question_length,
        }
        rows, counters = encode_features(records, self.features, self.loaded.tokenizer, limits)
        self.summary.truncated_sentences += max(
            (counters.get(f"truncated/{f.name}", 0) for f in self.features), default=0
        )
        batch = self.collate([EncodedExample(r, f) for r, f in zip(records, rows, strict=True)])
        return {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}

    def _distinct(self, candidates: list[PairCandidate]) -> list[PairCandidate]:
        """The candidates without empty or repeated pairs (compared case- and
        space-insensitively), in the model's order."""
        seen: set[tuple[str, str]] = set()
        kept = []
        for candidate in candidates:
            key = (_canonical(candidate.question), _canonical(candidate.answer))
            if not all(key):
                self.summary.empty_dropped += 1
            elif key in seen:
                self.summary.duplicates_dropped += 1
            else:
                seen.add(key)
                kept.append(candidate)
        return kept

    def _check_consistency(
        self, pairs: list[GeneratedPair], consistency: ConsistencyFilter
    ) -> list[GeneratedPair]:
        checks = consistency.check(
            [p.sentence for p in pairs], [p.question for p in pairs], [p.answer for p in pairs]
        )
        kept = []
        for pair, check in zip(pairs, checks, strict=True):
            checked = GeneratedPair(
                **{
                    **pair.to_dict(),
                    "qa_answer": check.qa_answer,
                    "consistency_f1": check.f1,
                    "consistent": check.consistent,
                }
            )
            if check.consistent:
                kept.append(checked)
            elif consistency.keep_inconsistent:
                self.summary.inconsistent_flagged += 1
                kept.append(checked)
            else:
                self.summary.inconsistent_dropped += 1
        return kept


def _canonical(text: str) -> str:
    return " ".join(text.lower().split())


def _batches(sentences: Iterable[Sentence], size: int) -> Iterator[list[Sentence]]:
    batch: list[Sentence] = []
    for sentence in sentences:
        batch.append(sentence)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
