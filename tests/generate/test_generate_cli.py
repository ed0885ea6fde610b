"""`qapgen export` and `qapgen generate` end to end on a model trained by `qapgen fit`."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from qapgen.cli.main import main
from qapgen.data.segment import split_sentences
from qapgen.export import load_model


def generate(capsys, *args):
    """Run `qapgen generate`; returns (exit status, stdout, stderr)."""
    status = main(["generate", "--no-progress", *args])
    out, err = capsys.readouterr()
    return status, out, err


def jsonl(text):
    return [json.loads(line) for line in text.splitlines()]


def test_export_writes_weights_config_tokenizer_and_card(capsys, overfit_checkpoint, tmp_path):
    out_dir = tmp_path / "exported"
    assert main(["export", str(overfit_checkpoint), str(out_dir)]) == 0
    assert f"wrote {out_dir}" in capsys.readouterr().out

    config = json.loads((out_dir / "config.json").read_text())
    assert config["class_path"] == "qapgen.models.igja_qap_module.IGJAQAPModule"
    assert config["hparams"]["vocab"]["tokenizer"] == "tokenizer"
    assert (out_dir / "tokenizer" / "tokenizer.json").is_file()
    card = (out_dir / "README.md").read_text()
    assert "- steps: 3" in card and "- dataset: `squad`" in card
    assert "test/question/bleu4" in card  # the run's metrics.json

    # the same weights as the checkpoint, without Lightning in the loop
    checkpoint = torch.load(overfit_checkpoint, map_location="cpu", weights_only=False)
    weights = load_file(out_dir / "model.safetensors")
    for name, tensor in weights.items():
        assert torch.equal(tensor, checkpoint["state_dict"][name]), name
    exported = load_model(out_dir).model.state_dict()
    for name, tensor in checkpoint["state_dict"].items():
        assert torch.equal(exported[name], tensor), name


def test_the_exported_card_carries_the_test_metrics_as_a_model_index(
    capsys, overfit_checkpoint, tmp_path
):
    out_dir = tmp_path / "exported"
    assert main(["export", str(overfit_checkpoint), str(out_dir)]) == 0
    card = (out_dir / "README.md").read_text()
    assert card.startswith("---\n")
    metadata = yaml.safe_load(card.split("---\n")[1])
    metrics = json.loads((overfit_checkpoint.parent.parent / "metrics.json").read_text())

    assert metadata["library_name"] == "qapgen"
    (entry,) = metadata["model-index"]
    assert entry["name"] == "IGJAQAPModule"
    by_task = {result["task"]["name"]: result for result in entry["results"]}
    assert set(by_task) == {"Question Generation", "Answer Generation"}
    question = by_task["Question Generation"]
    assert question["dataset"]["type"] == "squad" and question["dataset"]["split"] == "test"
    values = {metric["name"]: metric["value"] for metric in question["metrics"]}
    assert values["BLEU-4"] == round(metrics["test/question/bleu4"], 2)
    assert values["ROUGE-L"] == round(metrics["test/question/rougeL"], 2)


def test_generate_from_an_export_writes_one_jsonl_record_per_pair(capsys, exported_model, article):
    status, out, err = generate(capsys, "--model", str(exported_model), "--input", str(article))
    assert status == 0, err
    records = jsonl(out)
    sentences = [s.text for s in split_sentences(article.read_text())]
    assert "1 documents, 5 sentences" in err
    # at most one pair per sentence (an empty pair is dropped and counted), in order
    assert records
    assert [r["sentence_index"] for r in records] == sorted({r["sentence_index"] for r in records})
    for record in records:
        assert record["document"] == "article.txt"
        assert record["sentence"] == sentences[record["sentence_index"]]
        assert record["question"] and record["answer"]
        assert record["answer_log_prob"] < 0 and record["question_log_prob"] < 0


def test_a_checkpoint_generates_the_same_pairs_as_its_export(
    capsys, overfit_checkpoint, exported_model, article
):
    _, from_export, _ = generate(capsys, "--model", str(exported_model), "--input", str(article))
    _, from_ckpt, _ = generate(capsys, "--model", str(overfit_checkpoint), "--input", str(article))
    assert jsonl(from_ckpt) == jsonl(from_export)


def test_pairs_per_sentence_gives_up_to_k_distinct_pairs_best_first(
    capsys, exported_model, article
):
    status, out, err = generate(
        capsys,
        "--model",
        str(exported_model),
        "--input",
        str(article),
        "--pairs-per-sentence",
        "3",
    )
    assert status == 0, err
    by_sentence = defaultdict(list)
    for record in jsonl(out):
        by_sentence[record["sentence_index"]].append(record)
    assert set(by_sentence) <= set(range(5))
    for pairs in by_sentence.values():
        assert 1 <= len(pairs) <= 3
        assert [p["rank"] for p in pairs] == list(range(len(pairs)))
        keys = {(p["question"].lower(), p["answer"].lower()) for p in pairs}
        assert len(keys) == len(pairs)
    # beam n-best gives several answers: some sentence has more than one pair
    assert max(len(pairs) for pairs in by_sentence.values()) > 1


def test_answer_in_context_answers_are_pieces_of_their_sentence(capsys, exported_model, article):
    status, out, err = generate(
        capsys,
        "--model",
        str(exported_model),
        "--input",
        str(article),
        "--answer-in-context",
        "--pairs-per-sentence",
        "2",
    )
    assert status == 0, err
    for record in jsonl(out):
        # decoded tokens of the sentence: the same characters, up to spacing
        assert record["answer"].replace(" ", "") in record["sentence"].replace(" ", "")


def test_sampling_is_reproducible_with_a_seed(capsys, exported_model, article):
    args = ["--model", str(exported_model), "--input", str(article), "--sample", "--top-p", "0.9"]
    _, first, _ = generate(capsys, *args, "--pairs-per-sentence", "2", "--seed", "3")
    _, second, _ = generate(capsys, *args, "--pairs-per-sentence", "2", "--seed", "3")
    assert jsonl(first) == jsonl(second) and first


def test_csv_output_has_a_header_and_a_row_per_pair(capsys, exported_model, article, tmp_path):
    output = tmp_path / "pairs.csv"
    status, _, err = generate(
        capsys,
        "--model",
        str(exported_model),
        "--input",
        str(article),
        "--format",
        "csv",
        "--output",
        str(output),
    )
    assert status == 0, err
    rows = list(csv.DictReader(io.StringIO(output.read_text())))
    assert 1 <= len(rows) <= 5
    assert {"document", "sentence", "question", "answer", "answer_log_prob"} <= set(rows[0])


def test_jsonl_and_folder_inputs(capsys, exported_model, tmp_path):
    lines = tmp_path / "docs.jsonl"
    lines.write_text(
        json.dumps({"id": "a", "text": "Paris is in France. It is big."})
        + "\n\n"
        + json.dumps({"text": "Rome is old."})
        + "\n"
    )
    _, out, err = generate(capsys, "--model", str(exported_model), "--input", str(lines))
    assert "2 documents, 3 sentences" in err
    assert {(r["document"], r["sentence_index"]) for r in jsonl(out)} <= {
        ("a", 0),
        ("a", 1),
        ("line-3", 0),
    }
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "one.txt").write_text("Paris is in France.")
    (folder / "two.txt").write_text("Rome is old. Rome is in Italy.")
    _, out, err = generate(capsys, "--model", str(exported_model), "--input", str(folder))
    assert "2 documents, 3 sentences" in err
    documents = [r["document"] for r in jsonl(out)]
    assert set(documents) <= {"one.txt", "two.txt"} and documents == sorted(documents)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "file is empty"),
        (b"\n\n   \n", "no text to generate from"),
        (bytes(range(256)) * 8, "binary file"),
        (b"\x89PNG\r\n" + bytes(range(128, 256)) * 20, "not UTF-8 text"),
        (None, "no such file"),
    ],
    ids=["empty", "blank", "binary", "undecodable", "missing"],
)
def test_bad_input_exits_nonzero_with_a_one_line_reason(
    capsys, exported_model, tmp_path, content, reason
):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    status, out, err = generate(capsys, "--model", str(exported_model), "--input", str(path))
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1 and reason in err and str(path) in err


def test_latin1_text_is_read_as_windows_1252_and_counted(capsys, exported_model, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\u00e9 culture is old in Paris. ".encode("latin-1") * 20)
    status, out, err = generate(capsys, "--model", str(exported_model), "--input", str(path))
    assert status == 0, err
    assert "1 documents read as Windows-1252" in err and "undecodable" not in err


def test_a_few_bad_bytes_in_utf8_text_are_replaced_and_counted(capsys, exported_model, tmp_path):
    path = tmp_path / "damaged.txt"
    path.write_bytes("Caf\u00e9 culture is old in Paris. ".encode() * 20 + b"\xe9 \xff.")
    status, out, err = generate(capsys, "--model", str(exported_model), "--input", str(path))
    assert status == 0, err
    assert "2 undecodable bytes replaced" in err and "Windows-1252" not in err


def test_over_long_sentences_are_truncated_and_counted(capsys, exported_model, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("Short one. " + " ".join(["word"] * 400) + ".\n")
    status, out, err = generate(capsys, "--model", str(exported_model), "--input", str(path))
    assert status == 0
    assert "2 sentences" in err and "1 sentences truncated to 128 tokens" in err


def test_model_errors_are_one_line(capsys, exported_model, article, tmp_path):
    status, _, err = generate(capsys, "--model", str(tmp_path / "nope"), "--input", str(article))
    assert status == 1 and "no such model" in err and err.count("\n") == 1
    status, _, err = generate(
        capsys,
        "--model",
        str(exported_model),
        "--input",
        str(article),
        "--filter-consistency",
        "0.5",
    )
    assert status == 1 and "needs a question-answering model" in err
    status, _, err = generate(
        capsys, "--model", str(exported_model), "--input", str(article), "--pairs-per-sentence", "0"
    )
    assert status == 2 and "at least 1" in err


def test_push_to_hub_without_credentials_fails_before_any_network(
    capsys, overfit_checkpoint, tmp_path, monkeypatch
):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    status = main(
        ["export", str(overfit_checkpoint), str(tmp_path / "out"), "--push-to-hub", "me/model"]
    )
    err = capsys.readouterr().err
    assert status == 1 and "no Hugging Face credentials" in err
    assert (tmp_path / "out" / "model.safetensors").is_file()


class FakeHub:
    """Stands for huggingface_hub.HfApi: records calls, or fails as the network would."""

    calls: list = []
    failure: Exception | None = None

    def __init__(self, token):
        self.calls.append(("token", token))

    def create_repo(self, repo_id, **kwargs):
        if self.failure is not None:
            raise self.failure
        self.calls.append(("create_repo", repo_id, kwargs))
        return f"https://hub.example/{repo_id}"

    def upload_folder(self, **kwargs):
        folder = kwargs["folder_path"]
        files = sorted(p.name for p in Path(folder).iterdir())
        self.calls.append(("upload_folder", kwargs["repo_id"], files))


@pytest.fixture
def fake_hub(monkeypatch):
    import huggingface_hub

    FakeHub.calls, FakeHub.failure = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_test_token")
    return FakeHub


def test_push_to_hub_with_credentials_uploads_the_export(
    capsys, overfit_checkpoint, tmp_path, fake_hub
):
    out = tmp_path / "out"
    status = main(["export", str(overfit_checkpoint), str(out), "--push-to-hub", "me/model"])
    assert status == 0
    assert "pushed to https://hub.example/me/model" in capsys.readouterr().out
    assert fake_hub.calls == [
        ("token", "hf_test_token"),
        ("create_repo", "me/model", {"private": True, "exist_ok": True}),
        (
            "upload_folder",
            "me/model",
            ["README.md", "config.json", "model.safetensors", "tokenizer"],
        ),
    ]


def test_a_failed_push_says_what_failed_and_keeps_the_export(
    capsys, overfit_checkpoint, tmp_path, fake_hub
):
    import huggingface_hub.errors as hub_errors

    fake_hub.failure = hub_errors.HTTPError("[Errno 111] Connection refused")
    out = tmp_path / "out"
    status = main(["export", str(overfit_checkpoint), str(out), "--push-to-hub", "me/model"])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1
    assert "as me/model failed (" in err and "Connection refused" in err and "intact" in err
    assert (out / "model.safetensors").is_file()


@pytest.mark.slow
def test_the_full_overfit_profile_model_gives_back_its_memorised_pairs(capsys, tmp_path):
    """Done-when of issue 8 at full length: train with conf/profile/overfit.yaml, export, and
    generate from the training sentences written as a plain-text article."""
    from qapgen.cli.lightning import run_lightning_cli
    from qapgen.data.datamodule import fixture_path
    from qapgen.data.prepare import prepare

    run_lightning_cli(
        [
            "fit",
            "-c",
            "conf/profile/overfit.yaml",
            "-c",
            "conf/model/igja_qap.yaml",
            "--trainer.default_root_dir",
            str(tmp_path / "run"),
            "--trainer.enable_checkpointing",
            "true",
            "--model.init_args.meteor",
            "none",
            "--wandb",
            "disabled",
        ]
    )
    (checkpoint,) = (tmp_path / "run").rglob("*.ckpt")
    assert main(["export", str(checkpoint), str(tmp_path / "model")]) == 0
    records = prepare("squad", fixture_path("squad")).splits["train"][:16]
    article = tmp_path / "article.txt"
    article.write_text("\n".join(r.context for r in records) + "\n")
    capsys.readouterr()

    status, out, err = generate(capsys, "--model", str(tmp_path / "model"), "--input", str(article))
    assert status == 0, err
    gold = [(r.question, r.answer) for r in records]
    assert [(p["question"], p["answer"]) for p in jsonl(out)] == gold

    status, out, err = generate(
        capsys,
        "--model",
        str(tmp_path / "model"),
        "--input",
        str(article),
        "--pairs-per-sentence",
        "3",
    )
    assert status == 0, err
    by_sentence = defaultdict(list)
    for record in jsonl(out):
        by_sentence[record["sentence_index"]].append((record["question"], record["answer"]))
    assert sorted(by_sentence) == list(range(16))
    for index, pairs in by_sentence.items():
        assert len(pairs) == len(set(pairs)) <= 3
        assert pairs[0] == gold[index]  # the best candidate is still the memorised pair
