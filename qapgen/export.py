"""Trained models outside Lightning: export a checkpoint to a plain folder, load either.

An exported folder holds everything generation needs and nothing Lightning-specific::

    OUT_DIR/
      model.safetensors   the weights (tied T5 embeddings stored once)
      config.json         class path, hyperparameters (with ``vocab``), data limits, provenance
      tokenizer/          the tokenizer the model was trained with (save_pretrained)
      README.md           a model card: data, steps, metrics

``load_model`` takes such a folder or a Lightning ``.ckpt`` and returns the model (eval
mode) with its tokenizer. Rebuilding uses the model's own ``build(vocab)``: a model on a
pretrained backbone loads that backbone's architecture by name first (random-init sizes,
such as ``tiny``, need nothing).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from safetensors.torch import load_model as load_safetensors_model
from safetensors.torch import save_model as save_safetensors_model

from qapgen.atomic_files import atomic_folder, check_output
from qapgen.data.tokenizer import add_missing_tokens, load_tokenizer
from qapgen.json_input import JSONFileError, read_json, read_json_object
from qapgen.models.base import QAPModule
from qapgen.trust import CorruptCheckpointError, UntrustedError, check_class_path, load_checkpoint

EXPORT_FORMAT = "qapgen-export"
EXPORT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FOLDER = "tokenizer"
MODEL_CARD_FILE = "README.md"
# The DataModule's source limit is the only data setting inference needs; without it,
# 128 tokens (the DataModule's default).
DEFAULT_MAX_SOURCE_LENGTH = 128


class ModelLoadError(ValueError):
    """A path is neither a Lightning checkpoint nor an exported folder, or is broken."""


@dataclass
class LoadedModel:
    """A model ready for inference and what came with it."""

    model: QAPModule
    tokenizer: Any
    class_path: str
    max_source_length: int
    data: dict[str, Any] = field(default_factory=dict)  # the DataModule's hyperparameters
    provenance: dict[str, Any] = field(default_factory=dict)  # steps, epoch, metrics


def load_model(path: str | Path, *, class_path: str | None = None) -> LoadedModel:
    """A model from an exported folder or a Lightning checkpoint, in eval mode on the CPU.

    ``class_path`` names the model class for a checkpoint saved without the Lightning CLI
    (the CLI records it as ``_class_path``).
    """
    path = Path(path)
    if path.is_dir():
        return _load_exported(path)
    if path.is_file():
        return _load_checkpoint(path, class_path)
    raise ModelLoadError(f"{path}: no such model (an exported folder or a .ckpt file)")


def export_model(
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    class_path: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the exported folder for a Lightning checkpoint; returns ``out_dir``.

    An existing, non-empty ``out_dir`` is replaced only with ``overwrite`` (as a whole, once
    the new folder is complete); an ``out_dir`` that holds the checkpoint is refused.
    """
    if not Path(checkpoint).is_file():
        raise ModelLoadError(f"{checkpoint}: no such checkpoint file")
    out_dir = check_output(out_dir, overwrite=overwrite, inputs=[checkpoint], what="export folder")
    loaded = _load_checkpoint(Path(checkpoint), class_path)
    hparams = _plain_hparams(loaded.model)
    # the folder's own copy, found relative to the folder when it is loaded
    hparams["vocab"] = {**hparams["vocab"], "tokenizer": TOKENIZER_FOLDER}
    config = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "class_path": loaded.class_path,
        "hparams": hparams,
        "max_source_length": loaded.max_source_length,
        "data": loaded.data,
        "provenance": loaded.provenance,
    }
    with atomic_folder(out_dir) as staging:
        save_safetensors_model(loaded.model, str(staging / WEIGHTS_FILE))
        loaded.tokenizer.save_pretrained(str(staging / TOKENIZER_FOLDER))
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        (staging / MODEL_CARD_FILE).write_text(model_card(config))
    return out_dir


class HubPushError(RuntimeError):
    """Uploading an export to the Hugging Face hub failed; the local folder is intact."""


