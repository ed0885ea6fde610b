"""Benchmark: training and generation throughput of qapgen against a plain HF T5 loop.

    python -m bench.bench_train [--size tiny|t5-small-shape|t5-base-shape] [--device cpu|cuda]
                                [--compile] [--data PATH [--dataset squad] [--tokenizer NAME]]
                                [--ratio-size t5-small-shape|none] [--out bench/results/<device>]

In one process, on the sentence-level length profile (synthetic token ids) and, with
``--data``, on prepared real data, it measures (see bench/README.md for every number):

- training: a plain ``T5ForConditionalGeneration`` eager loop (batch 16, dynamic padding,
  bf16 autocast on CUDA, AdamW) as the baseline; qapgen T5-QG and IGJA-QAP through the
  Lightning Trainer (qapgen's real path); each at batch 16 and at batch 256, or the largest
  that fits: samples/s, tokens/s, MFU against the device's bf16 peak, peak memory;
- generation: beam-4 samples/s of HF ``generate``, T5-QG and IGJA-QAP's two-stage decoding;
- evaluation: seconds for IGJA-QAP's test (beam-4 generation and every metric) over 4,009
  items, the size of the SQuAD sentence-level test split (scaled down on CPU).

Writes ``OUT.json`` and ``OUT.md``. Not a test; ``make bench`` runs the CPU tiny size.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import re
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from torch._dynamo.utils import counters
from torch.utils.data import DataLoader
from transformers import T5ForConditionalGeneration

from baselines.t5_qg import T5QGModule
from bench import ratios
from bench.synthetic import (
    MAX_LENGTHS,
    T5_VOCAB_SIZE,
    SyntheticTokenizer,
    synthetic_examples,
    synthetic_vocabulary,
)
from qapgen.atomic_files import atomic_write_text
from qapgen.data import batch_keys as keys
from qapgen.data.datamodule import Collator, EncodedDataset, EncodedExample, QAPDataModule
from qapgen.data.features import DEFAULT_FEATURES, IGNORE_INDEX
from qapgen.data.sampler import LengthGroupedSampler
from qapgen.data.tokenizer import start_token_ids
from qapgen.metrics.wordnet import WordNetUnavailableError, load_wordnet
from qapgen.models.backbone import random_init_config
from qapgen.models.base import QAPModule, Vocabulary
from qapgen.models.igja_qap_module import IGJAQAPModule
from qapgen.performance import enable_tf32

# Dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets, without sparsity.
# Matched in order against torch.cuda.get_device_name().
BF16_PEAK_FLOPS: list[tuple[str, float]] = [
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM / HBM3
    ("H200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
]
SQUAD_SENTENCE_TEST_ITEMS = 4009  # IGJA-QAP's SQuAD test split (sentence level)
# tiny runs with a small vocabulary: the 32k-way softmax of 256 x 80 target tokens would
# take most of the CPU budget and say nothing about the code paths being exercised.
TINY_VOCAB_SIZE = 2000
# Compiled entries pad as a compiled training run does: to the buckets that
# conf/compile/training-step.yaml gives QAPDataModule's pad_to_buckets, each feature's width
# capped at its own max length (answers 32, questions 48), so answers of ~5 tokens pad to 16.
COMPILE_CONFIG = Path(__file__).resolve().parents[1] / "conf" / "compile" / "training-step.yaml"
COMPILE_BUCKETS: list[int] = yaml.safe_load(COMPILE_CONFIG.read_text())["data"]["pad_to_buckets"]


# -- data --------------------------------------------------------------------------------
@dataclass
class BenchData:
    """Examples to train and evaluate on, with the tokenizer they were made with."""

    name: str
    train: list[EncodedExample]
    test: list[EncodedExample]
    tokenizer: Any
    vocab: Vocabulary


def synthetic_data(args: argparse.Namespace, train_count: int) -> BenchData:
    tokenizer = SyntheticTokenizer(args.vocab_size)
    return BenchData(
        "synthetic sentence-level profile",
        synthetic_examples(train_count, tokenizer, seed=0),
        synthetic_examples(args.eval_items, tokenizer, seed=1),
        tokenizer,
        synthetic_vocabulary(args.vocab_size),
    )


def real_data(args: argparse.Namespace) -> BenchData:
    """The prepared train and test splits of ``--data`` (any path QAPDataModule reads)."""
    data = QAPDataModule(
        dataset=args.dataset,
        path=args.data,
        tokenizer=args.tokenizer,
        max_source_length=MAX_LENGTHS["source"],
        max_answer_length=MAX_LENGTHS["answer"],
        max_question_length=MAX_LENGTHS["question"],
        features=DEFAULT_FEATURES,
    )
    data.prepare_data()
    data.setup("fit")
    tokenizer = data.tokenizer
    answer_start, question_start = start_token_ids(tokenizer)
    vocab = Vocabulary(
        len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id, answer_start, question_start
    )
    test = data.datasets["test"].examples[: args.eval_items]
    if len(data.datasets["train"]) < 16:
        raise ValueError(f"--data {args.data}: the baseline needs 16 training examples or more")
    return BenchData(
        f"{args.dataset} at {args.data}", data.datasets["train"].examples, test, tokenizer, vocab
    )


def loader(
    examples: list[EncodedExample],
    features: tuple,
    batch_size: int,
    *,
    shuffle: bool,
    buckets: list[int] | None = None,
) -> DataLoader:
    """qapgen's loading path: length-grouped batches, dynamic (or bucketed) padding."""
    lengths = [len(e.features["input"]) for e in examples]
    return DataLoader(
        EncodedDataset(examples),
        batch_size=batch_size,
        sampler=LengthGroupedSampler(lengths, batch_size, shuffle=shuffle, seed=0),
        collate_fn=Collator(features, 0, buckets=buckets, max_lengths=MAX_LENGTHS),
    )


