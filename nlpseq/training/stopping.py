"""Stopping a training on SIGTERM or Ctrl-C without ever breaking a step, a write or an evaluation.

A handler that raises lands wherever the code is: inside ``optimizer.step`` (some parameters stepped,
the step counter not moved), inside the ``best.pt`` write (the state already says "best at step N"),
in the middle of an evaluation. So the handlers here only note the signal; the training loop asks
:meth:`StopRequest.check` at its step boundaries, after the step's bookkeeping and after an
evaluate + save group, saves ``last.pt`` there and stops with the matching exception. A second Ctrl-C
while the first waits for its boundary stops at once (a person who insists), without a save: the
folder keeps the ``last.pt`` of the last group.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import torch

from nlpseq import distributed
from nlpseq.errors import Terminated

# The signals a training stops on, and the exception each stops it with (the CLI exits 130 / 143).
_SIGNALS = {signal.SIGINT: KeyboardInterrupt, signal.SIGTERM: Terminated}


class StopRequest:
    """Notes SIGINT/SIGTERM for the life of a ``with`` block (main thread only: elsewhere Python
    cannot set handlers, and signals reach the main thread anyway)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        if self.signum is None:
            self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def agreed(self, world: int, device: torch.device) -> bool:
        """Whether to stop here, the same answer on every rank: a signal seen by one rank stops all
        at the same boundary (one rank stopping alone would leave the others waiting in a collective).
        One small all-reduce per step, with several ranks only."""
        if world == 1:
            return self.requested
        flag = torch.tensor([1.0 if self.requested else 0.0], device=device)
        if bool(distributed.all_reduce_sum(flag) > 0) and self.signum is None:
            self.signum = signal.SIGTERM  # another rank's signal: stop like it
        return self.requested

    def check(self) -> None:
        """At a boundary: raise the requested stop (the caller has saved ``last.pt``)."""
        if self.signum is not None:
            raise _SIGNALS[signal.Signals(self.signum)]()
