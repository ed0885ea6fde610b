"""`qapgen fit|validate|test|predict`: the Lightning CLI over qapgen's models and DataModule.

The model is chosen by ``class_path`` in YAML (any QAPModule subclass); the DataModule is
always QAPDataModule. Configs compose (``-c profile.yaml -c model.yaml``) and accept
omegaconf interpolation. ``--test_after_fit true`` runs test right after fit, on the best
checkpoint when one is monitored, else on the final weights; test writes ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger

from qapgen.callbacks import MetricsFile
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule


class QAPLightningCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=False,
            help="after fit, run test (best checkpoint if monitored, else final weights)",
        )
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
        return trainer

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
    return QAPLightningCLI(
        model_class=QAPModule,
        subclass_mode_model=True,
        datamodule_class=QAPDataModule,
        seed_everything_default=0,
        trainer_defaults={"callbacks": [MetricsFile()]},
        parser_kwargs={"parser_mode": "omegaconf"},
        save_config_kwargs={"overwrite": True},
        args=list(args),
        run=run,
    )
