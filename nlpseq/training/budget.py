"""``trainer.max_minutes``: a wall-clock budget for training, summed over resumes."""

from __future__ import annotations

import logging
import time

import torch

from nlpseq import distributed

log = logging.getLogger("nlpseq.train")


def now() -> float:
    """The clock the budget reads (a function of its own, so tests can drive it)."""
    return time.monotonic()


class TimeBudget:
    """Seconds spent since training first began (evaluations included), and whether ``max_minutes``
    of them are gone.

    Args:
        spent: seconds spent before this process (the checkpoint's ``wall_seconds``).
        max_minutes: the budget; None never runs out.
        device: where a flag tensor goes for the all-reduce under torchrun.
    """

    def __init__(self, spent: float, max_minutes: float | None, device: torch.device):
        self.started, self.before = now(), spent
        self.max_minutes, self.device = max_minutes, device
        self._logged = False

    def spent(self) -> float:
        return self.before + now() - self.started

    def over(self, world: int) -> bool:
        """Whether the budget is gone. Every rank reads its own clock, so under torchrun the ranks
        agree (any rank out of time stops all): ranks that stopped at different steps would wait for
        each other's all-reduce forever."""
        if self.max_minutes is None:
            return False
        over = self.spent() >= 60 * self.max_minutes
        if world > 1:
            over = bool(distributed.all_reduce_sum(torch.tensor(float(over), device=self.device)) > 0)
        if over and not self._logged:
            self._logged = True
            log.info("trainer.max_minutes=%g reached: training stops", self.max_minutes)
        return over
