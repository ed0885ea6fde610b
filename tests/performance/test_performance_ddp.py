"""Two-process DDP on CPU (gloo, launched by torchrun) trains and scores as one process does.

The same tiny T5-QG trains for 40 steps on 16 fixture examples, once in one process at batch
8 and once in two processes at batch 4 each (the same global batch), then is tested on 15
examples (odd, so DistributedSampler repeats one to even out the ranks).

- Training loss: LengthGroupedSampler gives the two ranks the two interleaved halves of the
  global batch the single process takes. The loss is a token mean, and DDP averages the two
  ranks' gradients; the two agree exactly when the halves hold as many target tokens, so
  questions are truncated to 6 tokens (all fixture questions are longer: checked below).
- Test metrics: each example is counted once (TaskMetrics drops the repeated one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = '''
import json, sys
import lightning as L
import torch
from baselines.t5_qg import T5QGModule
from qapgen.data.datamodule import QAPDataModule

out, root, batch_size, devices = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)


def data(limit):
    return QAPDataModule(path="fixtures", tokenizer="train", tokenizer_vocab_size=600,
                         batch_size=batch_size, eval_batch_size=batch_size, limit_examples=limit,
                         max_question_length=6, test_split="test")


class GlobalLoss(L.Callback):
    """The global batch's loss each step: the mean of the ranks' losses."""

    def __init__(self):
        self.losses = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index):
        self.losses.append(trainer.strategy.reduce(outputs["loss"].detach(), reduce_op="mean").item())


L.seed_everything(0)
model = T5QGModule(backbone_size="tiny", dropout_rate=0.0, optimizer="adamw", lr=1e-2, meteor="none",
             num_beams=4, max_question_length=6)
losses = GlobalLoss()
trainer = L.Trainer(accelerator="cpu", devices=devices, strategy="ddp" if devices > 1 else "auto",
                    max_steps=40, limit_val_batches=0, default_root_dir=root, logger=False,
                    enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, callbacks=[losses])
train_data = data(16)
trainer.fit(model, datamodule=train_data)
test_data = data(15)
metrics = trainer.test(model, datamodule=test_data, verbose=False)[0]
if trainer.is_global_zero:
    with open(out, "w") as handle:
        json.dump({"losses": losses.losses, "metrics": metrics,
                   "truncated_questions": train_data.report["train"]["truncated/question"],
                   "test_examples": test_data.report["test"]["examples"],
                   "per_rank_batches": len(trainer.test_dataloaders)}, handle)
# Left to interpreter exit, gloo's threads can abort the process when the machine is busy.
if torch.distributed.is_initialized():
    torch.distributed.destroy_process_group()
'''


def run(command, env):
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, cwd=Path.cwd()
    )
    assert completed.returncode == 0, completed.stderr[-4000:]


def test_two_process_ddp_matches_one_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path.cwd()),
    }
    single, double = tmp_path / "single.json", tmp_path / "ddp.json"
    # One process first: it trains the tokenizer into the shared cache, which the two DDP
    # ranks then only read.
    run([sys.executable, str(script), str(single), str(tmp_path / "one"), "8", "1"], env)
    run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(double), str(tmp_path / "two"), "4", "2"],
        env,
    )  # fmt: skip
    one, two = json.loads(single.read_text()), json.loads(double.read_text())
    assert one["truncated_questions"] == 16, "every question must fill the 6 tokens"
    assert one["test_examples"] == 15
    assert len(one["losses"]) == len(two["losses"]) == 40
    # Equal up to float summation order, which lets later steps drift a little.
    assert two["losses"][:3] == pytest.approx(one["losses"][:3], rel=1e-5)
    assert two["losses"] == pytest.approx(one["losses"], rel=2e-3)
    assert one["losses"][-1] < one["losses"][0] / 4, "nothing trained"
    scores = {k: v for k, v in one["metrics"].items() if k.startswith("test/question/")}
    assert {"test/question/bleu1", "test/question/rougeL"} <= set(scores)
    assert scores["test/question/bleu1"] > 0 and scores["test/question/rougeL"] > 0
    for key, value in scores.items():
        assert two["metrics"][key] == pytest.approx(value, rel=1e-6), key
    predictions = [tmp_path / run_dir / "predictions" / "test.jsonl" for run_dir in ("one", "two")]
    rows = [[json.loads(line)["id"] for line in p.read_text().splitlines()] for p in predictions]
    assert sorted(rows[0]) == sorted(rows[1]) and len(set(rows[1])) == len(rows[1]) == 15
    assert two["metrics"]["test/generation_seconds"] > 0
