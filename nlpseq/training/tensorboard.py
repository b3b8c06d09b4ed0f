"""``trainer.tensorboard``: the rows of ``metrics.jsonl`` as TensorBoard scalars in ``run_dir/tensorboard/``.

Written by rank 0 as each row is written (and flushed, so a live ``tensorboard --logdir runs`` sees
it), one scalar per number of the row, tagged ``split/key`` (``train/loss``, ``valid/accuracy``) at
the row's step. ``metrics.jsonl`` stays the record; this is a view of it. A run that turns the option
on when resuming first writes the rows it already has, so the curves start at step 1.

Needs the ``tensorboard`` package (``pip install "nlpseq[tensorboard]"``); torch ships the writer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from nlpseq.errors import ConfigError

FOLDER = "tensorboard"
# Row keys that place a row rather than measure anything.
_PLACING = ("split", "step")


def summary_writer_class() -> type:
    """``torch.utils.tensorboard.SummaryWriter``, or one ConfigError naming the option and the extra."""
    try:
        import tensorboard  # noqa: F401  (torch's writer needs it; import it first for a clear error)
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError('trainer.tensorboard: true needs the tensorboard package: pip install '
                          '"nlpseq[tensorboard]" (or set trainer.tensorboard=false)') from None
    return SummaryWriter


def check_available(enabled: bool) -> None:
    """Fail before any data is read when ``trainer.tensorboard`` is on but cannot be honoured."""
    if enabled:
        summary_writer_class()


def scalars(row: dict[str, Any]) -> dict[str, float]:
    """The TensorBoard scalars of one metrics row: ``split/key`` -> value, for every finite number."""
    split = row.get("split", "train")
    return {f"{split}/{key}": float(value) for key, value in row.items()
            if key not in _PLACING and isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value)}


class ScalarLog:
    """The open event file of a run (rank 0 only)."""

    def __init__(self, run_dir: Path, metrics_file: Path):
        folder = Path(run_dir) / FOLDER
        fresh = not any(folder.glob("events.out.tfevents.*"))
        self.writer = summary_writer_class()(log_dir=str(folder))
        if fresh and metrics_file.is_file():
            for line in metrics_file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self.write(json.loads(line), flush=False)
            self.writer.flush()

    def write(self, row: dict[str, Any], flush: bool = True) -> None:
        for tag, value in scalars(row).items():
            self.writer.add_scalar(tag, value, int(row["step"]))
        if flush:
            self.writer.flush()

    def close(self) -> None:
        self.writer.close()
