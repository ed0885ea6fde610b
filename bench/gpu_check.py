"""`make gpu-check`: every GPU claim of the project measured in one short run.

bench/GPU.md says when and how to run each of the three steps:

    python -m bench.gpu_check carry [--data-dir DIR]     # here, once: what the GPU machine lacks
    python -m bench.gpu_check run --out DIR [--rehearse] # there: make gpu-check
    python -m bench.gpu_check score DIR                  # here: METEOR 1.5 and the floors

``carry`` downloads the wheels of the Python packages the GPU image lacks into ``.whl/`` and
prepares SQuAD (the paper's split) and its trained tokenizer into ``.data/``, both ignored
folders that travel with the working tree. ``run`` checks the imports, runs the GPU tests,
two short trainings on the carried data and the benchmark at T5-base shape, each with its
own time limit inside one overall budget, and writes at most 8 files into
``--out``. ``--rehearse`` runs the same steps at tiny sizes on CPU on the project's own
fixtures (the test suite does, so the script never rots). ``score`` scores the brought-back
test predictions with METEOR 1.5 (Java may be missing there) and the floors, into
``experiments/results/gpu-check/``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / ".whl"
CARRIED_DATA = ROOT / ".data"
PREPARED = CARRIED_DATA / "squad-prepared"
TOKENIZER = CARRIED_DATA / "squad-tokenizer"
RESULTS = ROOT / "experiments" / "results" / "gpu-check"
MODELS = ("t5_qg", "igja_qap")
# What the training runs read that the GPU image may lack (its package list is in the
# device notes): pure-Python wheels, pinned to the versions installed here.
CARRIED_DISTRIBUTIONS = (
    "jsonargparse",
    "docstring_parser",
    "typeshed_client",
    "omegaconf",
    "nltk",
    "defusedxml",
    "pysbd",
)
NEEDED_MODULES = (
    "torch",
    "lightning",
    "transformers",
    "torchmetrics",
    "sacrebleu",
    "sentencepiece",
    "tokenizers",
    "pyarrow",
    "yaml",
    "pytest",
    "jsonargparse",
    "docstring_parser",
    "typeshed_client",
    "omegaconf",
    "nltk",
    "pysbd",
)
# The wheels' platform tags for the GPU image's Python 3.12 on x86-64 (pure-Python wheels
# match any of them).
WHEEL_PLATFORM = [
    "--python-version", "3.12", "--implementation", "cp",
    "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64",
]  # fmt: skip
# Seconds: the whole run fits one 10-minute device call with time to spare.
BUDGET_S = 560
STEP_LIMITS_S = {"gpu_tests": 120, "train": 130, "bench": 300}
TRAIN_SECONDS = 75  # each model's training budget (Lightning's max_time), test after it
REHEARSAL_TRAIN_STEPS = 3


# -- carry (here) -------------------------------------------------------------------------
def carry(data_dir: Path, vocab_size: int) -> None:
    """Wheels into .whl/, prepared SQuAD and its tokenizer into .data/ (never overwritten)."""
    WHEELS.mkdir(exist_ok=True)
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in CARRIED_DISTRIBUTIONS]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
         *WHEEL_PLATFORM, "-d", str(WHEELS), *pins],
        check=True,
    )  # fmt: skip
    print(f"gpu-check carry: {len(pins)} wheels in {WHEELS.relative_to(ROOT)}/")
    CARRIED_DATA.mkdir(exist_ok=True)
    if not PREPARED.exists():
        qapgen(["data", "prepare", "--dataset", "squad", "--path", str(data_dir),
                "--out", str(PREPARED)])  # fmt: skip
    if not TOKENIZER.exists():
        export_tokenizer(PREPARED, TOKENIZER, vocab_size)
    print(f"gpu-check carry: {PREPARED.relative_to(ROOT)}/ and {TOKENIZER.relative_to(ROOT)}/")


def qapgen(args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "qapgen.cli.main", *args], check=True, cwd=ROOT)


def export_tokenizer(prepared: Path, target: Path, vocab_size: int) -> None:
    """The tokenizer `tokenizer: train` builds on the prepared training split, copied to
    ``target`` (a folder `data.tokenizer` loads as it is)."""
    from qapgen.data.datamodule import QAPDataModule

    with tempfile.TemporaryDirectory() as cache:
        data = QAPDataModule(
            dataset="squad",
            path=str(prepared),
            tokenizer="train",
            tokenizer_vocab_size=vocab_size,
            cache_dir=cache,
        )
        data.prepare_data()
        shutil.copytree(Path(data.tokenizer.name_or_path), target)


# -- run (there) --------------------------------------------------------------------------
class Clock:
    """The run's overall budget: each step gets its own limit or what is left, if less."""

    def __init__(self, budget_s: float) -> None:
        self.deadline = time.monotonic() + budget_s

    def limit(self, step_limit_s: float) -> float:
        return max(0.0, min(step_limit_s, self.deadline - time.monotonic()))