def useful_tokens(batch: dict[str, Any]) -> tuple[int, int]:
    """(input, target) tokens of a batch that are not padding."""
    source = int(batch[keys.INPUT_MASK].sum())
    target = sum(int((v != IGNORE_INDEX).sum()) for k, v in batch.items() if k.endswith("_labels"))
    return source, target


# -- measurement -------------------------------------------------------------------------
class Device:
    """Where the benchmark runs: synchronisation, peak memory and the bf16 peak."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.cuda = kind == "cuda"
        self.name = torch.cuda.get_device_name() if self.cuda else platform.processor() or "cpu"
        self.slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") if self.cuda else "cpu"
        self.peak_flops = next((f for key, f in BF16_PEAK_FLOPS if key in self.name), None)
        if self.cuda:
            enable_tf32()

    def synchronize(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def reset_peak_memory(self) -> None:
        if self.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def peak_memory_gib(self) -> float:
        """CUDA: the largest allocation since the reset. CPU: the process's resident-memory
        high-water mark so far (it never goes down, so later entries include earlier ones)."""
        if self.cuda:
            return torch.cuda.max_memory_allocated() / 2**30
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    def autocast(self):
        # bf16 on CUDA as qapgen's GPU configs train; fp32 on CPU, as conf/hardware/cpu.yaml.
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda)

    def is_out_of_memory(self, error: BaseException) -> bool:
        return self.cuda and isinstance(error, torch.cuda.OutOfMemoryError)


@dataclass
class Throughput:
    """Totals over the measured steps."""

    seconds: float = 0.0
    steps: int = 0
    samples: int = 0
    source_tokens: int = 0
    target_tokens: int = 0

    def add(self, batch: dict[str, Any]) -> None:
        source, target = useful_tokens(batch)
        self.steps += 1
        self.samples += len(batch[keys.IDS])
        self.source_tokens += source
        self.target_tokens += target


def training_flops_per_token(model: torch.nn.Module, backbone: T5ForConditionalGeneration):
    """(per source token, per target token) training FLOPs: 6 x the parameters a token
    passes through (forward 2, backward 4), the encoder for source tokens, the decoder, the
    LM head (d x V, tied to the embedding lookup, which costs nothing) and any other
    modules (pointer, gate) for target tokens; IGJA-QAP's two decoder passes are counted
    through its answer and question tokens. Attention scores are left out (short inputs)."""
    embedding = backbone.shared.weight.numel()
    encoder = sum(p.numel() for p in backbone.encoder.parameters()) - embedding
    decoder = sum(p.numel() for p in backbone.decoder.parameters()) - embedding
    head = backbone.config.d_model * backbone.config.vocab_size
    backbone_ids = {id(p) for p in backbone.parameters()}
    other = sum(p.numel() for p in model.parameters() if id(p) not in backbone_ids)
    return 6 * encoder, 6 * (decoder + head + other)


def summary(
    total: Throughput, flops: tuple[int, int], device: Device, batch_size: int
) -> dict[str, Any]:
    tokens = total.source_tokens + total.target_tokens
    flop = flops[0] * total.source_tokens + flops[1] * total.target_tokens
    achieved = flop / total.seconds
    return {
        "batch_size": batch_size,
        "steps": total.steps,
        "samples_per_s": round(total.samples / total.seconds, 2),
        "tokens_per_s": round(tokens / total.seconds, 1),
        "tflops": round(achieved / 1e12, 4),
        "mfu": round(achieved / device.peak_flops, 4) if device.peak_flops else None,
        "peak_mem_gib": round(device.peak_memory_gib(), 3),
    }


def hf_baseline_train(
    data: BenchData, batch_size: int, args: argparse.Namespace, device: Device
) -> dict[str, Any]:
    """A plain HF loop: random batches padded to their longest row, autocast, AdamW."""
    torch.manual_seed(0)
    config = random_init_config(args.size, vocab_size=data.vocab.size)
    model = T5ForConditionalGeneration(config).to(device.kind).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    features = (DEFAULT_FEATURES[0], DEFAULT_FEATURES[2])  # context -> question
    batches = DataLoader(
        EncodedDataset(data.train),
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        collate_fn=Collator(features, data.vocab.pad_token_id),
    )
    total = Throughput()
    for step, batch in enumerate(_cycle(batches)):
        if step == args.warmup:
            device.synchronize()
            device.reset_peak_memory()
            started = time.perf_counter()
        if step == args.warmup + args.steps:
            break
        with device.autocast():
            loss = model(
                input_ids=batch[keys.INPUT_IDS].to(device.kind, non_blocking=True),
                attention_mask=batch[keys.INPUT_MASK].to(device.kind, non_blocking=True),
                labels=batch[keys.QUESTION_LABELS].to(device.kind, non_blocking=True),
            ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= args.warmup:
            total.add(batch)
    device.synchronize()
    total.seconds = time.perf_counter() - started
    return summary(total, training_flops_per_token(model, model), device, batch_size)


class StepTimer(L.Callback):
    """Times the Trainer's steps after ``warmup``, counting samples and useful tokens."""

    def __init__(self, warmup: int, device: Device) -> None:
        self.warmup = warmup
        self.device = device
        self.total = Throughput()
        self.started: float | None = None
        self.graphs_at_start = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_index) -> None:
        if trainer.global_step == self.warmup and self.started is None:
            self.device.synchronize()
            self.device.reset_peak_memory()
            self.graphs_at_start = counters["stats"]["unique_graphs"]
            self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_index) -> None:
        if self.started is not None:
            self.total.add(batch)

    def on_train_end(self, trainer, pl_module) -> None:
        self.device.synchronize()
        self.total.seconds = time.perf_counter() - self.started


