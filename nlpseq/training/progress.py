"""Where a training stands while it runs: the live bar and the elapsed time and ETA of the step lines.

The bar is ``tqdm.auto``'s: a text bar on a terminal, a widget in a Jupyter notebook (whose stderr is
no terminal, so it is asked for by name). Elsewhere (a log file, CI) there is no bar and the step lines
every ``trainer.log_every`` steps say the same. With a bar, log lines are written above it through
``tqdm.write`` (``logging_redirect_tqdm``) instead of landing on it, and the step lines still reach
``train.log`` and the console.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (tqdm.autonotebook's own test)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def wants_bar(enabled: bool) -> bool:
    """A live bar when ``enabled`` (``trainer.progress``, rank 0, not silenced) and someone watches:
    stderr is a terminal, or a notebook shows the widget."""
    return enabled and (sys.stderr.isatty() or in_notebook())


def _on_console(handler: logging.Handler) -> bool:
    """What logging_redirect_tqdm moves above the bar: a stream handler on stdout or stderr."""
    return isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.stderr)


def clock(seconds: float) -> str:
    """``H:MM:SS`` (hours unbounded)."""
    whole = max(0, round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class Progress:
    """The bar and the clock of one ``Trainer.fit`` call. While it is open (until :meth:`close`), log
    lines to the console are written above the bar.

    Args:
        total: the run's optimizer steps (``max_steps``, or steps per epoch x ``max_epochs``).
        done: steps already done (a resumed run starts there).
        show_bar: draw the live bar (see :func:`wants_bar`).
    """

    def __init__(self, total: int, done: int, show_bar: bool):
        self.total, self.first = total, done
        self.started = time.perf_counter()
        self.bar = tqdm(total=total, initial=done, disable=not show_bar, dynamic_ncols=True, desc="train")
        # Only loggers that write to the console: logging_redirect_tqdm gives every logger it is handed
        # a console handler, which would print each line a second time from a logger that had none.
        loggers = [logger for logger in (logging.getLogger(), logging.getLogger("nlpseq"))
                   if any(_on_console(handler) for handler in logger.handlers)]
        self._redirect = (logging_redirect_tqdm(loggers=loggers, tqdm_class=tqdm) if show_bar and loggers
                          else contextlib.nullcontext())
        self._redirect.__enter__()

    def close(self) -> None:
        self.bar.close()
        self._redirect.__exit__(None, None, None)

    def advance(self) -> None:
        self.bar.update(1)

    def show(self, loss: float, tokens_per_s: float) -> None:
        self.bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tokens_per_s:.0f}")

    def eta(self, step: int, seconds_left: float | None = None) -> float | None:
        """Seconds until ``total`` at this call's pace so far (evaluations included, as they recur),
        at most ``seconds_left`` (what ``trainer.max_minutes`` leaves); None before the first step."""
        done = step - self.first
        if done <= 0:
            return None
        left = (time.perf_counter() - self.started) / done * max(self.total - step, 0)
        return left if seconds_left is None else min(left, max(seconds_left, 0.0))

    def times(self, step: int, elapsed: float, seconds_left: float | None = None) -> str:
        """``elapsed H:MM:SS eta H:MM:SS`` for a step line (``elapsed``: the run's wall time so far)."""
        eta = self.eta(step, seconds_left)
        return f"elapsed {clock(elapsed)} eta {'?' if eta is None else clock(eta)}"