def missing_modules() -> list[str]:
    missing = []
    for name in NEEDED_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a broken install is as missing as an absent one
            missing.append(name)
    return missing


def timed_subprocess(command: list[str], limit_s: float, log: Path | None = None) -> dict:
    """Run ``command`` from the repository root within ``limit_s``; its output goes to
    ``log`` (else to this process's output). Returns rc (None: stopped at the limit)."""
    if limit_s <= 0:
        return {"rc": None, "seconds": 0.0, "note": "no time left in the budget"}
    started = time.monotonic()
    output = log.open("w") if log else None
    try:
        done = subprocess.run(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, timeout=limit_s
        )
        rc: int | None = done.returncode
    except subprocess.TimeoutExpired:
        rc = None
    finally:
        if output:
            output.close()
    return {"rc": rc, "seconds": round(time.monotonic() - started, 1), "limit_s": round(limit_s)}


def gpu_tests(out: Path, clock: Clock) -> dict:
    log = out / "pytest-gpu.txt"
    # The GPU image has pytest-xdist: the small fits share the one GPU four at a time.
    workers = ["-n", "4"] if importlib.util.find_spec("xdist") else []
    result = timed_subprocess(
        [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *workers],
        clock.limit(STEP_LIMITS_S["gpu_tests"]),
        log,
    )
    lines = [line for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    return {**result, "summary": lines[-1] if lines else ""}


def bench_arguments(out: Path, rehearse: bool) -> list[str]:
    if rehearse:
        sizes = ["--size", "tiny", "--device", "cpu", "--steps", "1", "--warmup", "1",
                 "--large-batch", "32", "--eval-items", "16", "--generation-items", "8",
                 "--ratio-size", "none", "--meteor", "none"]  # fmt: skip
    else:
        sizes = ["--size", "t5-base-shape", "--device", "cuda", "--compile"]
    return [sys.executable, "-m", "bench.bench_train", *sizes, "--out", str(out / "bench")]


def benchmark(out: Path, rehearse: bool, clock: Clock) -> dict:
    result = timed_subprocess(bench_arguments(out, rehearse), clock.limit(STEP_LIMITS_S["bench"]))
    report = out / "bench.json"
    return (
        {**result, "claims": bench_claims(json.loads(report.read_text()))}
        if report.exists()
        else result
    )


def _best(train: dict, prefix: str, key: str) -> float | None:
    values = [v.get(key) for name, v in train.items() if name.startswith(prefix)]
    values = [v for v in values if isinstance(v, int | float)]
    return max(values) if values else None


def bench_claims(bench: dict) -> dict[str, Any]:
    """Issue 17's benchmark lines, from the benchmark's JSON (eager or compiled, the better)."""
    train, evaluation = bench.get("train", {}), bench.get("eval", {})
    hf = _best(train, "hf_baseline_bs16", "samples_per_s")
    t5 = _best(train, "t5_qg_bs16", "samples_per_s")
    igja = _best(train, "igja_qap_bs16", "samples_per_s")
    large = {k: v for k, v in train.items() if k.startswith("t5_qg_bs") and "bs16" not in k}
    test = evaluation.get("igja_qap_squad_test", {})
    return {
        "t5_qg_over_hf_samples_per_s": round(t5 / hf, 2) if hf and t5 else None,
        "igja_qap_over_hf_samples_per_s": round(igja / hf, 2) if hf and igja else None,
        "t5_qg_large_batch_mfu": _best(large, "t5_qg", "mfu"),
        "igja_qap_test_seconds": test.get("seconds"),
        "igja_qap_test_items": test.get("items"),
        "igja_qap_test_meteor": test.get("meteor"),
    }


def training_arguments(
    model: str, run_dir: Path, data: Path, tokenizer: Path, rehearse: bool
) -> list[str]:
    args = [
        sys.executable, "-m", "qapgen.cli.main", "fit",
        "-c", "conf/data/squad.yaml",
        "-c", "conf/profile/scratch-gpu.yaml",
        "-c", f"conf/model/{model}.yaml",
        "--data.path", str(data),
        "--data.tokenizer", str(tokenizer),
        "--data.cache_dir", str(run_dir / "cache"),
        "--trainer.default_root_dir", str(run_dir),
        # Scored here with METEOR 1.5 (`score`): the GPU machine may have no Java.
        "--model.init_args.meteor", "none",
        "--wandb", "disabled",
    ]  # fmt: skip
    if rehearse:
        return [*args,
                "--trainer.accelerator", "cpu", "--trainer.precision", "32-true",
                "--trainer.max_steps", str(REHEARSAL_TRAIN_STEPS),
                "--trainer.val_check_interval", str(REHEARSAL_TRAIN_STEPS),
                "--trainer.limit_val_batches", "1",
                "--model.init_args.backbone_size", "tiny",
                "--model.init_args.warmup_steps", "1",
                "--data.batch_size", "8", "--data.eval_batch_size", "16",
                "--data.num_workers", "0"]  # fmt: skip
    minutes, seconds = divmod(TRAIN_SECONDS, 60)
    return [*args, "--trainer.max_time", f"00:00:{minutes:02d}:{seconds:02d}"]


def newest(folder: Path, name: str) -> Path | None:
    found = sorted(folder.rglob(name), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def train(model: str, out: Path, data: Path, tokenizer: Path, rehearse: bool, clock: Clock) -> dict:
    """Fit and test ``model``; its test predictions go to ``out/<model>-test.jsonl``."""
    with tempfile.TemporaryDirectory(prefix=f"gpu-check-{model}-") as scratch:
        run_dir = Path(scratch)
        command = training_arguments(model, run_dir, data, tokenizer, rehearse)
        # In the scratch folder, not `out` (whose files are counted): the summary keeps its tail.
        log = run_dir / "train.log"
        result = timed_subprocess(command, clock.limit(STEP_LIMITS_S["train"]), log)
        result["log_tail"] = log.read_text().splitlines()[-15:] if log.exists() else []
        predictions = newest(run_dir, "test.jsonl")
        if predictions is not None:
            shutil.copyfile(predictions, out / f"{model}-test.jsonl")
        for name in ("metrics.json", "floors.json"):
            found = newest(run_dir, name)
            if found is not None:
                result[name.removesuffix(".json")] = json.loads(found.read_text())
    return result


def rehearsal_inputs(folder: Path) -> tuple[Path, Path]:
    """The project's SQuAD fixtures prepared, and a small tokenizer trained on them: what
    `carry` makes from real SQuAD, made in seconds."""
    prepared, tokenizer = folder / "squad-prepared", folder / "squad-tokenizer"
    qapgen(["data", "prepare", "--dataset", "squad", "--path", "fixtures",
            "--out", str(prepared)])  # fmt: skip
    export_tokenizer(prepared, tokenizer, vocab_size=400)
    return prepared, tokenizer


def run(out: Path, rehearse: bool, budget_s: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    clock = Clock(budget_s)
    summary: dict[str, Any] = {
        "rehearsal": rehearse,
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    missing = missing_modules()
    summary["missing_modules"] = missing
    if missing:
        print(f"gpu-check: missing: {', '.join(missing)} (carry their wheels: bench/GPU.md)")
        write_summary(out, summary)
        return 2
    summary["environment"] = environment()
    if not rehearse and not summary["environment"]["cuda"]:
        print("gpu-check: no CUDA device (use --rehearse on a CPU)")
        write_summary(out, summary)
        return 2
    print("gpu-check: GPU tests", flush=True)
    summary["gpu_tests"] = gpu_tests(out, clock)
    write_summary(out, summary)  # after every step: a run killed whole keeps the rest
    with tempfile.TemporaryDirectory(prefix="gpu-check-data-") as scratch:
        data, tokenizer = rehearsal_inputs(Path(scratch)) if rehearse else (PREPARED, TOKENIZER)
        if not data.is_dir() or not tokenizer.is_dir():
            summary["training"] = {"error": f"no carried data at {data} / {tokenizer}: run "
                                   "`python -m bench.gpu_check carry` here first (bench/GPU.md)"}  # fmt: skip
        else:
            summary["training"] = {}
            for model in MODELS:
                print(f"gpu-check: training {model}", flush=True)
                summary["training"][model] = train(model, out, data, tokenizer, rehearse, clock)
                write_summary(out, summary)
    # Last: the benchmark saves each entry as it goes, so a cut at the budget keeps the rest.
    print("gpu-check: benchmark", flush=True)
    summary["bench"] = benchmark(out, rehearse, clock)
    summary["seconds"] = round(budget_s - (clock.deadline - time.monotonic()), 1)
    write_summary(out, summary)
    print(f"gpu-check: wrote {out} in {summary['seconds']} s")
    return 0


def environment() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "cuda": cuda,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
        "transformers": importlib.metadata.version("transformers"),
        "lightning": importlib.metadata.version("lightning"),
        "python": sys.version.split()[0],
        "java": shutil.which("java") is not None,
    }


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    from qapgen.atomic_files import atomic_write_text

    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(out / "summary.md", summary_markdown(summary))


def summary_markdown(summary: dict[str, Any]) -> str:
    env = summary.get("environment", {})
    lines = [
        f"# gpu-check{' (CPU rehearsal)' if summary.get('rehearsal') else ''}: {env.get('device', '?')}",
        "",
        f"torch {env.get('torch')}, transformers {env.get('transformers')}, lightning "
        f"{env.get('lightning')}, Python {env.get('python')}; Java: {env.get('java')}. "
        f"Started {summary.get('started')}, {summary.get('seconds')} s in all.",
        "",
    ]
    if summary.get("missing_modules"):
        lines += [f"Missing modules: {', '.join(summary['missing_modules'])}.", ""]
    tests = summary.get("gpu_tests", {})
    lines += [
        f"- GPU tests: rc {tests.get('rc')} in {tests.get('seconds')} s: {tests.get('summary')}"
    ]
    bench = summary.get("bench", {})
    lines += [f"- benchmark: rc {bench.get('rc')} in {bench.get('seconds')} s"]
    for key, value in bench.get("claims", {}).items():
        lines += [f"  - {key}: {value}"]
    for model, result in summary.get("training", {}).items():
        if not isinstance(result, dict):
            lines += [f"- training: {result}"]
            continue
        metrics = result.get("metrics", {})
        steps = metrics.get("global_step")
        shown = {k: round(v, 2) for k, v in metrics.items() if k.startswith("test/question/")}
        lines += [
            f"- {model}: rc {result.get('rc')} in {result.get('seconds')} s, {steps} steps, {shown}"
        ]
    return "\n".join(lines) + "\n"


# -- score (here) -------------------------------------------------------------------------
def score_folder(folder: Path, prepared: Path, results: Path, meteor: str) -> dict[str, Any]:
    """Each model's brought-back test predictions scored with ``meteor`` beside the
    shuffled and constant floors (single reference: the pair's own gold text)."""
    from qapgen.atomic_files import atomic_write_text
    from qapgen.data.prepare import load_prepared
    from qapgen.metrics import score
    from qapgen.reporting.floors import FLOOR_METRICS, constant_floor, most_frequent, shuffled_floor

    train_split = load_prepared(prepared).splits["train"]
    scored: dict[str, Any] = {}
    for model in MODELS:
        path = folder / f"{model}-test.jsonl"
        if not path.is_file():
            scored[model] = {"error": f"no {path.name} in {folder}"}
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        tasks = [t for t in ("question", "answer") if rows and f"predicted_{t}" in rows[0]]
        scored[model] = {"items": len(rows)}
        for task in tasks:
            predicted = [r[f"predicted_{task}"] for r in rows]
            gold = [r[f"gold_{task}"] for r in rows]
            started = time.perf_counter()
            values = score(predicted, [[g] for g in gold], meteor=meteor)
            constant = most_frequent([getattr(r, task) for r in train_split])
            scored[model][task] = {
                "scores": {k: round(float(values[k]), 2) for k in FLOOR_METRICS if k in values},
                "scoring_seconds": round(time.perf_counter() - started, 2),
                "shuffled_floor": shuffled_floor(predicted, gold, meteor),
                "constant_floor": {"text": constant, **constant_floor(constant, gold, meteor)},
            }
    summary_path = folder / "summary.json"
    record = {
        "meteor": meteor,
        "models": scored,
        "run": json.loads(summary_path.read_text()) if summary_path.is_file() else None,
    }
    results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(results / "scores.json", json.dumps(record, indent=2) + "\n")
    atomic_write_text(results / "scores.md", scores_markdown(record))
    return record


def scores_markdown(record: dict[str, Any]) -> str:
    lines = [
        "# gpu-check: test predictions scored here",
        "",
        f"METEOR: {record['meteor']}. Floors: another test item's prediction (shuffled) and "
        "the training split's most frequent text (constant); one reference per item.",
        "",
        "| model | task | items | BLEU-4 | ROUGE-L | METEOR | shuffled METEOR | constant METEOR |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for model, tasks in record["models"].items():
        if "error" in tasks:
            lines.append(f"| {model} | – | – | {tasks['error']} | | | | |")
            continue
        for task in ("question", "answer"):
            if task not in tasks:
                continue
            s, shuffled, constant = (
                tasks[task][k] for k in ("scores", "shuffled_floor", "constant_floor")
            )
            lines.append(
                f"| {model} | {task} | {tasks['items']} | {s.get('bleu4')} | {s.get('rougeL')} | "
                f"{s.get('meteor')} | {shuffled.get('meteor')} | {constant.get('meteor')} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    actions = parser.add_subparsers(dest="action", required=True)
    carrying = actions.add_parser(
        "carry", help="here: wheels into .whl/, prepared SQuAD into .data/"
    )
    carrying.add_argument(
        "--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "squad-v1.1"
    )
    carrying.add_argument("--tokenizer-vocab-size", type=int, default=16000)
    running = actions.add_parser("run", help="there: tests, benchmark, training into --out")
    running.add_argument("--out", type=Path, required=True)
    running.add_argument("--rehearse", action="store_true", help="tiny sizes on CPU, fixtures")
    running.add_argument("--budget-s", type=float, default=BUDGET_S)
    scoring = actions.add_parser("score", help="here: METEOR 1.5 and floors of a run's predictions")
    scoring.add_argument("folder", type=Path)
    scoring.add_argument("--prepared", type=Path, default=PREPARED)
    scoring.add_argument("--results", type=Path, default=RESULTS)
    scoring.add_argument("--meteor", choices=("java", "nltk", "none"), default="java")
    args = parser.parse_args(argv)
    if args.action == "carry":
        carry(args.data_dir, args.tokenizer_vocab_size)
        return 0
    if args.action == "run":
        return run(args.out, args.rehearse, args.budget_s)
    record = score_folder(args.folder, args.prepared, args.results, args.meteor)
    print(scores_markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
