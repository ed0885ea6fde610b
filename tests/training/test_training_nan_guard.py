"""NonFiniteLossGuard: a NaN or inf loss never reaches the weights or a checkpoint, and
stops training at the guard's next check with a clear error and the offending batch's
example ids saved in the run folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from qapgen.callbacks import (
    NonFiniteLossError,
    NonFiniteLossGuard,
    RandomStateCheckpoint,
    _skip_update_unless,
)
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule, Vocabulary

BAD_STEP = 2


class LossBlowsUp(QAPModule):
    """One parameter; the loss becomes ``bad_value`` at step ``BAD_STEP``."""

    def __init__(self, bad_value: float = float("nan"), **kwargs) -> None:
        super().__init__(**kwargs)
        self.seen: dict[int, list[str]] = {}

    def build(self, vocab: Vocabulary) -> None:
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def compute_losses(self, batch):
        self.seen[self.global_step] = list(batch["ids"])
        loss = (self.bias - 1.0).pow(2).sum()
        if self.global_step == BAD_STEP:
            loss = loss * self.hparams.bad_value
        return {"loss": loss}

    def generate_batch(self, batch):
        return {"answer": list(batch["answers"]), "question": list(batch["questions"])}


class FusedAdamW(LossBlowsUp):
    """The fused optimiser QAPModule picks on CUDA, here on CPU."""

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=0.1, fused=True)


class StateAfterEachStep(L.Callback):
    """The weight and the optimiser state after each step, by the step count reached."""

    def __init__(self) -> None:
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        (optimizer,) = trainer.optimizers
        state = dict(optimizer.state[pl_module.bias]) if optimizer.state else {}
        self.states[trainer.global_step] = {
            "bias": pl_module.bias.detach().clone(),
            **{k: v.clone() for k, v in state.items() if isinstance(v, torch.Tensor)},
        }


def fixture_data() -> QAPDataModule:
    return QAPDataModule(
        dataset="squad",
        path="fixtures",
        tokenizer="train",
        tokenizer_vocab_size=600,
        batch_size=4,
        limit_examples=16,
    )


def fit_until_stopped(model, tmp_path, guard, callbacks=(), **trainer_args):
    settings = {
        "max_steps": 8,
        "limit_val_batches": 0,
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "log_every_n_steps": 4,
    }
    trainer = L.Trainer(
        default_root_dir=tmp_path,
        callbacks=[guard, *callbacks],
        **{**settings, **trainer_args},
    )
    with pytest.raises(NonFiniteLossError, match=rf"non-finite loss \(\w+\) at step {BAD_STEP}"):
        trainer.fit(model, datamodule=fixture_data())
    return trainer


@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
def test_nonfinite_loss_stops_training_at_the_next_check_and_saves_the_batch_ids(
    tmp_path, bad_value
):
    model = LossBlowsUp(bad_value=bad_value, meteor="none", lr=0.1)
    states = StateAfterEachStep()
    # Checked every 4 steps (as on a GPU with log_every_n_steps=4): before the optimiser
    # step of step 3.
    guard = NonFiniteLossGuard(check_every_n_steps=4)
    trainer = fit_until_stopped(model, tmp_path, guard, [states])

    saved = json.loads((tmp_path / "nonfinite_loss_batch.json").read_text())
    assert saved["ids"] == model.seen[BAD_STEP]
    assert len(saved["ids"]) == 4
    assert saved["global_step"] == BAD_STEP
    assert saved["detected_at_step"] == 3
    assert trainer.global_step == 3  # stopped before step 3's update
    # The bad step's gradients were zeros: nothing non-finite reached the weights or
    # Adam's moments (which the non-fused Adam still moved by their momentum).
    after_bad_step = states.states[BAD_STEP + 1]
    assert all(torch.isfinite(value).all() for value in after_bad_step.values())
    assert torch.isfinite(model.bias).all()


def test_a_fused_optimiser_skips_the_nonfinite_step_exactly(tmp_path):
    model = FusedAdamW(meteor="none")
    states = StateAfterEachStep()
    fit_until_stopped(model, tmp_path, NonFiniteLossGuard(check_every_n_steps=4), [states])
    before, after = states.states[BAD_STEP], states.states[BAD_STEP + 1]
    assert set(before) == {"bias", "step", "exp_avg", "exp_avg_sq"}
    for name, value in before.items():
        assert torch.equal(after[name], value), name  # weight, moments and step count


def test_on_cpu_the_guard_checks_every_step_and_stops_before_the_update(tmp_path):
    model = LossBlowsUp(meteor="none", lr=0.1)
    states = StateAfterEachStep()
    trainer = fit_until_stopped(model, tmp_path, NonFiniteLossGuard(), [states])
    assert trainer.global_step == BAD_STEP
    assert torch.equal(model.bias.detach(), states.states[BAD_STEP]["bias"])


def test_no_checkpoint_is_written_after_an_unchecked_nonfinite_loss(tmp_path):
    model = LossBlowsUp(meteor="none", lr=0.1)
    checkpoints = ModelCheckpoint(dirpath=tmp_path / "checkpoints", every_n_train_steps=4)
    fit_until_stopped(
        model,
        tmp_path,
        NonFiniteLossGuard(check_every_n_steps=100),
        [checkpoints],
        enable_checkpointing=True,
    )
    assert not list(tmp_path.rglob("*.ckpt"))


def test_the_guard_reads_the_losses_only_when_it_checks(tmp_path):
    guard = NonFiniteLossGuard()
    trainer = L.Trainer(default_root_dir=tmp_path, logger=False)
    guard.on_before_backward(trainer, None, torch.tensor(3.0))
    guard.check(trainer)
    assert guard.path is None
    guard.on_before_backward(trainer, None, torch.tensor(float("-inf")))  # no error yet
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(-inf\) at step 0"):
        guard.check(trainer)
    assert guard.path == tmp_path / "nonfinite_loss_batch.json"


def test_a_nonfinite_step_leaves_plain_optimisers_zero_gradients():
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    weight.grad = torch.tensor([float("nan"), 1.0, float("inf")])
    _skip_update_unless(torch.tensor(True), optimizer)
    assert weight.grad[1] == 1.0  # a finite step is left alone
    _skip_update_unless(torch.tensor(False), optimizer)
    assert torch.equal(weight.grad, torch.zeros(3))
    optimizer.step()
    assert torch.equal(weight.detach(), torch.ones(3))


DDP_WORKER = """
import json, sys
import lightning as L
import torch
from qapgen.callbacks import NonFiniteLossError, NonFiniteLossGuard
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule

