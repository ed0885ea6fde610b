"""The sweep runner behind `make reproduce-table2` (and tables 3 and 5, Figure 5).

For every cell (dataset, model, seed) of a recipe: fit then test, unless the cell already
has its ``metrics.json`` (finished cells are skipped); a cell that was interrupted resumes
from its ``last.ckpt``. Each cell stores
``<results>/<profile>/<dataset>/<model>/seed<k>/metrics.json`` with its provenance, and the
sweep renders ``<results>/<profile>/<table>.md`` and ``.tex`` beside the paper's numbers.

    python -m experiments.sweep table2 [--profile offline|scratch-gpu|paper|auto]
        [--datasets squad,newsqa] [--models t5_qg,igja_qap] [--seeds 0,1,2]
        [--results-dir results] [--dry-run]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.recipes import DATASETS, RECIPES, Recipe
from qapgen.atomic_files import atomic_write_text, remove_stale_temporaries
from qapgen.cli.main import (
    OneLineArgumentParser,
    UsageError,
    debug_requested,
    is_user_error,
    one_line,
)
from qapgen.json_input import read_json_object
from qapgen.trust import CorruptCheckpointError, UntrustedError, load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"


@dataclass(frozen=True)
class Cell:
    """One run: a dataset, a model config (``conf/model/<model>.yaml``) and a seed.

    A ``variant`` is a named reading of the model: its ``overrides`` (``key=value``) apply to
    this cell only, and its results are stored under the variant's name.
    """

    dataset: str
    model: str
    seed: int
    variant: str | None = None
    overrides: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.variant or self.model

    def directory(self, results: Path, profile: str) -> Path:
        return results / profile / self.dataset / self.name / f"seed{self.seed}"

    @property
    def label(self) -> str:
        return f"{self.dataset}/{self.name}/seed{self.seed}"


# -- profile choice ------------------------------------------------------------------------
def hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def choose_profile(requested: str) -> tuple[str, str]:
    """The profile to run and why; ``auto`` picks ``paper`` only with a GPU and the hub."""
    if requested != "auto":
        return requested, "requested"
    import torch

    if not torch.cuda.is_available():
        return "offline", "auto: no GPU (torch.cuda.is_available() is False)"
    if not hub_reachable():
        return "offline", "auto: a GPU, but the Hugging Face hub is unreachable (no t5-base)"
    return "paper", "auto: a GPU and the Hugging Face hub are both available"


# -- running one cell ------------------------------------------------------------------------
def cell_arguments(
    cell: Cell, profile: str, run_dir: Path, conf: Path = CONF, overrides: tuple[str, ...] = ()
) -> list[str]:
    args = [
        "fit",
        "-c", str(conf / "data" / f"{cell.dataset}.yaml"),
        "-c", str(conf / "profile" / f"{profile}.yaml"),
        "-c", str(conf / "model" / f"{cell.model}.yaml"),
        "--trainer.default_root_dir", str(run_dir),
        "--seed_everything", str(cell.seed),
        "--data.seed", str(cell.seed),
        "--test_after_fit", "true",
        "--wandb_group", f"sweep-{profile}",
        "--wandb_tags", f"[profile:{profile}]",
    ]  # fmt: skip
    for override in (*cell.overrides, *overrides):
        key, _, value = override.partition("=")
        args += [f"--{key}", value]
    checkpoint = readable_checkpoint(run_dir, cell.label) if run_dir.exists() else None
    if checkpoint is not None:
        args += ["--ckpt_path", str(checkpoint)]
    return args


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = sorted(run_dir.glob("**/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def readable_checkpoint(run_dir: Path, label: str) -> Path | None:
    """The newest checkpoint of a run that loads, or None (start from scratch).

    A checkpoint that does not load (a full disk or a kill during a save by an older
    writer, a damaged copy) is moved aside as ``<name>.corrupt`` with one line saying so,
    and the next newest is tried; temporary files of killed saves are removed.
    """
    for folder in {*run_dir.glob("**/checkpoints"), run_dir}:
        remove_stale_temporaries(folder)
    candidates = sorted(
        run_dir.glob("**/checkpoints/*.ckpt"),
        key=lambda p: (p.stat().st_mtime, p.name == "last.ckpt"),
        reverse=True,
    )
    for checkpoint in candidates:
        try:
            load_checkpoint(checkpoint)
        except (UntrustedError, CorruptCheckpointError, OSError) as error:
            aside = set_aside(checkpoint)
            print(
                f"[sweep] {label}: {one_line(error)}; moved aside to {aside.name}, trying the "
                "previous checkpoint",
                file=sys.stderr,
            )
            continue
        return checkpoint
    return None


def set_aside(path: Path) -> Path:
    """Rename a damaged file to ``<name>.corrupt`` (``.corrupt-2`` ... if taken)."""
    aside = path.with_name(f"{path.name}.corrupt")
    number = 1
    while aside.exists():
        number += 1
        aside = path.with_name(f"{path.name}.corrupt-{number}")
    path.rename(aside)
    return aside


def read_record(path: Path) -> dict[str, Any] | None:
    """A cell's JSON record, or None when it is missing; ``JSONFileError`` (a ValueError)
    when damaged."""
    return read_json_object(path) if path.exists() else None


def finished(directory: Path, label: str) -> bool:
    """Whether a cell's metrics.json is there and readable; a damaged one is moved aside
    (one line) and the cell runs again, resuming from its last readable checkpoint."""
    try:
        return read_record(directory / "metrics.json") is not None
    except ValueError as error:
        aside = set_aside(directory / "metrics.json")
        print(f"[sweep] {label}: {error}; moved aside to {aside.name}, rerunning", file=sys.stderr)
        return False


def newest(run_dir: Path, name: str) -> Path | None:
    found = sorted(run_dir.glob(f"**/{name}"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def device_name() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def run_cell(
    cell: Cell, profile: str, results: Path, conf: Path = CONF, overrides: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Fit and test one cell in this process; write its metrics.json or status.json."""
    from qapgen.cli.lightning import run_lightning_cli
    from qapgen.reporting.figures import read_logged_curves

    directory = cell.directory(results, profile)
    run_dir = directory / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    model_yaml = conf / "model" / f"{cell.model}.yaml"
    if not model_yaml.exists():
        return write_status(directory, f"no model config {model_yaml}")
    args = cell_arguments(cell, profile, run_dir, conf, overrides)
    resumed = "--ckpt_path" in args
    start = time.monotonic()
    try:
        run_lightning_cli(args)
    except Exception as error:  # noqa: BLE001 - one broken cell must not stop the sweep
        if is_user_error(error):
            # Missing data, a bad file, a full disk: the cell says why, and the sweep goes on.
            return write_status(directory, one_line(error))
        atomic_write_text(directory / "traceback.txt", traceback.format_exc())
        return write_status(directory, f"{one_line(error)} (traceback in traceback.txt)")
    finally:
        finish_wandb_run()
    wall = time.monotonic() - start
    run_metrics = newest(run_dir, "metrics.json")
    if run_metrics is None:
        return write_status(directory, "the run finished without writing metrics.json")
    try:
        logged = read_record(run_metrics)
        floors = read_record(newest(run_dir, "floors.json") or run_dir / "floors.json") or {}
    except ValueError as error:
        return write_status(directory, str(error))
    config = newest(run_dir, "config.yaml")
    record = {
        "dataset": cell.dataset,
        "model": cell.model,
        "variant": cell.variant,
        "seed": cell.seed,
        "profile": profile,
        "overrides": [*cell.overrides, *overrides],
        "metrics": {k: v for k, v in logged.items() if k.startswith("test/")},
        # every validation's values by step (losses, per-task scores): the run's curves
        "validation": {
            key: [[step, value] for step, value in points]
            for key, points in read_logged_curves(run_dir).items()
        },
        "evaluation": logged.get("evaluation", {}),
        "floors": floors,
        "steps": logged.get("global_step"),
        "wall_time_s": round(wall, 1),
        "resumed": resumed,
        "device": device_name(),
        "git_commit": git_commit(),
        "run_dir": str(run_metrics.parent),
        "config": config.read_text() if config else None,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (directory / "status.json").unlink(missing_ok=True)
    atomic_write_text(directory / "metrics.json", json.dumps(record, indent=2) + "\n")
    return {"status": "done", **record}


def finish_wandb_run() -> None:
    """Close the cell's W&B run, so the next cell in this process starts its own."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()


def write_status(directory: Path, reason: str) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    status = {"status": "failed", "reason": reason}
    atomic_write_text(directory / "status.json", json.dumps(status, indent=2) + "\n")
    print(f"[sweep] cell failed: {reason}", file=sys.stderr)
    return status


# -- the sweep -----------------------------------------------------------------------------
def plan(recipe: Recipe, datasets, models, seeds) -> list[Cell]:
    return [
        Cell(dataset, model, seed)
        for dataset, model in recipe.cells
        if (not datasets or dataset in datasets) and (not models or model in models)
        for seed in seeds
    ]


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def run_sweep(
    cells: list[Cell],
    profile: str,
    results: Path,
    conf: Path = CONF,
    overrides: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    outcomes = []
    start = time.monotonic()
    ran = 0
    for index, cell in enumerate(cells, start=1):
        directory = cell.directory(results, profile)
        elapsed = time.monotonic() - start
        if finished(directory, cell.label):
            print(f"[sweep {index}/{len(cells)}] {cell.label}: done, skipped", file=sys.stderr)
            outcomes.append({"status": "skipped"})
            continue
        remaining = len(cells) - index + 1
        estimate = f", ~{format_duration(elapsed / ran * remaining)} left" if ran else ""
        print(
            f"[sweep {index}/{len(cells)}] {cell.label} · elapsed {format_duration(elapsed)}"
            f"{estimate}",
            file=sys.stderr,
            flush=True,
        )
        outcomes.append(run_cell(cell, profile, results, conf, overrides))
        ran += 1
    return outcomes


def dry_run(cells: list[Cell], profile: str, results: Path, conf: Path = CONF) -> None:
    from omegaconf import OmegaConf

    config = OmegaConf.load(conf / "profile" / f"{profile}.yaml")
    steps = OmegaConf.select(config, "trainer.max_steps")
    batch = OmegaConf.select(config, "data.batch_size")
    throughput = measured_throughput()
    print(f"profile {profile}: {len(cells)} runs, {steps} steps each at batch {batch}")
    total = 0.0
    for cell in cells:
        directory = cell.directory(results, profile)
        state = (
            "done"
            if (directory / "metrics.json").exists()
            else ("resume" if latest_checkpoint(directory / "run") else "pending")
        )  # a dry run reads nothing: damaged files are found when the cell runs
        # A model file may set its own budget (DeepNQG's 15 epochs); it wins over the profile.
        model_yaml = conf / "model" / f"{cell.model}.yaml"
        model = OmegaConf.load(model_yaml) if model_yaml.exists() else OmegaConf.create()
        cell_steps = OmegaConf.select(model, "trainer.max_steps", default=steps)
        cell_batch = OmegaConf.select(model, "data.batch_size", default=batch)
        rate = throughput.get(cell.model) or throughput.get("default")
        hours = (
            cell_steps * cell_batch / rate / 3600
            if rate and cell_steps and cell_steps > 0 and cell_batch
            else None
        )
        total += hours or 0.0
        if cell_steps is not None and cell_steps < 0:
            epochs = OmegaConf.select(model, "trainer.max_epochs")
            estimate = f"its own budget: {epochs} epochs at batch {cell_batch}"
        else:
            estimate = f"~{hours:.1f} GPU h" if hours else "no measured throughput"
        print(f"  {cell.label:<40} {state:<8} {estimate}")
    if throughput:
        print(
            f"estimated training time: ~{total:.1f} GPU hours (from bench/results, "
            "training only; evaluation adds to it)"
        )


def measured_throughput() -> dict[str, float]:
    """samples/s from bench/results/*.json: IGJA-QAP's for its variants, T5-QG's otherwise."""
    rates: dict[str, float] = {}
    for path in sorted((ROOT / "bench" / "results").glob("*.json")):
        train = json.loads(path.read_text()).get("train", {})
        if "igja_qap_bs16" in train:
            for name in (
                "igja_qap",
                "igja_qap_no_gate",
                "igja_qap_two_decoders",
                "igja_qap_no_pointer",
            ):
                rates[name] = train["igja_qap_bs16"]["samples_per_s"]
        if "t5_qg_bs16" in train:
            rates["default"] = train["t5_qg_bs16"]["samples_per_s"]
    return rates


class SweepLockedError(RuntimeError):
    """Another sweep holds the results folder's lock."""


LOCK_FILE = ".sweep.lock"


@contextmanager
def results_lock(folder: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold ``folder``'s lock while the sweep writes into it.

    Two sweeps on one results folder would train the same cells and overwrite each other's
    files; the second one refuses (or, with ``wait``, waits). The lock is an advisory
    ``flock`` that the system releases when its holder exits, killed or not, so a stale
    lock file never blocks a later sweep.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise SweepLockedError(
                f"{path} is held by a running sweep ({holder}); wait for it, pass --wait, or "
                "use another --results-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%H:%M:%S')}"
        )
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def parse_list(text: str | None, kind=str) -> list:
    try:
        return [kind(x) for x in text.split(",") if x.strip()] if text else []
    except ValueError:
        raise UsageError(f"expected a comma list of {kind.__name__} values, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog="experiments.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("table", choices=sorted(RECIPES))
    parser.add_argument(
        "--profile",
        default="offline",
        help="offline, scratch-gpu, paper, auto, or any conf/profile/<name>.yaml",
    )
    parser.add_argument("--datasets", default="", help=f"comma list of {', '.join(DATASETS)}")
    parser.add_argument("--models", default="", help="comma list of model config names")
    parser.add_argument("--seeds", default="0", help="comma list of seeds")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; run nothing")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key in every cell, e.g. --set trainer.max_steps=50",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the official dataset files are (sets data.path; default $QAPGEN_DATA_DIR, "
        "else the hub); the offline profile always uses the project's fixtures",
    )
    parser.add_argument("--conf-dir", type=Path, default=CONF, help=argparse.SUPPRESS)
    parser.add_argument("--render-only", action="store_true", help="only re-render the tables")
    parser.add_argument("--debug", action="store_true", help="show tracebacks, not one line")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="when another sweep is writing the same results folder, wait for it to finish "
        "instead of refusing",
    )
    try:
        args = parser.parse_args(argv)
        return run(args)
    except (SweepLockedError, UsageError) as error:
        print(f"[sweep] error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - the sweep's one line for any failure
        if debug_requested(list(sys.argv if argv is None else argv)):
            raise
        print(f"[sweep] error: {one_line(error)}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:

    profile, why = choose_profile(args.profile)
    print(f"[sweep] profile {profile} ({why})", file=sys.stderr)
    if not (args.conf_dir / "profile" / f"{profile}.yaml").exists():
        raise UsageError(f"no profile {args.conf_dir / 'profile' / f'{profile}.yaml'}")
    malformed = [o for o in args.overrides if "=" not in o or not o.partition("=")[0].strip()]
    if malformed:
        raise UsageError(f"--set wants KEY=VALUE, got {malformed[0]!r}")
    recipe = RECIPES[args.table]
    cells = plan(
        recipe, parse_list(args.datasets), parse_list(args.models), parse_list(args.seeds, int)
    )
    if not cells:
        raise UsageError(f"no cells of {recipe.name} match the given datasets and models")
    if args.dry_run:
        dry_run(cells, profile, args.results_dir, args.conf_dir)
        return 0
    if profile == "offline":
        # Tiny models gain nothing from intra-op threads, and OpenMP threads that wait on
        # each other cost a lot on a small, busy CPU.
        import torch

        torch.set_num_threads(1)
    overrides = tuple(args.overrides)
    if args.data_dir is not None and profile != "offline":
        overrides = (f"data.path={args.data_dir.expanduser().resolve()}", *overrides)
    failed = 0
    from qapgen.reporting.tables import collect_results, write_tables

    with results_lock(args.results_dir / profile, wait=args.wait):
        if not args.render_only:
            outcomes = run_sweep(cells, profile, args.results_dir, args.conf_dir, overrides)
            failed = sum(o["status"] == "failed" for o in outcomes)
        results = collect_results(args.results_dir / profile, cells)
        paths = write_tables(recipe, results, args.results_dir / profile, profile)
    for path in paths:
        print(f"[sweep] wrote {path}", file=sys.stderr)
    print((args.results_dir / profile / f"{recipe.name}.md").read_text())
    if failed:
        print(f"[sweep] {failed} cell(s) failed; their rows say why", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
