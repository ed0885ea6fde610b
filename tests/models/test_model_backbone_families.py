"""Backbones beyond T5 v1.0: T5 v1.1 / flan-t5 (gated GELU, no rescaling before the head) and
BART (its own start tokens added, final_logits_bias, no forced tokens), through fit, generate
and export with tiny random-init configs of each family. IGJA-QAP's BART decoding is checked
against its training pass and an explicit loop in test_model_igja_one_pass.py and
test_model_generation.py."""

from __future__ import annotations

import pytest
import torch
from transformers import BartConfig, BartForConditionalGeneration, T5Config

from qapgen.export import export_model, load_model
from qapgen.models.backbone import (
    load_backbone,
    random_init_config,
    vocabulary_logits,
)
from zoo_testing import fit_briefly, fixture_batch


def test_t5_v1_1_is_gated_and_unscaled_and_v1_0_is_neither():
    v1_1 = random_init_config("tiny", vocab_size=100, family="t5-v1.1")
    v1_0 = random_init_config("tiny", vocab_size=100)
    assert isinstance(v1_1, T5Config) and v1_1.is_gated_act and not v1_1.scale_decoder_outputs
    assert not v1_0.is_gated_act and v1_0.scale_decoder_outputs


def test_bart_takes_the_tokenizers_ids_and_forces_no_first_token():
    model = load_backbone(None, size="tiny", family="bart", vocab_size=100)
    assert model.generation_config.forced_bos_token_id is None
    assert model.generation_config.forced_eos_token_id is None  # BART's would be 2
    config = random_init_config(
        "tiny", vocab_size=100, family="bart", pad_token_id=0, eos_token_id=1
    )
    assert isinstance(config, BartConfig)
    assert (config.pad_token_id, config.eos_token_id) == (0, 1)
    assert (config.d_model, config.decoder_layers, config.decoder_attention_heads) == (32, 2, 4)
    with pytest.raises(ValueError, match="unknown backbone family"):
        random_init_config("tiny", vocab_size=100, family="gpt")


def test_bart_logits_add_its_final_logits_bias():
    torch.manual_seed(0)
    model = load_backbone(None, size="tiny", family="bart", vocab_size=50)
    model.final_logits_bias.normal_()
    hidden = torch.randn(2, 3, 32)
    expected = hidden @ model.lm_head.weight.T + model.final_logits_bias
    torch.testing.assert_close(vocabulary_logits(model, hidden), expected)


def test_a_saved_bart_loads_with_qapgens_overrides(tmp_path):
    saved = BartForConditionalGeneration(random_init_config("tiny", vocab_size=50, family="bart"))
    saved.generation_config.forced_bos_token_id = 0  # as bart-base ships
    saved.save_pretrained(str(tmp_path))

    model = load_backbone(str(tmp_path), dropout_rate=0.0)

    assert isinstance(model, BartForConditionalGeneration)
    assert model.config.dropout == 0.0
    assert model.generation_config.forced_bos_token_id is None
    assert model.generation_config.forced_eos_token_id is None


def fit_and_export(tmp_path, model_yaml: str, family: str):
    checkpoint = fit_briefly(
        tmp_path / "run", model_yaml, "--model.init_args.backbone_family", family
    )
    predictions = next((tmp_path / "run").rglob("test.jsonl")).read_text().splitlines()
    return (
        load_model(checkpoint),
        load_model(export_model(checkpoint, tmp_path / "export")),
        predictions,
    )


CASES = [
    (model, family) for model in ("igja_qap", "t5_qg", "qa2qg") for family in ("t5-v1.1", "bart")
]


@pytest.mark.learnability
@pytest.mark.parametrize(("model_yaml", "family"), CASES, ids=lambda v: v)
def test_fit_generate_and_export_with_a_tiny_backbone_of_the_family(tmp_path, model_yaml, family):
    trained, exported, predictions = fit_and_export(tmp_path, model_yaml, family)

    expected_type = "bart" if family == "bart" else "t5"
    backbone = getattr(trained.model, "backbone", None) or trained.model.core.backbone
    assert backbone.config.model_type == expected_type
    if family == "t5-v1.1":
        assert backbone.config.is_gated_act and not backbone.config.scale_decoder_outputs
    assert len(predictions) == 16  # the test split was generated
    batch = fixture_batch(trained.tokenizer, trained.model.data_features)
    assert exported.model.generate_batch(batch) == trained.model.generate_batch(batch)
    assert len(exported.tokenizer) == exported.model.vocab.size


def bart_like_tokenizer(folder, texts):
    """A word-level tokenizer in BART's layout (<s> 0, <pad> 1, </s> 2, <unk> 3, no T5
    sentinels), saved to ``folder``."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = sorted({w for text in texts for w in text.lower().split()})
    vocabulary = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", *words])}
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", pad_token="<pad>", eos_token="</s>",
        unk_token="<unk>",
    )  # fmt: skip
    wrapped.save_pretrained(str(folder))
    return wrapped


@pytest.mark.learnability
def test_a_pretrained_bart_gets_its_task_start_tokens_and_grows_its_embeddings(tmp_path):
    from qapgen.data.datamodule import fixture_path
    from qapgen.data.prepare import prepare

    records = prepare("squad", fixture_path("squad")).splits["train"]
    tokenizer = bart_like_tokenizer(
        tmp_path / "bart", [t for r in records for t in (r.context, r.question, r.answer)]
    )
    base = BartForConditionalGeneration(
        random_init_config(
            "tiny", vocab_size=len(tokenizer), family="bart", pad_token_id=1, eos_token_id=2
        )
    )
    base.save_pretrained(str(tmp_path / "bart"))

    checkpoint = fit_briefly(
        tmp_path / "run", "t5_qg",
        "--data.tokenizer", str(tmp_path / "bart"),
        "--model.init_args.backbone", str(tmp_path / "bart"),
        "--model.init_args.backbone_size", "null",
        epochs=1,
    )  # fmt: skip
    reloaded = load_model(checkpoint)

    vocab = reloaded.model.vocab
    assert vocab.added_tokens == ("<extra_id_0>", "<extra_id_1>")
    assert vocab.question_start_token_id == len(tokenizer) + 1
    assert reloaded.model.backbone.get_input_embeddings().num_embeddings == len(tokenizer) + 2
    assert reloaded.tokenizer.convert_tokens_to_ids("<extra_id_1>") == vocab.question_start_token_id
