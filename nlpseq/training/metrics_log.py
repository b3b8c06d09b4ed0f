"""``metrics.jsonl``: one JSON row per logged training window and per evaluation, written by rank 0;
with ``trainer.tensorboard`` the same rows also go to TensorBoard (:mod:`nlpseq.training.tensorboard`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlpseq.fileio import json_line
from nlpseq.training.tensorboard import ScalarLog


class MetricsLog:
    """The rows of one run folder. ``tensorboard``: open the event file in :meth:`open` (fit's start,
    after a resume) and write every row to it too; ``enabled`` False (ranks other than 0) writes nothing."""

    def __init__(self, path: Path, tensorboard: bool = False, enabled: bool = True):
        self.path, self.tensorboard, self.enabled = Path(path), tensorboard, enabled
        self.scalars: ScalarLog | None = None

    def open(self) -> None:
        if self.enabled and self.tensorboard and self.scalars is None:
            self.scalars = ScalarLog(self.path.parent, self.path)

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        row = plain(row)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json_line(row) + "\n")
        if self.scalars is not None:
            self.scalars.write(row)

    def close(self) -> None:
        if self.scalars is not None:
            self.scalars.close()
            self.scalars = None


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """Keep JSON-friendly scalars only (per-class tables go to results.json, not the curve log)."""
    return {k: v for k, v in row.items() if isinstance(v, int | float | str) or v is None}