def push_to_hub(folder: str | Path, repo_id: str, *, private: bool = True) -> str:
    """Upload an exported folder to the Hugging Face hub; returns the repository URL.

    Needs credentials (``HF_TOKEN`` or ``hf auth login``); without them this fails
    at once, before any network access. A refused or failed upload (no network, a bad
    token, a name taken by someone else) raises ``HubPushError`` saying what failed.
    """
    import huggingface_hub.errors as hub_errors
    from huggingface_hub import HfApi, get_token

    token = get_token()
    if not token:
        raise HubPushError("no Hugging Face credentials: set HF_TOKEN or run `hf auth login`")
    # The hub client's HTTP errors (network failures and refusals alike) share the base
    # class its errors module imports from its HTTP library; older clients' is an OSError.
    failures = (OSError, ValueError, getattr(hub_errors, "HTTPError", OSError))
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="qapgen export")
    except failures as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise HubPushError(
            f"pushing {folder} to the hub as {repo_id} failed ({reason}); the export in "
            f"{folder} is intact: push it later with `hf upload {repo_id} {folder}`"
        ) from error
    return str(url)


# test/<task>/<metric> -> the hub's model-index: task, and each metric's type and label.
CARD_TASKS = (
    ("question", "Question Generation"),
    ("answer", "Answer Generation"),
    ("pair", "Question-Answer Pair Generation"),
)
CARD_METRICS = {
    "bleu1": ("bleu", "BLEU-1"),
    "bleu2": ("bleu", "BLEU-2"),
    "bleu3": ("bleu", "BLEU-3"),
    "bleu4": ("bleu", "BLEU-4"),
    "rougeL": ("rouge", "ROUGE-L"),
    "meteor": ("meteor", "METEOR 1.5"),
    "meteor_nltk": ("meteor", "METEOR (nltk)"),
    "qa_aligned_f1": ("bertscore", "QA-aligned F1 (BERTScore)"),
    "qa_aligned_precision": ("bertscore", "QA-aligned precision (BERTScore)"),
    "qa_aligned_recall": ("bertscore", "QA-aligned recall (BERTScore)"),
    "answerability_f1": ("f1", "answerability F1"),
}


