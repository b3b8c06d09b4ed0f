"""Data preparation as the corpus grows, and process start to the first training step.

Data: the recipe's training file(s) written 1x, 4x and 16x into a temporary folder (a parallel corpus's
two sides alike, a CoNLL file with a blank line between copies), and ``task.prepare()`` run on each in
a fresh subprocess (:mod:`bench.harness.prepare_child`) with an empty run folder and an empty
``data.cache_dir``: every size is a cold preparation and its peak memory is its own. The validation and
test files stay the corpus's own. A replicated corpus holds no new word types, but its counts grow, so
a ``min_freq`` vocabulary may keep a few more words at 4x than at 1x.

Startup: ``python -m nlpseq train RECIPE trainer.max_steps=1`` in a fresh subprocess (its own run
folder and cache folder, so it prepares its data cold), timed from the spawn to the first step's log
line on stderr; the process is then stopped (SIGTERM: it saves and exits), since what follows the first
step (evaluation) is not startup.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness.report import scaling_summary
from nlpseq.config import Config
from nlpseq.data.parallel import parallel_paths
from nlpseq.data.sources import resolve_corpus

ROOT = Path(__file__).resolve().parents[2]
# The trainer's step line: "step 1/N epoch ...".
FIRST_STEP = re.compile(r"\bstep 1/\d+\b")


def training_files(config: Config) -> tuple[Path, ...]:
    """The file(s) holding the training split (a parallel corpus: both sides)."""
    data = resolve_corpus(config.data)
    if data.train is None:
        raise ValueError("data.train: the recipe has no local training file to replicate (a hub dataset?)")
    if data.format == "parallel":
        return parallel_paths(data.train, data.source_lang, data.target_lang)  # type: ignore[attr-defined]
    return (Path(data.train),)


def replicate(path: Path, factor: int, out: Path, blank_line: bool) -> Path:
    """``path``'s text ``factor`` times into ``out`` (same name), each copy ending in a newline, and in
    a blank line when ``blank_line`` (CoNLL: a sentence must not run into the next copy's first)."""
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    if blank_line and not text.endswith("\n\n"):
        text += "\n"
    target = out / path.name
    with open(target, "w", encoding="utf-8") as handle:
        for _ in range(factor):
            handle.write(text)
    return target


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def _env(threads: int) -> dict[str, str]:
    # The child's threads as the harness's; the repository root first on the path, for `bench`.
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def measure_data(recipe: str, config: Config, factors: tuple[int, ...], threads: int,
                 timeout: float = 600) -> dict[str, Any]:
    """Preparation seconds and peak memory at each factor, and :func:`scaling_summary` over them."""
    files = training_files(config)
    data = resolve_corpus(config.data)
    fixed = [f"data.{split}={Path(getattr(data, split)).resolve()}"
             for split in ("valid", "test") if getattr(data, split) is not None]
    points = []
    for factor in factors:
        with tempfile.TemporaryDirectory(prefix="nlpseq-bench-data-") as scratch:
            folder = Path(scratch)
            copies = [replicate(path, factor, folder, blank_line=data.format == "conll") for path in files]
            overrides = [f"data.train={copies[0]}", *fixed, f"run_dir={folder / 'run'}",
                         f"data.cache_dir={folder / 'cache'}"]
            done = subprocess.run([sys.executable, "-m", "bench.harness.prepare_child",
                                   "--threads", str(threads), recipe, *overrides],
                                  cwd=ROOT, env=_env(threads), capture_output=True, text=True,
                                  timeout=timeout)
            if done.returncode != 0:
                raise RuntimeError(f"prepare at {factor}x failed: {done.stderr.strip().splitlines()[-1:]}")
            point = json.loads(done.stdout.strip().splitlines()[-1])
            points.append({"factor": factor, **point})
    return {"train_lines": count_lines(files[0]), "files": [str(path) for path in files],
            "points": points, **scaling_summary(points)}


def measure_startup(recipe: str, threads: int, device: str, timeout: float = 300,
                    extra: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Seconds from spawning ``nlpseq train`` to its first step's log line (see the module docstring);
    ``extra``: more ``key=value`` overrides (a recipe's data files)."""
    with tempfile.TemporaryDirectory(prefix="nlpseq-bench-start-") as scratch:
        command = [sys.executable, "-m", "nlpseq", "train", recipe, *extra,
                   f"run_dir={Path(scratch) / 'run'}", f"data.cache_dir={Path(scratch) / 'cache'}",
                   "trainer.max_steps=1",
                   "trainer.progress=false", f"trainer.device={device}"]
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=_env(threads), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        seen: float | None = None
        tail: list[str] = []
        try:
            assert process.stderr is not None
            for line in process.stderr:
                tail = [*tail[-4:], line.rstrip()]
                if FIRST_STEP.search(line):
                    seen = time.perf_counter() - start
                    break
                if time.perf_counter() - start > timeout:
                    break
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if seen is None:
            raise RuntimeError(f"no first step line from {' '.join(command[1:4])}: {' | '.join(tail)}")
    return {"seconds_to_first_step": round(seen, 2), "command": " ".join(["python", *command[1:]]),
            "cache": "cold (empty data.cache_dir)"}
