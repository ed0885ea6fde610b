"""`qapgen fit|validate|test|predict`: the Lightning CLI over qapgen's models and DataModule.

The model is chosen by ``class_path`` in YAML (any QAPModule subclass); the DataModule is
always QAPDataModule. Configs compose (``-c profile.yaml -c model.yaml``) and accept
omegaconf interpolation. ``--test_after_fit true`` runs test right after fit, on the best
checkpoint when one is monitored, else on the final weights; test writes ``metrics.json``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger

from qapgen.balance import OptimisationBalance
from qapgen.callbacks import (
    MetricsFile,
    NonFiniteLossGuard,
    RandomStateCheckpoint,
    TrainLoaderStateRestore,
)
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule
from qapgen.performance import CudaPerformance
from qapgen.reporting.floors import FloorScores
from qapgen.wandb_setup import make_wandb_logger, resolve_wandb_mode


class QAPLightningCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
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
        # Generation limits are the truncation limits the model was trained with (the
        # IGJA-QAP gate's position mixing is sized by them).
        parser.link_arguments("data.max_answer_length", "model.init_args.max_answer_length")
        parser.link_arguments("data.max_question_length", "model.init_args.max_question_length")

    def instantiate_trainer(self, **kwargs):
        trainer = super().instantiate_trainer(**kwargs)
        # A CSV log always runs beside any other logger, so that local tables and plots
        # never depend on an external service.
        if not any(isinstance(logger, CSVLogger) for logger in trainer.loggers):
            trainer.loggers = [*trainer.loggers, CSVLogger(save_dir=trainer.default_root_dir)]
        if self.subcommand == "fit":
            self._add_wandb(trainer)
        return trainer

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
    instantiates the model, DataModule and trainer (to check a config without training)."""
    # qapgen always passes the arguments explicitly (from sys.argv or a sweep); Lightning's
    # warning about args beside sys.argv does not apply.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    return QAPLightningCLI(
        model_class=QAPModule,
        subclass_mode_model=True,
        datamodule_class=QAPDataModule,
        seed_everything_default=0,
        trainer_defaults={
            "callbacks": [
                MetricsFile(),
                FloorScores(),
                OptimisationBalance(every_n_steps=50),
                # TF32 on CUDA and a warning when precision is fp16 (T5 overflows).
                CudaPerformance(),
                # Stops at the first NaN/inf loss and saves the batch's ids.
                NonFiniteLossGuard(),
                # Resumed runs continue with the random states of the checkpoint.
                RandomStateCheckpoint(),
                # ... and from the checkpoint's batch inside the epoch.
                TrainLoaderStateRestore(),
            ]
        },
        parser_kwargs={"parser_mode": "omegaconf"},
        save_config_kwargs={"overwrite": True},
        args=list(args),
        run=run,
    )
