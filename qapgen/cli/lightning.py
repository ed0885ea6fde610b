"""`qapgen fit|validate|test|predict`: the Lightning CLI over qapgen's models and DataModule.

The model is chosen by ``class_path`` in YAML (any QAPModule subclass); the DataModule is
always QAPDataModule. Configs compose (``-c profile.yaml -c model.yaml``) and accept
omegaconf interpolation. A config's ``hardware: NAME`` (or ``--hardware NAME``) reads
``conf/hardware/NAME.yaml`` just before it (``qapgen.cli.hardware``). ``--test_after_fit
true`` runs test right after fit, on the best checkpoint when one is monitored, else on the
final weights; test writes ``metrics.json``.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import yaml
from jsonargparse import ArgumentError, Namespace
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger

from qapgen.balance import OptimisationBalance
from qapgen.callbacks import (
    LoggingStepProgressBar,
    MetricsFile,
    NonFiniteLossGuard,
    RandomStateCheckpoint,
    TrainLoaderStateRestore,
)
from qapgen.checkpoint_io import AtomicCheckpointIO
from qapgen.cli.errors import UsageError
from qapgen.cli.hardware import hardware_names, with_hardware_configs
from qapgen.cli.pair_metrics import PairMetrics, build_pair_scorer
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule
from qapgen.performance import CudaPerformance
from qapgen.reporting.floors import FloorScores
from qapgen.trust import (
    LOAD_FAILURES,
    SAFE_CHECKPOINT_GLOBALS,
    UntrustedError,
    check_class_path,
    checkpoint_load_error,
    restrict_config_imports,
)
from qapgen.wandb_setup import make_wandb_logger, resolve_wandb_mode


class QAPLightningCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Read by with_hardware_configs before parsing; an argument too, so that a config may
        # set it and the run's config.yaml records it.
        parser.add_argument(
            "--hardware",
            type=str | None,
            default=None,
            help=f"trainer settings read before the config that names them: "
            f"conf/hardware/NAME.yaml ({', '.join(hardware_names())}) or a path to a YAML file",
        )
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=False,
            help="after fit, run test (best checkpoint if monitored, else final weights)",
        )
        parser.add_argument(
            "--wandb",
            type=str,
            default="auto",
            help="auto (online with an API key and network, else offline), online, offline, "
            "disabled; W&B logs beside the always-on CSV log",
        )
        parser.add_argument("--wandb_project", type=str, default="qapgen")
        parser.add_argument("--wandb_group", type=str | None, default=None)
        parser.add_argument("--wandb_tags", type=list[str], default=[])
        parser.add_class_arguments(PairMetrics, "pair_metrics")
        # Generation limits are the truncation limits the model was trained with (the
        # IGJA-QAP gate's position mixing is sized by them).
        parser.link_arguments("data.max_answer_length", "model.init_args.max_answer_length")
        parser.link_arguments("data.max_question_length", "model.init_args.max_question_length")

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        if isinstance(args, (dict, Namespace)):
            super().parse_arguments(parser, args)
            return
        expanded = with_hardware_configs(list(sys.argv[1:] if args is None else args))
        # A hardware file is a config like any other: its class paths are checked before
        # jsonargparse imports them, as run_lightning_cli checks those of the named files.
        try:
            for where, class_path in _class_paths_in(expanded):
                check_class_path(class_path, where)
        except UntrustedError as error:
            raise UsageError(str(error)) from error
        # What LightningCLI.parse_arguments does with a list, less its warning about args
        # given beside sys.argv: the list is sys.argv's when args is None.
        self.config = parser.parse_args(expanded)

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        settings = self._get(self.config_init, "pair_metrics", default=None)
        if settings is not None:
            self.model.pair_scorer = build_pair_scorer(settings)

    def instantiate_trainer(self, **kwargs):
        trainer = super().instantiate_trainer(**kwargs)
        # A CSV log always runs beside any other logger, so that local tables and plots
        # never depend on an external service.
        if not any(isinstance(logger, CSVLogger) for logger in trainer.loggers):
            trainer.loggers = [*trainer.loggers, CSVLogger(save_dir=trainer.default_root_dir)]
        if self.subcommand == "fit":
            self._add_wandb(trainer)
        self._use_logging_step_progress_bar(trainer)
        # Checkpoints written atomically beside their target and loaded without code, unless
        # the config chose a checkpoint plugin of its own.
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def _use_logging_step_progress_bar(self, trainer) -> None:
        """Lightning's default progress bar (added when none is configured) becomes
        LoggingStepProgressBar, which shows the loss without a host sync per step on GPU.
        A progress bar named in the config is kept as it is."""
        bar = trainer.progress_bar_callback
        configured = self._get(self.config_init, "trainer", default={}).get("callbacks") or []
        if bar is None or any(bar is callback for callback in configured):
            return
        index = next(i for i, callback in enumerate(trainer.callbacks) if callback is bar)
        trainer.callbacks[index] = LoggingStepProgressBar()

    def _add_wandb(self, trainer) -> None:
        config = self.config[self.subcommand]
        mode, why = resolve_wandb_mode(config.get("wandb", "auto"))
        if mode == "disabled":
            return
        print(f"qapgen: W&B {mode} ({why})")
        model = config["model"]["class_path"].rsplit(".", 1)[-1]
        tags = [
            f"model:{model}",
            f"dataset:{config['data']['dataset']}",
            f"seed:{config['seed_everything']}",
            *config.get("wandb_tags", []),
        ]
        logger = make_wandb_logger(
            mode,
            trainer.default_root_dir,
            project=config["wandb_project"],
            group=config.get("wandb_group"),
            tags=tags,
        )
        # The resolved config, so that a dashboard can filter and compare runs by any key.
        resolved = self._parser(self.subcommand).dump(config, format="json", skip_check=True)
        logger.log_hyperparams(json.loads(resolved))
        trainer.loggers = [*trainer.loggers, logger]

    def _parse_ckpt_path(self) -> None:
        # Lightning reads --ckpt_path's hyperparameters here (weights_only=True); its refusals
        # become qapgen's one-line errors, and paths in hyperparameters are allowed.
        config = self.config.get(self.config.get("subcommand") or "", {})
        ckpt_path = config.get("ckpt_path") if hasattr(config, "get") else None
        try:
            with torch.serialization.safe_globals(SAFE_CHECKPOINT_GLOBALS):
                super()._parse_ckpt_path()
        except LOAD_FAILURES as error:
            raise checkpoint_load_error(ckpt_path, error) from error

    def after_fit(self) -> None:
        if not self.config[self.subcommand].get("test_after_fit"):
            return
        monitored = any(
            isinstance(c, ModelCheckpoint) and c.monitor for c in self.trainer.callbacks
        )
        self.trainer.test(
            self.model, datamodule=self.datamodule, ckpt_path="best" if monitored else None
        )


def run_lightning_cli(args: Sequence[str], *, run: bool = True) -> QAPLightningCLI:
    """Parse ``args`` and run the subcommand; ``run=False`` takes no subcommand and only
    instantiates the model, DataModule and trainer (to check a config without training).

    A class path outside the trusted packages (``qapgen.trust``) is refused before anything
    is imported; a bad argument or config raises ``UsageError`` with a one-line message.
    """
    args = list(args)
    try:
        for where, class_path in _class_paths_in(args):
            check_class_path(class_path, where)
    except UntrustedError as error:
        raise UsageError(str(error)) from error
    restrict_config_imports()
    # qapgen always passes the arguments explicitly (from sys.argv or a sweep); Lightning's
    # warning about args beside sys.argv does not apply.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    # Parse errors are raised, not printed with the usage: the caller prints one line.
    quiet = {"exit_on_error": False}
    try:
        return QAPLightningCLI(
            model_class=QAPModule,
            subclass_mode_model=True,
            datamodule_class=QAPDataModule,
            seed_everything_default=0,
            trainer_defaults={
                "callbacks": [
                    MetricsFile(),
                    FloorScores(),
                    # On logging steps (the first, then every lcm(50, log_every_n_steps));
                    # off for single-task models.
                    OptimisationBalance(every_n_steps=50),
                    # TF32 on CUDA and a warning when precision is fp16 (T5 overflows).
                    CudaPerformance(),
                    # Stops at the first NaN/inf loss and saves the batch's ids.
                    NonFiniteLossGuard(),
                    # Resumed runs continue with the random states of the checkpoint.
                    RandomStateCheckpoint(),
                    # ... and from the checkpoint's batch inside the epoch.
                    TrainLoaderStateRestore(),
                ],
            },
            parser_kwargs={
                "parser_mode": "omegaconf",
                **quiet,
                **{name: dict(quiet) for name in ("fit", "validate", "test", "predict")},
            },
            save_config_kwargs={"overwrite": True},
            args=args,
            run=run,
        )
    except ArgumentError as error:
        raise UsageError(parse_error_line(str(error))) from error


# Lines of jsonargparse's union-type report that repeat what the other lines say.
_NOISE_PREFIXES = ("Subtypes:", "Errors:", "Given value type:", "- Expected a <class 'NoneType'>")


def parse_error_line(message: str) -> str:
    """jsonargparse's (often multi-line) parse error as one line."""
    lines = [line.strip() for line in message.splitlines()]
    kept = [line for line in lines if line and not line.startswith(_NOISE_PREFIXES)]
    return " ".join(" ".join(kept).split())


def _class_paths_in(args: list[str]) -> Iterator[tuple[str, str]]:
    """(where, class path) for every class path the arguments and their config files name."""
    for index, arg in enumerate(args):
        value = args[index + 1] if index + 1 < len(args) else None
        if arg in ("-c", "--config") and value is not None:
            yield from _class_paths_in_file(Path(value))
        elif arg.startswith("--config="):
            yield from _class_paths_in_file(Path(arg.split("=", 1)[1]))
        elif arg.startswith("--") and arg.split("=", 1)[0].endswith(".class_path"):
            key, _, inline = arg.partition("=")
            found = inline if "=" in arg else value
            if found is not None:
                yield f"argument {key}", found


def _class_paths_in_file(path: Path) -> Iterator[tuple[str, str]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return  # jsonargparse reports the unreadable file itself
    stack: list[tuple[str, object]] = [("", document)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            if "class_path" in node:
                yield f"{path}: {key + '.' if key else ''}class_path", node["class_path"]
            stack += [(f"{key}.{k}" if key else str(k), v) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(f"{key}[{i}]", v) for i, v in enumerate(node)]