def model_index(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The hub's ``model-index`` for an export: one result per task with test metrics in
    the run's ``metrics.json`` (scores 0-100, qapgen's protocol); empty without metrics."""
    metrics = (config.get("provenance") or {}).get("metrics") or {}
    data = config.get("data") or {}
    dataset = str(data.get("dataset", "unknown"))
    split = data.get("split", "paper")
    results = []
    for task, task_name in CARD_TASKS:
        entries = [
            {"type": kind, "name": label, "value": round(float(metrics[key]), 2)}
            for name, (kind, label) in CARD_METRICS.items()
            if isinstance(metrics.get(key := f"test/{task}/{name}"), int | float)
        ]
        if entries:
            results.append(
                {
                    "task": {"type": "text2text-generation", "name": task_name},
                    "dataset": {
                        "type": dataset,
                        "name": f"{dataset} ({split} split, qapgen preparation)",
                        "split": "test",
                    },
                    "metrics": entries,
                }
            )
    if not results:
        return []
    return [{"name": config["class_path"].rsplit(".", 1)[-1], "results": results}]


def model_card(config: dict[str, Any]) -> str:
    """A short Markdown model card from an export's config, with the hub's metadata block
    (``model-index`` holding the test metrics) in front."""
    hp = config["hparams"]
    data = config.get("data") or {}
    provenance = config.get("provenance") or {}
    metrics = provenance.get("metrics") or {}
    metadata: dict[str, Any] = {
        "library_name": "qapgen",
        "tags": ["question-generation", "question-answer-pair-generation", "qapgen"],
    }
    index = model_index(config)
    if index:
        metadata["model-index"] = index
    lines = [
        "---",
        yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {config['class_path'].rsplit('.', 1)[-1]} (qapgen)",
        "",
        "Question-answer pair generation model exported by `qapgen export`. Generate with",
        "`qapgen generate --model <this folder> --input article.txt`, or in Python:",
        "`QAPGenerator.from_pretrained(path).generate(texts)`.",
        "",
        "## Model",
        f"- class: `{config['class_path']}`",
        f"- backbone: `{hp.get('backbone_size') or hp.get('backbone')}`",
        f"- vocabulary: {hp['vocab']['size']} tokens",
        f"- limits: source {config['max_source_length']}, answer "
        f"{hp.get('max_answer_length')}, question {hp.get('max_question_length')} tokens",
        "",
        "## Data",
    ]
    lines += [f"- {key}: `{data[key]}`" for key in sorted(data)] or ["- unknown"]
    lines += [
        "",
        "## Training",
        f"- steps: {provenance.get('global_step', 'unknown')}",
        f"- epochs: {provenance.get('epochs', 'unknown')}",
        f"- optimiser: {hp.get('optimizer')}, lr {hp.get('lr')}",
        "",
        "## Metrics",
    ]
    numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float)}
    lines += [f"- {key}: {numbers[key]}" for key in sorted(numbers)] or [
        "- none recorded (no metrics.json beside the checkpoint)"
    ]
    return "\n".join(lines) + "\n"


# -- loading -----------------------------------------------------------------------------
def _load_checkpoint(path: Path, class_path: str | None) -> LoadedModel:
    try:
        checkpoint = load_checkpoint(path)
    except (UntrustedError, CorruptCheckpointError) as error:
        raise ModelLoadError(str(error)) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ModelLoadError(f"{path}: not a Lightning checkpoint (no state_dict)")
    hparams = dict(checkpoint.get("hyper_parameters") or {})
    class_path = class_path or hparams.get("_class_path")
    if not class_path:
        raise ModelLoadError(
            f"{path}: the checkpoint does not name its model class; pass its class path "
            "(e.g. qapgen.models.igja_qap_module.IGJAQAPModule)"
        )
    if not hparams.get("vocab"):
        raise ModelLoadError(f"{path}: the checkpoint has no vocabulary (hparams.vocab)")
    data = {
        k: v
        for k, v in (checkpoint.get("datamodule_hyper_parameters") or {}).items()
        if not k.startswith("_")
    }
    tokenizer = _checkpoint_tokenizer(path, hparams["vocab"], data)
    model = _build(class_path, hparams)
    try:
        model.load_state_dict(checkpoint["state_dict"], strict=True)
    except RuntimeError as error:
        raise ModelLoadError(
            f"{path}: weights do not fit {class_path} ({_first_line(error)})"
        ) from error
    provenance = {
        "global_step": checkpoint.get("global_step"),
        "epochs": None if checkpoint.get("epoch") is None else checkpoint["epoch"] + 1,
        "checkpoint": path.name,
        "metrics": _metrics_near(path),
    }
    return _ready(
        model,
        tokenizer,
        class_path,
        data.get("max_source_length", DEFAULT_MAX_SOURCE_LENGTH),
        data,
        provenance,
    )


def _checkpoint_tokenizer(path: Path, vocab: dict[str, Any], data: dict[str, Any]):
    """The tokenizer a checkpoint was trained with: from the location in ``hparams.vocab``,
    or, where that is empty (a tokenizer trained in the same run has no location), from the
    checkpoint's DataModule settings, which find or retrain the same tokenizer."""
    if vocab.get("tokenizer"):
        tokenizer = load_tokenizer(vocab["tokenizer"])
        add_missing_tokens(tokenizer, vocab.get("added_tokens") or ())
        return tokenizer
    if not data:
        raise ModelLoadError(
            f"{path}: the checkpoint names no tokenizer location and has no DataModule "
            "settings to rebuild it from"
        )
    from qapgen.data.datamodule import QAPDataModule

    datamodule = QAPDataModule(**data)
    datamodule.prepare_data()
    tokenizer = datamodule.tokenizer
    add_missing_tokens(tokenizer, vocab.get("added_tokens") or ())
    if len(tokenizer) != vocab["size"]:
        raise ModelLoadError(
            f"{path}: the DataModule settings give a tokenizer of {len(tokenizer)} tokens, the "
            f"model has {vocab['size']}"
        )
    return tokenizer