torch.set_num_threads(1)


class NanOnRankOne(QAPModule):
    def build(self, vocab):
        self.bias = torch.nn.Parameter(torch.zeros(1))

    def compute_losses(self, batch):
        loss = (self.bias - 1.0).pow(2).sum()
        if self.global_step == 2 and self.global_rank == 1:
            loss = loss * float("nan")
        return {"loss": loss}


root = sys.argv[1]
data = QAPDataModule(path="fixtures", tokenizer="train", tokenizer_vocab_size=600, batch_size=2,
                     limit_examples=16)
model = NanOnRankOne(meteor="none", lr=0.1, optimizer="sgd")
trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=8,
                    limit_val_batches=0, default_root_dir=root, logger=False,
                    enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False,
                    callbacks=[NonFiniteLossGuard(check_every_n_steps=4)])
try:
    trainer.fit(model, datamodule=data)
    error = None
except NonFiniteLossError as raised:
    error = str(raised)
with open(f"{root}/rank{trainer.global_rank}.json", "w") as handle:
    json.dump({"step": trainer.global_step, "bias": model.bias.item(), "error": error}, handle)
# Left to interpreter exit, gloo's threads can abort the process ("terminate called without
# an active exception") when the machine is busy.
if torch.distributed.is_initialized():
    torch.distributed.destroy_process_group()
"""


def test_under_ddp_every_rank_skips_the_step_and_stops_at_the_same_check(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(DDP_WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    completed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    # Both stopped before step 3's update; SGD stepped twice (0 -> 0.2 -> 0.36) and the
    # NaN step moved neither rank's weight.
    assert [r["step"] for r in ranks] == [3, 3]
    assert [r["bias"] for r in ranks] == pytest.approx([0.36, 0.36])
    assert "on another rank at step 2" in ranks[0]["error"]
    assert "non-finite loss (nan) at step 2" in ranks[1]["error"]
    assert [p.name for p in tmp_path.glob("nonfinite_loss_batch*.json")] == [
        "nonfinite_loss_batch.rank1.json"
    ]


def test_the_cli_trains_with_the_guard_and_the_random_state_checkpoint(tmp_path):
    from qapgen.cli.lightning import run_lightning_cli

    cli = run_lightning_cli(
        [
            "-c",
            "conf/profile/overfit.yaml",
            "-c",
            "conf/model/igja_qap.yaml",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--wandb",
            "disabled",
        ],
        run=False,
    )
    kinds = {type(c) for c in cli.trainer.callbacks}
    assert {NonFiniteLossGuard, RandomStateCheckpoint} <= kinds
