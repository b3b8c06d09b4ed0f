"""Tiny fixtures shared by the end-to-end tests (made on the fly, never real corpora)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

POSITIVE = ["good", "great", "fine", "lovely", "superb", "fun"]
NEGATIVE = ["bad", "awful", "dull", "boring", "poor", "weak"]
FILLER = ["the", "film", "movie", "was", "really", "plot", "a", "acting", "quite"]


def sentiment_rows(count: int, seed: int) -> list[dict[str, str]]:
    """Short texts whose label is set by one cue word among filler: learnable in seconds."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.sample(FILLER, rng.randint(2, 6))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label == "pos" else NEGATIVE))
        rows.append({"text": " ".join(words), "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def sentiment_files(folder: Path, train: int = 160, valid: int = 40, test: int = 40) -> list[str]:
    """Write train/valid/test JSONL and return the matching ``data.*=`` overrides."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "train": write_jsonl(folder / "train.jsonl", sentiment_rows(train, 1)),
        "valid": write_jsonl(folder / "valid.jsonl", sentiment_rows(valid, 2)),
        "test": write_jsonl(folder / "test.jsonl", sentiment_rows(test, 3)),
    }
    return [f"data.{split}={path}" for split, path in paths.items()]


@dataclass
class CliResult:
    """What a command-line run left: like ``subprocess.CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, stdin: str | None = None, cwd: Path | None = None) -> CliResult:
    """``nlpseq ARGS`` in this process (``cli.main``) with stdin, stdout and stderr captured.

    Most CLI tests use this: a subprocess pays seconds of imports per call. Each subcommand still has
    one real subprocess test (:func:`run_cli_subprocess`) for what only a process shows.
    """
    from nlpseq import cli

    out, err = io.StringIO(), io.StringIO()
    stdin_stream = io.TextIOWrapper(io.BytesIO((stdin or "").encode("utf-8")), encoding="utf-8")
    previous = Path.cwd()
    saved_stdin = sys.stdin
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin = stdin_stream
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exit_:  # argparse: --help, --version, usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        sys.stdin = saved_stdin
        os.chdir(previous)
        # cli.main logs to the stderr it saw; detach those handlers from the swapped-out stream.
        logging.getLogger().handlers.clear()
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli_subprocess(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> CliResult:
    """``python -m nlpseq ARGS`` in a fresh process (one thread, offline)."""
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "nlpseq", *args], input=stdin, capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=600)
    return CliResult(done.returncode, done.stdout, done.stderr)


class ListBatches:
    """The trainer's TrainingBatches over a fixed list of batches: the same ones every epoch."""

    def __init__(self, batches: list[dict[str, Any]]):
        self.all, self.skip = batches, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.skip = skip

    def __len__(self) -> int:
        return len(self.all) - self.skip

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.all[self.skip:])

    def statistics(self) -> dict[str, float]:
        return {}
