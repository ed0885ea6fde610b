"""The ``hardware`` key: a config or the command line names a file of trainer settings
(accelerator, devices, precision, strategy), and that file is read just before it.

``with_hardware_configs`` rewrites a Lightning CLI argument list before jsonargparse parses
it. Before each ``-c/--config FILE`` whose YAML has a top-level ``hardware`` key, and before
each ``--hardware VALUE``, it inserts ``--config <hardware file>``: configs compose left to
right, so the naming file's own keys, and everything after it on the command line, override
the hardware file's. A name (``gpu``) is ``conf/hardware/<name>.yaml`` of this project; a
value with a ``/`` or ending in ``.yaml`` is a path, relative to the config file that names
it (to the working directory on the command line).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from qapgen.cli.errors import UsageError

HARDWARE_DIR = Path(__file__).resolve().parents[2] / "conf" / "hardware"
KEY = "hardware"
FLAG = f"--{KEY}"
CONFIG_FLAGS = ("-c", "--config")


def hardware_names(folder: Path = HARDWARE_DIR) -> list[str]:
    """The names ``hardware`` accepts: the stems of ``folder``'s YAML files."""
    return sorted(path.stem for path in folder.glob("*.yaml"))


def hardware_file(value: object, where: str, base: Path, folder: Path = HARDWARE_DIR) -> Path:
    """The file ``value`` (a ``hardware`` setting found at ``where``) names; ``base`` is the
    folder a relative path starts from. ``UsageError`` when there is no such file."""
    names = ", ".join(hardware_names(folder)) or "none"
    if not isinstance(value, str) or not value:
        raise UsageError(
            f"{where}: {KEY}: {value!r} is neither a name ({names}) nor a path to a YAML file"
        )
    if "/" in value or value.endswith((".yaml", ".yml")):
        path = base / value
        if not path.is_file():
            raise UsageError(f"{where}: {KEY}: {value!r}: no file {path}")
        return path
    path = folder / f"{value}.yaml"
    if not path.is_file():
        raise UsageError(f"{where}: {KEY}: unknown name {value!r} (known: {names})")
    return path


def named_in_config(config: str, folder: Path = HARDWARE_DIR) -> Path | None:
    """The hardware file that the config file ``config`` names, if it names one."""
    path = Path(config)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # not a readable YAML file: jsonargparse reports it (or reads a YAML string)
    if not isinstance(document, dict) or document.get(KEY) is None:
        return None
    return hardware_file(document[KEY], config, path.parent, folder)


def with_hardware_configs(args: list[str], folder: Path = HARDWARE_DIR) -> list[str]:
    """``args`` with ``--config <hardware file>`` inserted before each config file that sets
    ``hardware`` and before each ``--hardware`` argument (see the module docstring)."""
    expanded: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        value = args[index + 1] if index + 1 < len(args) else None
        taken, hardware = 1, None
        if arg in CONFIG_FLAGS and value is not None:
            taken, hardware = 2, named_in_config(value, folder)
        elif arg.startswith("--config="):
            hardware = named_in_config(arg.split("=", 1)[1], folder)
        elif arg == FLAG and value is not None:
            taken = 2
            hardware = hardware_file(value, f"argument {FLAG}", Path(), folder)
        elif arg.startswith(f"{FLAG}="):
            hardware = hardware_file(arg.split("=", 1)[1], f"argument {FLAG}", Path(), folder)
        if hardware is not None:
            expanded += ["--config", str(hardware)]
        expanded += args[index : index + taken]
        index += taken
    return expanded
