"""``metrics.jsonl``: one JSON row per logged training window and per evaluation, written by rank 0;
with ``trainer.tensorboard`` the same rows also go to TensorBoard (:mod:`nlpseq.training.tensorboard`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from nlpseq.errors import NlpseqError
from nlpseq.fileio import json_line, write_text
from nlpseq.training.tensorboard import ScalarLog

log = logging.getLogger("nlpseq.train")


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
        try:  # an append, not an atomic rewrite: a torn last line is skipped by read_rows
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json_line(row) + "\n")
        except OSError as error:  # a full disk
            raise NlpseqError(f"{self.path}: cannot write ({error.strerror or error})") from None
        if self.scalars is not None:
            self.scalars.write(row)

    def drop_after(self, step: int) -> None:
        """Keep the rows up to ``step`` (the checkpoint a run resumes from; 0 for a fresh start): the
        rows a killed run logged after it are logged again by the resumed run. Unparsable lines (a
        torn last line) go too, counted in the log line. Rewritten atomically, only when it changes."""
        if not self.enabled or not self.path.is_file():
            return
        rows, bad = read_rows(self.path)
        kept = [row for row in rows if isinstance(row.get("step"), int) and row["step"] <= step]
        if len(kept) == len(rows) and not bad:
            return
        log.warning("%s: dropped %d rows logged after step %d and %d unparsable lines", self.path,
                    len(rows) - len(kept), step, bad)
        write_text(self.path, "".join(json_line(row) + "\n" for row in kept))

    def close(self) -> None:
        if self.scalars is not None:
            self.scalars.close()
            self.scalars = None


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """Keep JSON-friendly scalars only (per-class tables go to results.json, not the curve log)."""
    return {k: v for k, v in row.items() if isinstance(v, int | float | str) or v is None}


def read_rows(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The rows of a metrics file and how many lines were not a JSON object (skipped)."""
    rows, bad = [], 0
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        elif line.strip():
            bad += 1
    return rows, bad
