"""Optimizers and learning-rate schedules named in :class:`~nlpseq.config.TrainerConfig`."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from nlpseq.config import TrainerConfig


def build_optimizer(model: nn.Module, config: TrainerConfig) -> torch.optim.Optimizer:
    # Biases, norms and embeddings' padding rows gain nothing from weight decay.
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or name.endswith(".bias") else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    # sgd and asgd: the averaging half of ASGD lives in the trainer (training/averaging.py).
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainerConfig, total_steps: int
) -> LRScheduler | ReduceLROnPlateau:
    """``constant`` or ``linear`` (down to 0 at ``total_steps``), each after ``warmup_steps`` of linear
    warmup (0: none), or ``plateau`` (multiply by ``plateau_factor`` after ``plateau_patience``
    evaluations without improvement of ``metric``; no warmup)."""
    warmup = max(0, config.warmup_steps)
    if config.schedule == "plateau":
        return ReduceLROnPlateau(optimizer, mode=config.metric_mode, factor=config.plateau_factor,
                                 patience=config.plateau_patience)
    if config.schedule == "linear":
        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (total_steps - step) / max(1, total_steps - warmup))
    else:
        def factor(step: int) -> float:
            return min(1.0, (step + 1) / warmup) if warmup else 1.0
    return LambdaLR(optimizer, factor)