def new_model(
    model_class: type[QAPModule], data: BenchData, args: argparse.Namespace, **overrides
) -> QAPModule:
    torch.manual_seed(0)
    model = model_class(
        backbone_size=args.size,
        optimizer="adamw",
        lr=1e-4,
        num_beams=4,
        max_answer_length=MAX_LENGTHS["answer"],
        max_question_length=MAX_LENGTHS["question"],
        vocab=asdict(data.vocab),
        **overrides,
    )
    model.tokenizer = data.tokenizer
    return model


def trainer(device: Device, root: Path, **kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="gpu" if device.cuda else "cpu",
        devices=1,
        precision="bf16-mixed" if device.cuda else "32-true",
        default_root_dir=root,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        **kwargs,
    )


def qapgen_train(
    model_class: type[QAPModule],
    data: BenchData,
    batch_size: int,
    args: argparse.Namespace,
    device: Device,
    *,
    compile: bool = False,
) -> dict[str, Any]:
    """qapgen's training path: the model's LightningModule under the Trainer, fused AdamW
    on CUDA, bf16-mixed, length-grouped batches (bucketed when compiled)."""
    model = new_model(
        model_class,
        data,
        args,
        meteor="none",
        compile=compile,
        compile_backend=args.compile_backend,
    )
    warmup = args.compile_warmup if compile else args.warmup
    timer = StepTimer(warmup, device)
    batches = loader(
        data.train,
        model.data_features,
        batch_size,
        shuffle=True,
        buckets=COMPILE_BUCKETS if compile else None,
    )
    with tempfile.TemporaryDirectory() as root:
        trainer(device, Path(root), max_steps=warmup + args.steps, callbacks=[timer]).fit(
            model, train_dataloaders=batches
        )
    backbone = model.core.backbone if hasattr(model, "core") else model.backbone
    result = summary(timer.total, training_flops_per_token(model, backbone), device, batch_size)
    if compile:
        result["graphs_compiled_while_measured"] = (
            counters["stats"]["unique_graphs"] - timer.graphs_at_start
        )
    return result


