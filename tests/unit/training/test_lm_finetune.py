"""ULMFiT's language-model fine-tuning stage: a language model warm-started from a pretrained one
(``trainer.init_from`` naming a recipe, trained first), with discriminative rates over its layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from nlpseq.config import TrainerConfig
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.language_model import LanguageModel, lm_encoder
from nlpseq.training.optim import build_optimizer
from nlpseq.training.unfreezing import GradualUnfreezing
from tests.helpers import ROOT, run_cli, sentiment_files, sentiment_rows


@pytest.mark.parametrize(("tie", "conditions"), [(True, 0), (False, 0), (True, 3)])
def test_language_model_layer_groups_hold_every_parameter_once_bottom_to_top(tie: bool,
                                                                             conditions: int) -> None:
    model = LanguageModel(20, EmbeddingConfig(embedding_dim=8), lm_encoder(hidden_size=6, num_layers=3),
                          tie_weights=tie, num_conditions=conditions)
    groups = model.layer_groups()
    assert len(groups) == 3 + 2
    flat = [id(param) for group in groups for param in group]
    assert sorted(flat) == sorted(id(param) for param in model.parameters())  # each exactly once
    ids = [{id(param) for param in group} for group in groups]
    assert id(model.embedding.embedding.weight) in ids[0]
    for index, layer in enumerate(model.layers):
        assert ids[1 + index] == {id(p) for p in layer.parameters()}
    assert id(model.output.bias) in ids[-1]
    # Tied, the output matrix is the embedding's: it trains at the embedding's (lowest) rate.
    assert (id(model.output.weight) in ids[0]) is tie


def test_discriminative_rates_and_unfreezing_reach_a_language_model() -> None:
    model = LanguageModel(20, EmbeddingConfig(embedding_dim=8), lm_encoder(hidden_size=6, num_layers=2))
    optimizer = build_optimizer(model, TrainerConfig(lr=0.01, layer_lr_decay=2.0))
    rates = {id(param): group["lr"] for group in optimizer.param_groups for param in group["params"]}
    groups = model.layer_groups()
    assert [rates[id(group[0])] for group in groups] == pytest.approx([0.01 / 8, 0.01 / 4, 0.01 / 2, 0.01])
    unfreezing = GradualUnfreezing(groups)
    unfreezing.apply(0)
    assert [all(p.requires_grad for p in group) for group in groups] == [False, False, False, True]


def _lm_recipe(folder: Path, name: str, values: dict) -> Path:
    base = yaml.safe_load((ROOT / "recipes" / "lm" / "tiny.yaml").read_text(encoding="utf-8"))
    for key, value in values.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(base), encoding="utf-8")
    return path


def test_pretrain_then_lm_fine_tune_then_classifier_is_one_command(tmp_path: Path) -> None:
    # general text -> language model; the task's own text -> the same model fine-tuned (its
    # vocabulary kept); then the classifier from the fine-tuned one. Nothing exists at the start.
    text = {}
    for split, count, seed in (("train", 200, 21), ("valid", 20, 22)):
        text[split] = tmp_path / f"general_{split}.txt"
        lines = "".join(row["text"] + "\n" for row in sentiment_rows(count, seed))
        text[split].write_text(lines, encoding="utf-8")
    general = _lm_recipe(tmp_path, "general", {
        "run_dir": str(tmp_path / "general_run"), "trainer": {"max_epochs": 1},
        "data": {"train": str(text["train"]), "valid": str(text["valid"])}})
    data = sentiment_files(tmp_path / "data")
    task_text = {item.split("=", 1)[0].split(".")[1]: item.split("=", 1)[1] for item in data}
    tuned = _lm_recipe(tmp_path, "tuned", {
        "run_dir": str(tmp_path / "tuned_run"),
        "data": {"format": "jsonl", "text_field": "text", "train": task_text["train"],
                 "valid": task_text["valid"]},
        "trainer": {"init_from": str(general), "max_epochs": 1, "layer_lr_decay": 2.6,
                    "schedule": "slanted_triangular"}})
    run = tmp_path / "classifier"
    command = ("train", "sentiment/tiny", *data, f"run_dir={run}", "trainer.max_epochs=1",
               f"model.pretrained={tuned}", "model.encoder.rnn_type=lstm", "model.encoder.num_layers=2")
    done = run_cli(*command)
    assert done.returncode == 0, done.stderr
    for stage in ("general_run", "tuned_run"):
        assert (tmp_path / stage / "results.json").is_file(), stage
    # The fine-tuned model kept the pretrained vocabulary and started from its weights.
    assert (tmp_path / "tuned_run" / "tokenizer.json").read_bytes() == \
        (tmp_path / "general_run" / "tokenizer.json").read_bytes()
    tuned_log = (tmp_path / "tuned_run" / "train.log").read_text(encoding="utf-8")
    assert "warm start: " in tuned_log and "loaded from " + str(tmp_path / "general_run") in tuned_log
    saved = yaml.safe_load((tmp_path / "tuned_run" / "config.yaml").read_text(encoding="utf-8"))
    assert saved["trainer"]["init_from"] == str(tmp_path / "general_run")
    # The classifier started from the fine-tuned model, whose weights moved away from the general one's.
    assert "embedding rows matched by token" in (run / "train.log").read_text(encoding="utf-8")
    classifier_config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert classifier_config["model"]["pretrained"] == str(tmp_path / "tuned_run")
    best = {stage: torch.load(tmp_path / stage / "checkpoints" / "best.pt", weights_only=True)["model"]
            for stage in ("general_run", "tuned_run")}
    name = "layers.0.rnn.weight_hh_l0"
    assert not torch.equal(best["general_run"][name], best["tuned_run"][name])
