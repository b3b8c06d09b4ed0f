"""ULMFiT's optimisation: discriminative learning rates per layer group, the slanted triangular schedule."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nlpseq.config import TrainerConfig
from nlpseq.errors import ConfigError
from nlpseq.models.classifier import SequenceClassifier
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.training.optim import build_optimizer, build_scheduler


def _classifier() -> SequenceClassifier:
    encoder = EncoderConfig(hidden_size=5, num_layers=2, bidirectional=True)
    return SequenceClassifier(30, 2, EmbeddingConfig(embedding_dim=6), encoder, pooling="concat")


def _settings(optimizer: torch.optim.Optimizer) -> dict[int, tuple[float, float]]:
    """id(parameter) -> (lr, weight_decay) of the one group holding it."""
    found: dict[int, tuple[float, float]] = {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            assert id(param) not in found, "a parameter in two groups"
            found[id(param)] = (group["lr"], group["weight_decay"])
    return found


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_each_parameter_gets_lr_over_decay_to_its_depth_from_the_top(optimizer: str) -> None:
    model = _classifier()
    config = TrainerConfig(optimizer=optimizer, lr=0.01, layer_lr_decay=2.6, weight_decay=0.1)
    settings = _settings(build_optimizer(model, config))
    e, r = model.embedding.embedding, model.encoder.rnn
    # Depth from the top: head 0, encoder layer 1 1, encoder layer 0 2, embedding 3.
    expected = {
        model.head.weight: (0.01, 0.1), model.head.bias: (0.01, 0.0),
        r.weight_ih_l1: (0.01 / 2.6, 0.1), r.weight_hh_l1_reverse: (0.01 / 2.6, 0.1),
        r.bias_ih_l1: (0.01 / 2.6, 0.0), r.bias_hh_l1_reverse: (0.01 / 2.6, 0.0),
        r.weight_ih_l0: (0.01 / 2.6**2, 0.1), r.weight_hh_l0_reverse: (0.01 / 2.6**2, 0.1),
        r.bias_hh_l0: (0.01 / 2.6**2, 0.0), r.bias_ih_l0_reverse: (0.01 / 2.6**2, 0.0),
        e.weight: (0.01 / 2.6**3, 0.1),
    }
    for param, (lr, decay) in expected.items():
        assert settings[id(param)] == (pytest.approx(lr), decay)
    # Every parameter is in exactly one group, and the first group (the one the log shows) has the base lr.
    assert set(settings) == {id(p) for p in model.parameters()}
    assert build_optimizer(model, config).param_groups[0]["lr"] == 0.01


def test_without_decay_every_parameter_trains_at_lr_and_frozen_ones_are_left_out() -> None:
    model = _classifier()
    model.embedding.embedding.weight.requires_grad_(False)
    settings = _settings(build_optimizer(model, TrainerConfig(lr=0.01, weight_decay=0.1)))
    assert id(model.embedding.embedding.weight) not in settings
    assert {lr for lr, _ in settings.values()} == {0.01}
    assert settings[id(model.head.bias)] == (0.01, 0.0)
    assert settings[id(model.encoder.rnn.weight_hh_l1)] == (0.01, 0.1)


def test_layer_lr_decay_for_a_model_without_layer_groups_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.layer_lr_decay: Linear has no layer groups"):
        build_optimizer(nn.Linear(3, 2), TrainerConfig(layer_lr_decay=2.6))


def _stlr(step: int, total: int, cut_frac: float, ratio: float) -> float:
    """Howard & Ruder 2018, eq. 3, written out independently."""
    cut = math.floor(total * cut_frac)
    p = step / cut if step < cut else 1 - (step - cut) / (cut * (1 / cut_frac - 1))
    return (1 + p * (ratio - 1)) / ratio


def test_slanted_triangular_follows_the_ulmfit_formula_in_every_group() -> None:
    model = _classifier()
    config = TrainerConfig(lr=0.01, layer_lr_decay=2.0, schedule="slanted_triangular", stlr_cut_frac=0.1,
                           stlr_ratio=32)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, total_steps=200)
    base = [group["initial_lr"] for group in optimizer.param_groups]  # before the schedule scales them
    assert base == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.00125])
    seen = {}
    for step in range(201):
        seen[step] = [group["lr"] for group in optimizer.param_groups]
        optimizer.step()
        scheduler.step()
    # Start at lr / ratio, peak at lr at the cut (step 20), back to lr / ratio at the last step.
    assert seen[0][0] == pytest.approx(0.01 / 32)
    assert seen[20][0] == pytest.approx(0.01)
    assert seen[200][0] == pytest.approx(0.01 / 32)
    for step in (0, 7, 19, 20, 21, 110, 199, 200):
        for lr, start in zip(seen[step], base, strict=True):
            assert lr == pytest.approx(start * _stlr(step, 200, 0.1, 32)), step
    # Short rise, long fall: per step, up by (1 - 1/32) lr / 20, then down by (1 - 1/32) lr / 180.
    assert seen[1][0] - seen[0][0] == pytest.approx(0.01 * (1 - 1 / 32) / 20)
    assert seen[100][0] - seen[101][0] == pytest.approx(0.01 * (1 - 1 / 32) / 180)


def test_slanted_triangular_refuses_warmup_steps_when_the_recipe_loads() -> None:
    with pytest.raises(ConfigError, match=r"^trainer\.warmup_steps: the slanted_triangular schedule"):
        TrainerConfig(schedule="slanted_triangular", warmup_steps=10)
