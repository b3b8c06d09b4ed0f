"""Optimizers and learning-rate schedules named in :class:`~nlpseq.config.TrainerConfig`."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from nlpseq.config import TrainerConfig
from nlpseq.errors import ConfigError


def layer_groups(model: nn.Module, key: str) -> list[list[nn.Parameter]]:
    """``model.layer_groups()`` (bottom to top), or a ConfigError naming ``key`` for a model without
    layer groups (only the classifier has them so far)."""
    method = getattr(model, "layer_groups", None)
    if method is None:
        raise ConfigError(f"{key}: {type(model).__name__} has no layer groups (layer_groups()); "
                          "only a classification model has them, so far")
    groups = method()
    grouped = [id(param) for group in groups for param in group]
    if sorted(grouped) != sorted(id(param) for param in model.parameters()):
        raise ValueError(f"{type(model).__name__}.layer_groups() must hold every parameter exactly once")
    return groups


def build_optimizer(model: nn.Module, config: TrainerConfig) -> torch.optim.Optimizer:
    """AdamW or SGD over the trainable parameters. With ``layer_lr_decay`` > 1 (discriminative
    learning rates, ULMFiT): the model's layer groups, group k from the top at ``lr / decay**k``; the
    optimizer's groups run top first, so ``param_groups[0]`` carries the base rate the log shows."""
    names = {id(param): name for name, param in model.named_parameters()}
    if config.layer_lr_decay > 1:
        layers = layer_groups(model, "trainer.layer_lr_decay")
        ranked = [(config.lr / config.layer_lr_decay**k, group) for k, group in enumerate(reversed(layers))]
    else:
        ranked = [(config.lr, list(model.parameters()))]
    groups: list[dict[str, Any]] = []
    for lr, params in ranked:
        # Biases, norms and embeddings' padding rows gain nothing from weight decay.
        decay, no_decay = [], []
        for param in params:
            if not param.requires_grad:
                continue
            (no_decay if param.ndim < 2 or names[id(param)].endswith(".bias") else decay).append(param)
        groups += [{"params": decay, "weight_decay": config.weight_decay, "lr": lr},
                   {"params": no_decay, "weight_decay": 0.0, "lr": lr}]
    if len(ranked) > 1:  # an empty group would only clutter the checkpoint
        groups = [group for group in groups if group["params"]]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    # sgd and asgd: the averaging half of ASGD lives in the trainer (training/averaging.py).
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


def slanted_triangular(step: int, total_steps: int, cut_frac: float, ratio: float) -> float:
    """ULMFiT's slanted triangular factor (Howard & Ruder 2018, eq. 3) at 0-based optimizer step
    ``step`` of ``total_steps``: from ``1 / ratio`` up to 1 over the first ``cut = floor(T * cut_frac)``
    steps, then linearly back down to ``1 / ratio`` at T (held there past T)."""
    cut = max(1, math.floor(total_steps * cut_frac))
    if step < cut:
        p = step / cut
    else:
        p = max(0.0, 1 - (step - cut) / (cut * (1 / cut_frac - 1)))
    return (1 + p * (ratio - 1)) / ratio


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainerConfig, total_steps: int
) -> LRScheduler | ReduceLROnPlateau:
    """``constant`` or ``linear`` (down to 0 at ``total_steps``), each after ``warmup_steps`` of linear
    warmup (0: none), ``plateau`` (multiply by ``plateau_factor`` after ``plateau_patience``
    evaluations without improvement of ``metric``; no warmup), or ``slanted_triangular`` (ULMFiT, see
    :func:`slanted_triangular`; its rise is the warmup). Every optimizer group is scaled alike, so
    discriminative rates keep their ratios."""
    warmup = max(0, config.warmup_steps)
    if config.schedule == "plateau":
        return ReduceLROnPlateau(optimizer, mode=config.metric_mode, factor=config.plateau_factor,
                                 patience=config.plateau_patience)
    if config.schedule == "slanted_triangular":  # no warmup_steps: TrainerConfig refuses them
        def factor(step: int) -> float:
            return slanted_triangular(step, total_steps, config.stlr_cut_frac, config.stlr_ratio)
    elif config.schedule == "linear":
        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total_steps - step) / max(1, total_steps - warmup))
    else:
        def factor(step: int) -> float:
            return min(1.0, (step + 1) / warmup) if warmup else 1.0
    return LambdaLR(optimizer, factor)
