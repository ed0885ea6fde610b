"""IGJA-QAP's cost relative to T5-QG and to plain Hugging Face, measured in one process.

``bench_train.py`` writes these under ``ratios`` in ``bench/results/<device>.json``; run alone:

    python -m bench.ratios [--size t5-small-shape] [--repeats 8]

All at one backbone shape (t5-small by default), batch 16, fp32, on synthetic
sentence-level batches (``bench.synthetic``):

- ``igja_qap_over_t5_qg_step``: the median wall-clock seconds of one training step
  (forward, backward, AdamW) of IGJA-QAP over T5-QG's, with a 4,096-token vocabulary;
  ``..._step_t5_vocabulary`` the same with T5's 32,128 tokens, where the vocabulary
  projections weigh more. The models take turns step by step on the same batches, each
  round starting with the next model, so a slow moment of a shared machine hits each.
- ``igja_qap_over_hf_generate``: IGJA-QAP's beam-4 two-stage generation (an answer of at
  most 32 tokens, then a question of at most 48 guided by it) over HF ``generate`` of one
  question (at most 48) for the same 16 items, untrained models, T5's vocabulary.
  Untrained models decode to their length limits (a worst case, the same for both), so
  IGJA-QAP takes 80 decoder steps to HF's 48; ``..._per_token`` divides each time by
  the tokens decoded.
- ``igja_qap_over_t5_qg_saved_bytes``: the bytes of activations autograd saves for the
  backward pass, per example, T5's vocabulary (saved-tensor hooks, so CPU measures what a
  GPU would hold; parameters and tensors sharing their storage are not counted, each
  storage once).
- ``t5_qg_over_hf_step``: T5-QG's step over a plain ``T5ForConditionalGeneration(labels=)``
  step in the same rotation: what qapgen's own path costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch
from torch.utils.data import DataLoader
from transformers import T5ForConditionalGeneration

from baselines.t5_qg import T5QGModule
from bench.synthetic import (
    MAX_LENGTHS,
    T5_VOCAB_SIZE,
    SyntheticTokenizer,
    synthetic_examples,
    synthetic_vocabulary,
)
from qapgen.data import batch_keys as keys
from qapgen.data.datamodule import Collator, EncodedDataset
from qapgen.data.features import DEFAULT_FEATURES
from qapgen.models.backbone import random_init_config
from qapgen.models.base import QAPModule, Vocabulary
from qapgen.models.igja_decoding import generate_pairs
from qapgen.models.igja_qap_module import IGJAQAPModule

SMALL_VOCAB_SIZE = 4096
BATCH_SIZE = 16
NUM_BEAMS = 4


def batches(vocab_size: int, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` batches of 16 synthetic examples padded to their longest row, with every
    feature IGJA-QAP reads (T5-QG and HF read a subset of the same batch)."""
    examples = synthetic_examples(BATCH_SIZE * count, SyntheticTokenizer(vocab_size), seed)
    collate = Collator(DEFAULT_FEATURES, 0, max_lengths=MAX_LENGTHS)
    return list(DataLoader(EncodedDataset(examples), batch_size=BATCH_SIZE, collate_fn=collate))


def built(model_class: type[QAPModule], size: str, vocab: Vocabulary) -> QAPModule:
    torch.manual_seed(0)
    model = model_class(
        backbone_size=size,
        meteor="none",
        num_beams=NUM_BEAMS,
        max_answer_length=MAX_LENGTHS["answer"],
        max_question_length=MAX_LENGTHS["question"],
        vocab=asdict(vocab),
    )
    model.configure_model()
    model.tokenizer = SyntheticTokenizer(vocab.size)
    return model


def plain_t5(size: str, vocab: Vocabulary) -> T5ForConditionalGeneration:
    torch.manual_seed(0)
    return T5ForConditionalGeneration(random_init_config(size, vocab_size=vocab.size))


def hf_loss(model: T5ForConditionalGeneration, batch: dict[str, Any]) -> torch.Tensor:
    return model(
        input_ids=batch[keys.INPUT_IDS],
        attention_mask=batch[keys.INPUT_MASK],
        labels=batch[keys.QUESTION_LABELS],
    ).loss


