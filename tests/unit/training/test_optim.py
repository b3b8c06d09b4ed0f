"""Learning-rate schedules: the factor each step gets, exactly."""

from __future__ import annotations

import pytest
import torch

from nlpseq.config import TrainerConfig
from nlpseq.training.optim import build_scheduler


def _lrs(schedule: str, warmup_steps: int, total_steps: int) -> list[float]:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = build_scheduler(optimizer, TrainerConfig(schedule=schedule, warmup_steps=warmup_steps),
                                total_steps)
    lrs = []
    for _ in range(total_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_linear_without_warmup_decays_from_the_full_rate_to_zero() -> None:
    # What `warmup_linear` with no warmup_steps did: recipes renamed to `linear` train the same.
    assert _lrs("linear", 0, 4) == pytest.approx([1.0, 0.75, 0.5, 0.25])


def test_linear_warms_up_then_decays_to_zero_at_the_end() -> None:
    assert _lrs("linear", 2, 6) == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25])


def test_constant_warms_up_then_holds() -> None:
    assert _lrs("constant", 2, 4) == pytest.approx([0.5, 1.0, 1.0, 1.0])
    assert _lrs("constant", 0, 3) == pytest.approx([1.0, 1.0, 1.0])