def compiled_entry(
    model_class: type[QAPModule], data: BenchData, args: argparse.Namespace, device: Device
) -> dict[str, Any]:
    """The compiled bs16 entry; a compile failure is recorded in the results (and printed)
    rather than losing every other number of a GPU run to it."""
    try:
        return qapgen_train(model_class, data, 16, args, device, compile=True)
    except Exception as error:  # noqa: BLE001 - any compiler error; reported, not hidden
        message = f"{type(error).__name__}: {error}"
        print(f"bench: compiled {model_class.__name__} failed: {message}")
        return {"error": message[:2000]}


def largest_batch(
    measure: Callable[[int], dict[str, Any]], batch_size: int, device: Device
) -> dict[str, Any]:
    """``measure(batch_size)``, halving the batch until it fits the device's memory."""
    while True:
        try:
            return measure(batch_size)
        except RuntimeError as error:
            if not device.is_out_of_memory(error) or batch_size == 1:
                raise
            batch_size //= 2
            print(f"bench: out of memory, retrying at batch {batch_size}")
        finally:
            gc.collect()
            if device.cuda:
                torch.cuda.empty_cache()


# -- generation and evaluation -------------------------------------------------------------
def generation_throughput(
    generate: Callable[[dict[str, Any]], Any],
    examples: list[EncodedExample],
    features: tuple,
    args: argparse.Namespace,
    device: Device,
) -> dict[str, Any]:
    """Samples/s of ``generate(batch)`` over length-sorted batches of the eval batch size."""
    batches = [
        {k: v.to(device.kind) if isinstance(v, torch.Tensor) else v for k, v in b.items()}
        for b in loader(examples, features, args.eval_batch_size, shuffle=False)
    ]
    with torch.no_grad(), device.autocast():
        generate(batches[0])  # warm-up: kernels, allocator
        device.synchronize()
        device.reset_peak_memory()
        started = time.perf_counter()
        for batch in batches:
            generate(batch)
        device.synchronize()
    seconds = time.perf_counter() - started
    return {
        "items": len(examples),
        "batch_size": args.eval_batch_size,
        "seconds": round(seconds, 3),
        "samples_per_s": round(len(examples) / seconds, 2),
        "peak_mem_gib": round(device.peak_memory_gib(), 3),
    }


def generation_entries(data: BenchData, args: argparse.Namespace, device: Device) -> dict[str, Any]:
    """Beam-4 generation: HF ``generate`` (a question, 48 tokens at most) against T5-QG
    (the same through qapgen) and IGJA-QAP (an answer, then a question guided by it)."""
    items = data.test[: args.generation_items]
    entries = {}
    t5_qg = new_model(T5QGModule, data, args, meteor="none")
    t5_qg.configure_model()
    t5_qg.to(device.kind).eval()
    backbone = t5_qg.backbone

    def hf_generate(batch: dict[str, Any]) -> torch.Tensor:
        return backbone.generate(
            input_ids=batch[keys.INPUT_IDS],
            attention_mask=batch[keys.INPUT_MASK],
            num_beams=4,
            max_new_tokens=MAX_LENGTHS["question"],
            do_sample=False,
        )

    entries["hf_generate_beam4"] = generation_throughput(
        hf_generate, items, t5_qg.data_features, args, device
    )
    entries["t5_qg_beam4"] = generation_throughput(
        t5_qg.generate_batch, items, t5_qg.data_features, args, device
    )
    igja = new_model(IGJAQAPModule, data, args, meteor="none")
    igja.configure_model()
    igja.to(device.kind).eval()
    entries["igja_qap_two_stage_beam4"] = generation_throughput(
        igja.generate_batch, items, igja.data_features, args, device
    )
    return entries


def test_meteor(requested: str) -> str:
    """The METEOR the IGJA-QAP test uses: ``auto`` takes METEOR 1.5 where Java is, else
    nltk's where WordNet is, else none (a GPU machine may have neither; the report says
    which ran)."""
    if requested != "auto":
        return requested
    if shutil.which("java"):
        return "java"
    try:
        load_wordnet()
    except WordNetUnavailableError:
        return "none"
    return "nltk"


