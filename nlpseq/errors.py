"""Errors that reach the user as one clear line instead of a traceback.

The CLI catches :class:`NlpseqError` and prints ``str(error)``; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from pathlib import Path


class NlpseqError(Exception):
    """Base class for every error caused by user input (config, data, run folders)."""


class ConfigError(NlpseqError):
    """A config file or override is wrong: unknown key, wrong type, bad value."""


class DataError(NlpseqError):
    """A data file is wrong. Carries the file and 1-based line so the message can name them.

    ``str(error)`` reads ``path:line: message`` (or ``path: message`` when no line applies).
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return f"{where}{self.message}"


class RunError(NlpseqError):
    """A run folder cannot be used as asked: changed config, held by another process, damaged files."""


class TrainingDiverged(NlpseqError):
    """The loss or the gradients stayed non-finite (NaN or infinity): training stopped, nothing saved."""

    @classmethod
    def bad_steps(cls, step: int, count: int) -> TrainingDiverged:
        return cls(f"training stopped at step {step}: {count} optimizer steps in a row had a non-finite "
                   "loss or gradient (NaN or infinity); checkpoints keep the last finite weights. Lower "
                   "trainer.lr, set trainer.grad_clip, or check the data (trainer.max_bad_steps sets the "
                   "limit)")

    @classmethod
    def weights(cls, step: int, name: str) -> TrainingDiverged:
        return cls(f"training stopped at step {step}: the weights are no longer finite (NaN or "
                   f"infinity), so {name} was not written; lower trainer.lr")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler stopping the job) arrived: handled like Ctrl-C, so ``last.pt`` is saved and
    the same command resumes. The CLI exits with 143 (128 + SIGTERM), as a terminated process does."""
