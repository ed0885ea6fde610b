"""Hardware is set in conf/hardware/ and composed by name: the argument expansion behind the
``hardware`` key (qapgen.cli.hardware), and what each profile gets through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qapgen.cli.errors import UsageError
from qapgen.cli.hardware import with_hardware_configs
from qapgen.cli.lightning import QAPLightningCLI
from qapgen.cli.main import main
from qapgen.data.datamodule import QAPDataModule
from qapgen.models.base import QAPModule

CONF = Path(__file__).resolve().parents[2] / "conf"
HARDWARE_KEYS = {"accelerator", "devices", "precision", "strategy", "num_nodes"}


# -- the expansion -------------------------------------------------------------------------
@pytest.fixture
def hardware(tmp_path) -> Path:
    """A hardware folder with cpu.yaml and gpu.yaml."""
    folder = tmp_path / "hardware"
    folder.mkdir()
    (folder / "cpu.yaml").write_text("trainer:\n  accelerator: cpu\n")
    (folder / "gpu.yaml").write_text("trainer:\n  accelerator: gpu\n")
    return folder


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_the_named_file_goes_just_before_the_config_that_names_it(tmp_path, hardware):
    data = write(tmp_path / "data.yaml", "data:\n  dataset: squad\n")
    profile = write(tmp_path / "profile.yaml", "hardware: gpu\ntrainer:\n  max_steps: 4\n")
    model = write(tmp_path / "model.yaml", "model:\n  class_path: x\n")
    args = ["fit", "-c", data, "--config", profile, "-c", model, "--trainer.devices", "2"]
    assert with_hardware_configs(args, hardware) == [
        "fit", "-c", data,
        "--config", str(hardware / "gpu.yaml"), "--config", profile,
        "-c", model, "--trainer.devices", "2",
    ]  # fmt: skip


def test_config_equals_form_and_files_without_the_key(tmp_path, hardware):
    profile = write(tmp_path / "profile.yaml", "hardware: cpu\n")
    plain = write(tmp_path / "plain.yaml", "trainer:\n  max_steps: 4\n")
    listing = write(tmp_path / "list.yaml", "- hardware\n")
    args = [f"--config={profile}", "-c", plain, "-c", listing, "-c", "missing.yaml"]
    assert with_hardware_configs(args, hardware) == [
        "--config", str(hardware / "cpu.yaml"), *args
    ]  # fmt: skip


def test_hardware_on_the_command_line_is_expanded_where_it_stands(tmp_path, hardware):
    profile = write(tmp_path / "profile.yaml", "hardware: cpu\n")
    args = ["fit", "-c", profile, "--hardware", "gpu", "--trainer.devices", "2"]
    assert with_hardware_configs(args, hardware) == [
        "fit", "--config", str(hardware / "cpu.yaml"), "-c", profile,
        "--config", str(hardware / "gpu.yaml"), "--hardware", "gpu", "--trainer.devices", "2",
    ]  # fmt: skip
    assert with_hardware_configs(["--hardware=cpu"], hardware) == [
        "--config", str(hardware / "cpu.yaml"), "--hardware=cpu"
    ]  # fmt: skip


def test_a_path_is_relative_to_the_file_that_names_it(tmp_path, hardware, monkeypatch):
    mine = write(tmp_path / "mine" / "box.yaml", "trainer:\n  devices: 3\n")
    profile = write(tmp_path / "profiles" / "p.yaml", "hardware: ../mine/box.yaml\n")
    expanded = with_hardware_configs(["-c", profile], hardware)
    assert Path(expanded[1]).resolve() == Path(mine).resolve()
    # On the command line, relative to the working directory.
    monkeypatch.chdir(tmp_path)
    assert with_hardware_configs(["--hardware", "mine/box.yaml"], hardware)[:2] == [
        "--config", "mine/box.yaml"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("hardware: tpu", r"profile\.yaml: hardware: unknown name 'tpu' \(known: cpu, gpu\)"),
        ("hardware: ./nowhere.yaml", r"profile\.yaml: hardware: './nowhere\.yaml': no file "),
        ("hardware: [cpu]", r"profile\.yaml: hardware: \['cpu'\] is neither a name \(cpu, gpu\)"),
    ],
)
def test_a_bad_setting_is_one_line_naming_file_field_and_value(
    tmp_path, hardware, setting, message
):
    profile = write(tmp_path / "profile.yaml", setting + "\n")
    with pytest.raises(UsageError, match=message):
        with_hardware_configs(["-c", profile], hardware)
    with pytest.raises(UsageError, match=r"argument --hardware: hardware: unknown name 'tpu'"):
        with_hardware_configs(["--hardware", "tpu"], hardware)


# -- the shipped configs -------------------------------------------------------------------
def test_hardware_files_hold_trainer_keys_only():
    files = sorted((CONF / "hardware").glob("*.yaml"))
    assert {p.stem for p in files} == {"cpu", "gpu", "ddp", "fsdp"}
    for path in files:
        assert list(yaml.safe_load(path.read_text())) == ["trainer"], path


def test_only_conf_hardware_sets_the_hardware():
    for path in sorted(CONF.rglob("*.yaml")):
        if path.parent.name == "hardware":
            continue
        trainer = (yaml.safe_load(path.read_text()) or {}).get("trainer") or {}
        assert not HARDWARE_KEYS & set(trainer), f"{path} sets {HARDWARE_KEYS & set(trainer)}"


def test_every_profile_names_its_hardware():
    for path in sorted((CONF / "profile").glob("*.yaml")):
        name = yaml.safe_load(path.read_text()).get("hardware")
        assert (CONF / "hardware" / f"{name}.yaml").is_file(), path


class ParseOnlyCLI(QAPLightningCLI):
    """The CLI that parses and stops: a GPU trainer cannot be built on a CPU machine."""

    def instantiate_classes(self) -> None:
        pass


def trainer_config(*args: str):
    cli = ParseOnlyCLI(
        model_class=QAPModule,
        subclass_mode_model=True,
        datamodule_class=QAPDataModule,
        parser_kwargs={"parser_mode": "omegaconf"},
        run=False,
        args=["-c", str(CONF / "data" / "squad.yaml"), *args],
    )
    return cli.config


def profile_args(profile: str, *extra: str) -> list[str]:
    return [
        "-c", str(CONF / "profile" / f"{profile}.yaml"),
        "-c", str(CONF / "model" / "t5_qg.yaml"),
        *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("profile", "hardware", "accelerator", "devices", "precision"),
    [
        ("offline", "cpu", "cpu", 1, "32-true"),
        ("overfit", "cpu", "cpu", 1, "32-true"),
        ("cpu-real", "cpu", "cpu", 1, "32-true"),
        ("scratch-gpu", "gpu", "gpu", 1, "bf16-mixed"),
        ("paper", "ddp", "gpu", -1, "bf16-mixed"),
    ],
)
def test_each_profile_gets_its_hardware(profile, hardware, accelerator, devices, precision):
    config = trainer_config(*profile_args(profile))
    assert config.hardware == hardware  # recorded in the run's config.yaml
    trainer = config.trainer
    assert (trainer.accelerator, trainer.devices, trainer.precision) == (
        accelerator, devices, precision
    )  # fmt: skip
    # The profile's own schedule is kept.
    own = yaml.safe_load((CONF / "profile" / f"{profile}.yaml").read_text())["trainer"]
    assert trainer.max_steps == own.get("max_steps", -1)


def test_paper_runs_ddp_on_every_visible_gpu():
    trainer = trainer_config(*profile_args("paper")).trainer
    assert trainer.strategy.class_path == "lightning.pytorch.strategies.DDPStrategy"
    assert trainer.devices == -1


def test_the_profile_and_later_arguments_override_the_hardware_file(tmp_path):
    profile = write(
        tmp_path / "profile.yaml",
        "hardware: gpu\ntrainer:\n  precision: 16-mixed\nmodel:\n  init_args:\n"
        "    backbone_size: tiny\n",
    )
    model = str(CONF / "model" / "t5_qg.yaml")
    trainer = trainer_config("-c", profile, "-c", model).trainer
    assert (trainer.accelerator, trainer.precision) == ("gpu", "16-mixed")
    # devices accepts a string too, and a command-line value stays one ("2", as Lightning reads it)
    assert trainer_config(*profile_args("paper", "--trainer.devices", "2")).trainer.devices == "2"
    # A hardware file given after the profile wins, by path or by name (then recorded).
    ddp = str(CONF / "hardware" / "ddp.yaml")
    assert trainer_config(*profile_args("offline", "-c", ddp)).trainer.devices == -1
    config = trainer_config(*profile_args("offline", "--hardware", "gpu"))
    assert (config.hardware, config.trainer.accelerator) == ("gpu", "gpu")
    assert config.trainer.precision == "bf16-mixed"


def test_fit_composes_the_hardware_after_the_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fit", *profile_args("paper"), "--print_config"])
    assert exit_.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["hardware"] == "ddp"
    trainer = printed["trainer"]
    assert trainer["strategy"]["class_path"] == "lightning.pytorch.strategies.DDPStrategy"
    assert (trainer["devices"], trainer["max_steps"]) == (-1, 300000)


def test_an_unknown_hardware_name_is_a_usage_error(tmp_path, capsys):
    profile = write(tmp_path / "profile.yaml", "hardware: tpu\n")
    assert main(["fit", "-c", profile, "--trainer.default_root_dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("qapgen fit: error: ") and "\n" not in error
    assert f"{profile}: hardware: unknown name 'tpu' (known: cpu, ddp, fsdp, gpu)" in error


def test_a_hardware_file_s_class_paths_are_checked_before_import(tmp_path, capsys):
    write(tmp_path / "box.yaml", "trainer:\n  strategy:\n    class_path: payload_module.Strategy\n")
    profile = write(tmp_path / "profile.yaml", "hardware: ./box.yaml\n")
    assert main(["fit", "-c", profile, "--trainer.default_root_dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "box.yaml: trainer.strategy.class_path: class path 'payload_module.Strategy'" in error