def qapgen_loss(model: QAPModule, batch: dict[str, Any]) -> torch.Tensor:
    return model.compute_losses(batch)["loss"]


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def on(device: str, batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


class Stepper:
    """One model's training steps (loss, backward, AdamW) and their wall-clock seconds."""

    def __init__(self, model: torch.nn.Module, loss: Callable, device: str) -> None:
        self.device = device
        self.model = model.to(device).train()
        self.loss = loss
        trainable = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(trainable, lr=1e-4)
        self.seconds: list[float] = []

    def step(self, batch: dict[str, Any], timed: bool) -> None:
        synchronize(self.device)
        started = time.perf_counter()
        self.loss(self.model, batch).backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        synchronize(self.device)
        if timed:
            self.seconds.append(time.perf_counter() - started)


def step_seconds(size: str, vocab_size: int, repeats: int, device: str) -> dict[str, list[float]]:
    """Seconds of each timed training step of each model, taking turns on the same
    batches (one untimed warm-up step each)."""
    vocab = synthetic_vocabulary(vocab_size)
    steppers = {
        "hf": Stepper(plain_t5(size, vocab), hf_loss, device),
        "t5_qg": Stepper(built(T5QGModule, size, vocab), qapgen_loss, device),
        "igja_qap": Stepper(built(IGJAQAPModule, size, vocab), qapgen_loss, device),
    }
    order = list(steppers.values())
    for index, batch in enumerate(batches(vocab_size, repeats + 1)):
        batch = on(device, batch)
        # each round starts with the next model, so no model always follows the same one
        for stepper in order[index % 3 :] + order[: index % 3]:
            stepper.step(batch, timed=index > 0)
    return {name: s.seconds for name, s in steppers.items()}


def saved_bytes_per_example(model: torch.nn.Module, loss: Callable, batch: dict) -> float:
    """Bytes autograd keeps for backward in one training forward, per example."""
    model.train()
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        value = loss(model, batch)
    del value  # frees the graph
    return sum(storages.values()) / len(batch[keys.IDS])


def generation_seconds(
    size: str, repeats: int, device: str
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Seconds of each round of beam-4 generation for one batch of 16 items (after a
    warm-up call each), and the tokens each system decoded."""
    vocab = synthetic_vocabulary(T5_VOCAB_SIZE)
    batch = on(device, batches(T5_VOCAB_SIZE, 1, seed=1)[0])
    hf = plain_t5(size, vocab).to(device).eval()
    igja = built(IGJAQAPModule, size, vocab).to(device).eval()
    decoded: dict[str, int] = {}

    def hf_generate() -> None:
        sequences = hf.generate(
            input_ids=batch[keys.INPUT_IDS],
            attention_mask=batch[keys.INPUT_MASK],
            num_beams=NUM_BEAMS,
            max_new_tokens=MAX_LENGTHS["question"],
            do_sample=False,
        )
        decoded["hf_generate"] = sequences.size(1) - 1  # without the start token

    def igja_generate() -> None:
        pairs = generate_pairs(
            igja.core, batch[keys.INPUT_IDS], batch[keys.INPUT_MASK], num_beams=NUM_BEAMS
        )
        decoded["igja_qap_two_stage"] = pairs.answer_ids.size(1) + pairs.question_ids.size(1)

    runs = {"hf_generate": hf_generate, "igja_qap_two_stage": igja_generate}
    timed: dict[str, list[float]] = {name: [] for name in runs}
    with torch.no_grad():
        for run in runs.values():
            run()  # warm-up: allocator, kernels
        for round_index in range(repeats):  # taking turns, as the training steps do
            names = list(runs) if round_index % 2 == 0 else list(reversed(runs))
            for name in names:
                synchronize(device)
                started = time.perf_counter()
                runs[name]()
                synchronize(device)
                timed[name].append(time.perf_counter() - started)
    return timed, decoded


def median_seconds(seconds: dict[str, list[float]]) -> dict[str, float]:
    return {name: round(statistics.median(values), 4) for name, values in seconds.items()}


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """The median over rounds of each round's ratio: a slow moment of the machine slows
    both models of a round, and cancels out."""
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))


def measure(
    *,
    size: str = "t5-small-shape",
    repeats: int = 16,
    generation_repeats: int = 5,
    device: str = "cpu",
) -> dict[str, Any]:
    """Every ratio and the numbers behind it (fp32, on ``device``; saved bytes on CPU)."""
    small = step_seconds(size, SMALL_VOCAB_SIZE, repeats, device)
    full = step_seconds(size, T5_VOCAB_SIZE, repeats, device)
    generation, decoded = generation_seconds(size, generation_repeats, device)
    vocab = synthetic_vocabulary(T5_VOCAB_SIZE)
    (batch,) = batches(T5_VOCAB_SIZE, 1)
    saved = {
        "t5_qg": saved_bytes_per_example(built(T5QGModule, size, vocab), qapgen_loss, batch),
        "igja_qap": saved_bytes_per_example(built(IGJAQAPModule, size, vocab), qapgen_loss, batch),
        "hf": saved_bytes_per_example(plain_t5(size, vocab), hf_loss, batch),
    }
    igja_over_hf = paired_ratio(generation["igja_qap_two_stage"], generation["hf_generate"])
    tokens = decoded["hf_generate"] / decoded["igja_qap_two_stage"]
    return {
        "ratios": {
            "igja_qap_over_t5_qg_step": round(paired_ratio(small["igja_qap"], small["t5_qg"]), 3),
            "igja_qap_over_t5_qg_step_t5_vocabulary": round(
                paired_ratio(full["igja_qap"], full["t5_qg"]), 3
            ),
            "igja_qap_over_hf_generate": round(igja_over_hf, 3),
            "igja_qap_over_hf_generate_per_token": round(igja_over_hf * tokens, 3),
            "igja_qap_over_t5_qg_saved_bytes": round(saved["igja_qap"] / saved["t5_qg"], 3),
            "t5_qg_over_hf_step": round(paired_ratio(small["t5_qg"], small["hf"]), 3),
        },
        "setting": {
            "size": size,
            "batch_size": BATCH_SIZE,
            "step_vocab_sizes": [SMALL_VOCAB_SIZE, T5_VOCAB_SIZE],
            "timed_steps": repeats,
            "generation": f"beam {NUM_BEAMS}, {BATCH_SIZE} items, answer <= "
            f"{MAX_LENGTHS['answer']}, question <= {MAX_LENGTHS['question']} tokens, "
            f"vocabulary {T5_VOCAB_SIZE}, {generation_repeats} rounds",
            "device": device,
            "threads": torch.get_num_threads(),
        },
        "step_seconds": median_seconds(small),
        "step_seconds_t5_vocabulary": median_seconds(full),
        "generation_seconds": median_seconds(generation),
        "generation_tokens": decoded,
        "saved_mib_per_example": {name: round(value / 2**20, 3) for name, value in saved.items()},
        "batch_lengths": {
            key.removesuffix("_ids").removesuffix("_labels"): batch[key].size(1)
            for key in ("input_ids", "answer_labels", "question_labels")
        },
    }


def markdown(result: dict[str, Any]) -> list[str]:
    """The ratios section of bench_train's report."""
    r, setting = result["ratios"], result["setting"]
    steps, steps_t5 = result["step_seconds"], result["step_seconds_t5_vocabulary"]
    generation, tokens = result["generation_seconds"], result["generation_tokens"]
    saved = result["saved_mib_per_example"]
    return [
        f"## IGJA-QAP's cost ratios ({setting['size']}, batch {setting['batch_size']}, "
        f"{setting['device']}, {setting['threads']} threads)",
        "",
        "| ratio | value | numbers (IGJA-QAP / other; plain HF) |",
        "|---|---:|---|",
        f"| training step / T5-QG's, vocabulary {setting['step_vocab_sizes'][0]} | "
        f"**{r['igja_qap_over_t5_qg_step']}** | {steps['igja_qap']} s / {steps['t5_qg']} s; "
        f"HF {steps['hf']} s |",
        f"| training step / T5-QG's, vocabulary {setting['step_vocab_sizes'][1]} | "
        f"{r['igja_qap_over_t5_qg_step_t5_vocabulary']} | {steps_t5['igja_qap']} s / "
        f"{steps_t5['t5_qg']} s; HF {steps_t5['hf']} s |",
        f"| beam-4 generation / HF `generate` | **{r['igja_qap_over_hf_generate']}** | "
        f"{generation['igja_qap_two_stage']} s / {generation['hf_generate']} s |",
        f"| the same per decoded token | {r['igja_qap_over_hf_generate_per_token']} | "
        f"{tokens['igja_qap_two_stage']} / {tokens['hf_generate']} tokens |",
        f"| activations saved for backward / T5-QG's | "
        f"**{r['igja_qap_over_t5_qg_saved_bytes']}** | {saved['igja_qap']} / "
        f"{saved['t5_qg']} MiB per example; HF {saved['hf']} |",
        f"| T5-QG's step / plain HF's | {r['t5_qg_over_hf_step']} | |",
        "",
        f"Generation: {setting['generation']}. Batch lengths (with `</s>`): "
        + ", ".join(f"{k} {v}" for k, v in result["batch_lengths"].items())
        + ". See bench/README.md.",
        "",
    ]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="t5-small-shape")
    parser.add_argument("--repeats", type=int, default=16, help="timed training steps")
    parser.add_argument("--generation-repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    result = measure(
        size=args.size,
        repeats=args.repeats,
        generation_repeats=args.generation_repeats,
        device=args.device,
    )
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
