"""Signals only set a flag; the loop stops at a boundary (issue 22, item 1)."""

from __future__ import annotations

import signal

import pytest
import torch

from nlpseq.errors import Terminated
from nlpseq.training.stopping import StopRequest


@pytest.mark.parametrize(("signum", "stops_with"), [(signal.SIGTERM, Terminated),
                                                     (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_is_noted_not_raised_and_raised_at_the_check(signum: int, stops_with: type) -> None:
    with StopRequest() as stop:
        signal.raise_signal(signum)  # a raising handler would raise right here
        reached = True
        assert stop.requested and reached
        with pytest.raises(stops_with):
            stop.check()


def test_no_signal_means_the_check_passes_and_handlers_are_put_back() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with StopRequest() as stop:
        stop.check()
        assert not stop.requested
        assert signal.getsignal(signal.SIGTERM) != before[0]
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_second_ctrl_c_stops_at_once() -> None:
    with StopRequest() as stop:
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        assert stop.signum == signal.SIGINT


def test_sigterm_then_ctrl_c_still_waits_for_the_boundary() -> None:
    with StopRequest() as stop:
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(Terminated):  # the first request decides how the run stops
            stop.check()


def test_a_signal_on_another_rank_stops_this_one_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from nlpseq.training import stopping

    monkeypatch.setattr(stopping.distributed, "all_reduce_sum", lambda flag: flag + 1)  # the other rank's 1
    with StopRequest() as stop:
        assert stop.agreed(2, torch.device("cpu"))
        with pytest.raises(Terminated):
            stop.check()
    with StopRequest() as stop:
        assert not stop.agreed(1, torch.device("cpu"))  # one process: no collective, no signal