def _load_exported(folder: Path) -> LoadedModel:
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ModelLoadError(f"{folder}: not an exported model folder (no {CONFIG_FILE})")
    try:
        config = read_json(config_path)
    except JSONFileError as error:
        raise ModelLoadError(f"{config_path}: not valid JSON ({error.detail})") from error
    if not isinstance(config, dict) or config.get("format") != EXPORT_FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise ModelLoadError(f"{config_path}: not a qapgen export (format {found})")
    hparams = config.get("hparams")
    vocab = hparams.get("vocab") if isinstance(hparams, dict) else None
    if not isinstance(vocab, dict) or not isinstance(vocab.get("tokenizer"), str):
        raise ModelLoadError(f"{config_path}: field 'hparams.vocab.tokenizer' is missing")
    if not isinstance(config.get("class_path"), str):
        raise ModelLoadError(f"{config_path}: field 'class_path' is missing")
    hparams = dict(hparams)
    tokenizer_dir = folder / vocab["tokenizer"]
    hparams["vocab"] = {**hparams["vocab"], "tokenizer": str(tokenizer_dir)}
    model = _build(config["class_path"], hparams)
    try:
        load_safetensors_model(model, str(folder / WEIGHTS_FILE), strict=True)
    except (RuntimeError, ValueError) as error:  # safetensors' errors: damaged or mismatched
        raise ModelLoadError(
            f"{folder / WEIGHTS_FILE}: weights do not load ({_first_line(error)})"
        ) from error
    return _ready(
        model,
        load_tokenizer(str(tokenizer_dir)),
        config["class_path"],
        config.get("max_source_length", DEFAULT_MAX_SOURCE_LENGTH),
        config.get("data") or {},
        config.get("provenance") or {},
    )


def _build(class_path: str, hparams: dict[str, Any]) -> QAPModule:
    try:
        check_class_path(class_path, "model class")
    except UntrustedError as error:
        raise ModelLoadError(str(error)) from error
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ModelLoadError(f"cannot import model class {class_path}: {error}") from error
    if not (isinstance(cls, type) and issubclass(cls, QAPModule)):
        raise ModelLoadError(f"{class_path} is not a qapgen model (QAPModule subclass)")
    # Lightning CLI bookkeeping (_class_path, _instantiator) is not a constructor argument.
    try:
        model = cls(**{k: v for k, v in hparams.items() if not k.startswith("_")})
    except (TypeError, ValueError) as error:
        raise ModelLoadError(
            f"{class_path}: the saved hyperparameters do not fit ({error})"
        ) from error
    model.configure_model()
    return model


def _ready(
    model: QAPModule,
    tokenizer: Any,
    class_path: str,
    max_source_length: int,
    data: dict[str, Any],
    provenance: dict[str, Any],
) -> LoadedModel:
    model.tokenizer = tokenizer
    # Models that tokenise prompts at inference (QA2QG) truncate to the training limit.
    if hasattr(model, "max_source_length"):
        model.max_source_length = max_source_length
    model.eval()
    return LoadedModel(model, tokenizer, class_path, max_source_length, data, provenance)


def _plain_hparams(model: QAPModule) -> dict[str, Any]:
    return {k: v for k, v in dict(model.hparams).items() if not k.startswith("_")}


def _metrics_near(checkpoint: Path) -> dict[str, Any]:
    """The run's ``metrics.json`` (written after test) if it sits in the checkpoint's run
    folder (``<run>/checkpoints/x.ckpt``) or beside the checkpoint."""
    for folder in (checkpoint.parent, checkpoint.parent.parent):
        candidate = folder / "metrics.json"
        if candidate.is_file():
            try:
                return read_json_object(candidate)
            except JSONFileError:
                return {}  # a damaged metrics file costs the model card its numbers only
    return {}


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