def igja_qap_test_seconds(
    data: BenchData, args: argparse.Namespace, device: Device
) -> dict[str, Any]:
    """Wall-clock seconds of ``trainer.test`` for IGJA-QAP: beam-4 two-stage generation in
    length-sorted batches, then BLEU-1..4, ROUGE-L and METEOR 1.5 for both tasks."""
    meteor = test_meteor(args.meteor)
    model = new_model(IGJAQAPModule, data, args, meteor=meteor)
    batches = loader(data.test, model.data_features, args.eval_batch_size, shuffle=False)
    with tempfile.TemporaryDirectory() as root:
        run = trainer(device, Path(root))
        started = time.perf_counter()
        metrics = run.test(model, dataloaders=batches, verbose=False)[0]
        seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "items": len(data.test),
        "batch_size": args.eval_batch_size,
        "generation_seconds": round(metrics["test/generation_seconds"], 2),
        "meteor": meteor,
    }


# -- the suite -----------------------------------------------------------------------------
def run_suite(
    data: BenchData,
    args: argparse.Namespace,
    device: Device,
    section: dict[str, Any],
    save: Callable[[], None] = lambda: None,
) -> None:
    """Fill ``section`` with ``train`` and ``eval`` entries, calling ``save`` after each, so
    that a run stopped at a time limit keeps what it measured."""
    train: dict[str, Any] = section.setdefault("train", {})
    evaluation: dict[str, Any] = section.setdefault("eval", {})
    print(f"bench: {data.name}: training")
    train["hf_baseline_bs16"] = hf_baseline_train(data, 16, args, device)
    save()
    for name, model_class in (("t5_qg", T5QGModule), ("igja_qap", IGJAQAPModule)):
        train[f"{name}_bs16"] = qapgen_train(model_class, data, 16, args, device)
        save()
        train[f"{name}_bs{args.large_batch}"] = largest_batch(
            lambda size, cls=model_class: qapgen_train(cls, data, size, args, device),
            args.large_batch,
            device,
        )
        save()
        if args.compile:
            train[f"{name}_bs16_compiled"] = compiled_entry(model_class, data, args, device)
            save()
        print(f"bench: {name}: {train[f'{name}_bs16']}")
    print(f"bench: {data.name}: generation and evaluation")
    evaluation.update(generation_entries(data, args, device))
    save()
    test = igja_qap_test_seconds(data, args, device)
    evaluation["igja_qap_squad_test_seconds"] = test["seconds"]
    evaluation["igja_qap_squad_test"] = test
    save()


def _cycle(batches: DataLoader) -> Iterator[dict[str, Any]]:
    while True:
        yield from batches


