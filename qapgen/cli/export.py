"""``qapgen export CKPT OUT_DIR``: a trained model as a folder loadable without Lightning.

An existing, non-empty OUT_DIR is replaced only with ``--overwrite``. The folder holds
``model.safetensors``, ``config.json`` (class path, hyperparameters, data
limits), the tokenizer and a model card (``README.md``: data, steps, metrics).
``qapgen generate --model OUT_DIR`` and ``QAPGenerator.from_pretrained(OUT_DIR)`` load it;
``--push-to-hub OWNER/NAME`` uploads it when Hugging Face credentials exist.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    parser = subparsers.add_parser(
        "export",
        help="export a Lightning checkpoint to a plain folder (safetensors, tokenizer, card)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", type=Path, metavar="CKPT")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument("--class-path", help="model class, for checkpoints that lack it")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUT_DIR if it exists and is not empty"
    )
    parser.add_argument("--push-to-hub", metavar="OWNER/NAME", help="then upload it there")
    parser.add_argument(
        "--public", action="store_true", help="create the hub repository public, not private"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Export (and push); user errors become ``CommandError``."""
    from qapgen.cli.errors import CommandError
    from qapgen.export import HubPushError, ModelLoadError, export_model, push_to_hub

    try:
        out_dir = export_model(
            args.checkpoint, args.out_dir, class_path=args.class_path, overwrite=args.overwrite
        )
        print(f"qapgen export: wrote {out_dir}")
        if args.push_to_hub:
            url = push_to_hub(out_dir, args.push_to_hub, private=not args.public)
            print(f"qapgen export: pushed to {url}")
    except (ModelLoadError, HubPushError) as error:
        raise CommandError(str(error)) from error
    return 0
