"""TaskMetrics: the per-task metric object, alone and under two-process DDP (gloo, CPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qapgen.metrics import METRIC_KEYS, TaskMetrics, score

EXAMPLES = [
    # Example 0 is the one DistributedSampler repeats to pad 5 examples to 2 x 3; its
    # prediction is poor, so counting it twice would visibly lower every score.
    {"id": "q0", "prediction": "banana", "references": ["who wrote hamlet ?"], "context": "A"},
    {"id": "q1", "prediction": "what is it ?", "references": ["what is it ?"], "context": "B"},
    {"id": "q2", "prediction": "when was it built ?", "references": ["when was it built ?"], "context": "A"},
    {"id": "q3", "prediction": "who is she ?", "references": ["who is he ?"], "context": "C"},
    {"id": "q4", "prediction": "where is the city ?", "references": ["where is paris ?"], "context": "B"},
]  # fmt: skip

# Each rank takes its DistributedSampler share of EXAMPLES, feeds it in two batches and
# writes what compute() returned on that rank.
DDP_WORKER = """
import json, sys
import torch.distributed as dist
from torch.utils.data import DistributedSampler
from qapgen.metrics import TaskMetrics

rank, world, init_file, out, examples = sys.argv[1:6]
rank, world, examples = int(rank), int(world), json.loads(examples)
dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world)
sampler = DistributedSampler(range(len(examples)), num_replicas=world, rank=rank, shuffle=False)
indices = list(sampler)
metrics = {"example": TaskMetrics(meteor="none"),
           "grouped": TaskMetrics(meteor="none", protocol="grouped")}
for batch in (indices[:2], indices[2:]):
    rows = [examples[i] for i in batch]
    for metric in metrics.values():
        metric.update([r["id"] for r in rows], [r["prediction"] for r in rows],
                      [r["references"] for r in rows], [r["context"] for r in rows])
result = {name: metric.compute() for name, metric in metrics.items()}
result["local_count"] = len(metrics["example"])
with open(out, "w") as handle:
    json.dump(result, handle)
dist.destroy_process_group()
"""


def columns(examples):
    return (
        [e["prediction"] for e in examples],
        [e["references"] for e in examples],
        [e["context"] for e in examples],
    )


def fast_keys(result):
    return {key: result[key] for key in ("bleu1", "bleu2", "bleu3", "bleu4", "rougeL")}


def test_two_process_ddp_counts_each_example_once(tmp_path):
    world = 2
    repo_root = Path(__file__).resolve().parents[2]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                DDP_WORKER,
                str(rank),
                str(world),
                str(tmp_path / "rendezvous"),
                str(tmp_path / f"rank{rank}.json"),
                json.dumps(EXAMPLES),
            ],
            cwd=repo_root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(world)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=180)
        assert worker.returncode == 0, output
    results = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]

    predictions, references, contexts = columns(EXAMPLES)
    single = fast_keys(score(predictions, references, meteor="none"))
    single_grouped = fast_keys(
        score(predictions, references, contexts=contexts, protocol="grouped", meteor="none")
    )
    padded = columns(EXAMPLES + EXAMPLES[:1])  # what a naive gather would score
    naive = fast_keys(score(padded[0], padded[1], meteor="none"))

    assert [r["local_count"] for r in results] == [3, 3]  # the sampler did pad
    for result in results:  # every rank returns the same, de-duplicated scores
        assert result["example"] == pytest.approx(single)
        assert result["grouped"] == pytest.approx(single_grouped)
    assert naive["rougeL"] < single["rougeL"] - 5
    assert single_grouped != pytest.approx(single)  # the grouped check is not vacuous


def test_task_metrics_without_distributed():
    predictions, references, contexts = columns(EXAMPLES)
    metrics = TaskMetrics(meteor="none")
    metrics.update([e["id"] for e in EXAMPLES[:2]], predictions[:2], references[:2])
    metrics.update([e["id"] for e in EXAMPLES[2:]], predictions[2:], references[2:])
    metrics.update(["q0"], ["a repeated id is counted once"], [["x"]])
    scores = metrics.compute()
    assert scores == pytest.approx(fast_keys(score(predictions, references, meteor="none")))
    assert metrics.last_result["n"] == 5 and metrics.last_result["protocol"] == "example"
    prefixed = metrics.compute_prefixed("val/question")
    assert sorted(prefixed) == sorted(f"val/question/{key}" for key in scores)
    metrics.reset()
    assert len(metrics) == 0
    with pytest.raises(ValueError, match="no predictions"):
        metrics.compute()


def test_task_metrics_default_is_meteor15(require_java):
    metrics = TaskMetrics()
    metrics.update([1, 2], ["Who wrote Hamlet?", "what year"], [["who wrote hamlet ?"], ["when ?"]])
    scores = metrics.compute()
    assert list(scores) == [key for key in METRIC_KEYS if key != "meteor_nltk"]
    assert 0 < scores["meteor"] < 100
    assert metrics.last_result["implementations"]["meteor"].startswith("METEOR 1.5")


def test_task_metrics_rejects_bad_batches():
    metrics = TaskMetrics(meteor="none")
    with pytest.raises(ValueError, match="one of each per example"):
        metrics.update(["a"], ["p", "q"], [["r"], ["s"]])
    with pytest.raises(TypeError, match="list of strings"):
        metrics.update(["a"], ["p"], ["not a list"])
    with pytest.raises(ValueError, match="needs contexts"):
        TaskMetrics(meteor="none", protocol="grouped").update(["a"], ["p"], [["r"]])
    with pytest.raises(ValueError, match="unknown meteor"):
        TaskMetrics(meteor="java15")