# -- output --------------------------------------------------------------------------------
def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"# Training and generation benchmark: {result['device']}",
        "",
        f"Backbone size `{result['size']}` (vocabulary {result['vocab_size']}), "
        f"{result['precision']}; {result['steps']} measured steps after {result['warmup']} "
        f"warm-up steps. Written by `python -m bench.bench_train` ({result['date']}); see "
        "bench/README.md for what each number means.",
        "",
    ]
    sections = [("Synthetic sentence-level profile", result)]
    if "real_data" in result:
        sections.append((f"Real data: {result['real_data']['name']}", result["real_data"]))
    for title, section in sections:
        lines += [
            f"## {title}",
            "",
            "| training | batch | samples/s | tokens/s | TFLOP/s | MFU | peak GiB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, entry in section["train"].items():
            if "error" in entry:
                lines.append(f"| {name} | failed: {entry['error'][:120]} | | | | | |")
                continue
            mfu = "n/a" if entry["mfu"] is None else f"{entry['mfu']:.1%}"
            if entry.get("graphs_compiled_while_measured"):
                name += f" ({entry['graphs_compiled_while_measured']} compiles timed)"
            lines.append(
                f"| {name} | {entry['batch_size']} | {entry['samples_per_s']} | "
                f"{entry['tokens_per_s']} | {entry['tflops']} | {mfu} | {entry['peak_mem_gib']} |"
            )
        lines += ["", "| generation (beam 4) | items | batch | samples/s |", "|---|---:|---:|---:|"]
        for name, entry in section["eval"].items():
            if isinstance(entry, dict) and "samples_per_s" in entry:
                lines.append(
                    f"| {name} | {entry['items']} | {entry['batch_size']} | "
                    f"{entry['samples_per_s']} |"
                )
        test = section["eval"].get("igja_qap_squad_test")
        lines += [""]
        if test is not None:  # absent while the run is still under way (or was stopped)
            lines += [
                f"IGJA-QAP test (beam-4 two-stage generation + every metric, METEOR "
                f"{test['meteor']}): **{test['seconds']} s** for {test['items']} items "
                f"(generation {test['generation_seconds']} s, batch {test['batch_size']}).",
                "",
            ]
    if "ratios" in result:
        lines += ratios.markdown(result)
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="tiny", help="random-init backbone size")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--vocab-size", type=int, default=None,
                        help=f"synthetic vocabulary (default {T5_VOCAB_SIZE}; tiny: "
                             f"{TINY_VOCAB_SIZE})")  # fmt: skip
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (CUDA 5, CPU 1)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (CUDA 20, CPU 3)")
    parser.add_argument("--large-batch", type=int, default=256)
    parser.add_argument("--eval-batch-size", type=int, default=None, help="CUDA 256, CPU 32")
    parser.add_argument("--eval-items", type=int, default=None,
                        help=f"test items (CUDA {SQUAD_SENTENCE_TEST_ITEMS}, CPU 64)")  # fmt: skip
    parser.add_argument("--generation-items", type=int, default=None, help="CUDA 1024, CPU 32")
    parser.add_argument("--meteor", choices=("auto", "java", "nltk", "none"), default="auto",
                        help="METEOR of the IGJA-QAP test (auto: java, else nltk, else none)")  # fmt: skip
    parser.add_argument("--compile", action="store_true",
                        help="also time compiled qapgen steps (bucketed padding)")  # fmt: skip
    parser.add_argument("--compile-backend", default="inductor",
                        help="torch.compile backend (aot_eager: a quick check on CPU)")  # fmt: skip
    parser.add_argument("--compile-warmup", type=int, default=30,
                        help="untimed steps of compiled entries (each bucket shape compiles)")  # fmt: skip
    parser.add_argument("--ratio-size", default="t5-small-shape",
                        help="backbone size of the ratios (bench/ratios.py); none: skip")  # fmt: skip
    parser.add_argument("--data", default=None, help="also bench on this real data path")
    parser.add_argument("--dataset", default="squad")
    parser.add_argument("--tokenizer", default="t5-base")
    parser.add_argument("--out", default=None, help="OUT.json / OUT.md (bench/results/<device>)")
    args = parser.parse_args(argv)
    cuda = args.device == "cuda"
    defaults = {
        "vocab_size": TINY_VOCAB_SIZE if args.size == "tiny" else T5_VOCAB_SIZE,
        "warmup": 5 if cuda else 1,
        "steps": 20 if cuda else 3,
        "eval_batch_size": 256 if cuda else 32,
        "eval_items": SQUAD_SENTENCE_TEST_ITEMS if cuda else 64,
        "generation_items": 1024 if cuda else 32,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    started = time.perf_counter()
    device = Device(args.device)
    L.seed_everything(0, verbose=False)
    warmup = max(args.warmup, args.compile_warmup if args.compile else 0)
    needed = (args.large_batch + 16) * (warmup + args.steps)
    result: dict[str, Any] = {
        "device": device.name,
        "size": args.size,
        "vocab_size": args.vocab_size,
        "precision": "bf16-mixed" if device.cuda else "fp32",
        "warmup": args.warmup,
        "steps": args.steps,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    out = Path(args.out or f"bench/results/{device.slug}")
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        result["bench_seconds"] = round(time.perf_counter() - started, 1)
        atomic_write_text(out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
        atomic_write_text(out.with_suffix(".md"), markdown(result))

    run_suite(synthetic_data(args, min(needed, 20_000)), args, device, result, save)
    if args.data:
        real = real_data(args)
        result["real_data"] = {"name": real.name}
        run_suite(real, args, device, result["real_data"], save)
    if args.ratio_size != "none":
        print(f"bench: ratios at {args.ratio_size}")
        result.update(ratios.measure(size=args.ratio_size, device=device.kind))
    save()
    print(f"bench: wrote {out}.json and {out}.md in {result['bench_seconds']} s")
    return result


if __name__ == "__main__":
    main()
