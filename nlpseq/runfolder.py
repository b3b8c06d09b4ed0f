"""Run-folder integrity: one training process per folder, and no silent change of a run's config.

A run folder belongs to the config it was started with. Training again in it resumes, so the new config
must be the same; :func:`config_changes` lists what differs and :func:`check_resume` refuses a changed
run before anything is written, unless every change is one that is safe on resume (how long to train,
how often to evaluate and log) and the caller opted in. :class:`RunLock` keeps a second process out of
a folder in use.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from nlpseq.config_files import read_yaml
from nlpseq.errors import RunError
from nlpseq.fileio import write_json

log = logging.getLogger("nlpseq.run")

# Keys that change how long and how visibly a run trains, never what it learns from step to step.
SAFE_ON_RESUME = (
    "trainer.max_epochs", "trainer.max_steps", "trainer.max_minutes", "trainer.patience",
    "trainer.eval_every", "trainer.log_every", "trainer.progress", "trainer.tensorboard",
    "trainer.num_workers", "trainer.device", "trainer.max_bad_steps",
)
CHANGES_FILE = "resume_changes.jsonl"


def _flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(values, dict):
        return {prefix: values}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Dotted key -> (old, new) for every value that differs (``run_dir`` aside).

    Only keys both configs have are compared: a key the saved config lacks is a setting nlpseq gained
    since the run started (the run behaved as its default), one the new config lacks was removed."""
    before, after = _flatten(old), _flatten(new)
    keys = (set(before) & set(after)) - {"run_dir"}
    return {key: (before.get(key), after.get(key)) for key in sorted(keys)
            if before.get(key) != after.get(key)}


def saved_config(run_dir: Path) -> dict[str, Any] | None:
    """The raw config a run folder was trained with (None for a new folder)."""
    path = Path(run_dir) / "config.yaml"
    return read_yaml(path) if path.is_file() else None


def check_resume(run_dir: Path, old: dict[str, Any] | None, new: dict[str, Any],
                 allow_changes: bool = False) -> dict[str, tuple[Any, Any]]:
    """Refuse to resume ``run_dir`` (whose saved config is ``old``) with a different config ``new``.

    Returns the changes that are allowed (safe keys, with ``allow_changes``); raises RunError naming
    every changed key (old -> new) and the two ways on otherwise.
    """
    if old is None:
        return {}
    changes = config_changes(old, new)
    if not changes:
        return {}
    unsafe = [key for key in changes if key not in SAFE_ON_RESUME]
    if allow_changes and not unsafe:
        return changes
    listed = "; ".join(f"{key}: {a!r} -> {b!r}" for key, (a, b) in changes.items())
    if allow_changes:
        way = (f"these cannot change on resume: {', '.join(unsafe)}; start a new run with another "
               "run_dir=")
    else:
        way = ("start a new run with another run_dir=, or, to change only keys that are safe on resume "
               f"({', '.join(k.removeprefix('trainer.') for k in SAFE_ON_RESUME)}), pass --allow-changes")
    raise RunError(f"{run_dir} was trained with another config ({listed}): {way}")


def record_changes(run_dir: Path, changes: dict[str, tuple[Any, Any]]) -> None:
    """Log allowed changes and append them to ``resume_changes.jsonl`` in the run folder."""
    if not changes:
        return
    for key, (old, new) in changes.items():
        log.warning("resuming %s with %s changed: %r -> %r", run_dir, key, old, new)
    row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "changes": {k: list(v) for k, v in changes.items()}}
    with (run_dir / CHANGES_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


class RunLock:
    """An exclusive lock on a run folder for the life of a training (``with RunLock(run_dir): ...``).

    The lock is an OS file lock (``filelock``), so it dies with its process; ``.lock.owner`` says who
    holds it. A second process stops at once with the holder's PID and host. An owner file left by a
    process that died is taken over, with a log line.
    """

    def __init__(self, run_dir: Path):
        from filelock import FileLock  # installed with datasets

        self.run_dir = Path(run_dir)
        self.owner_file = self.run_dir / ".lock.owner"
        self._lock = FileLock(str(self.run_dir / ".lock"), timeout=0)

    def __enter__(self) -> RunLock:
        from filelock import Timeout

        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:  # before OSError: filelock's Timeout is one
            raise RunError(f"{self.run_dir} is in use by {self._describe_owner()}; wait for it to finish, "
                           "or train into another run_dir=") from None
        except OSError as error:
            raise RunError(f"{self.run_dir}: cannot use this run folder ({error.strerror or error})"
                           ) from None
        if self.owner_file.is_file():
            log.warning("%s: taking over the lock of %s, which is no longer running", self.run_dir,
                        self._describe_owner())
        write_json(self.owner_file, {"pid": os.getpid(), "host": socket.gethostname(),
                                     "since": time.strftime("%Y-%m-%dT%H:%M:%S")})
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.owner_file.unlink(missing_ok=True)
        self._lock.release()

    def _describe_owner(self) -> str:
        try:
            owner = json.loads(self.owner_file.read_text(encoding="utf-8"))
            return f"process {owner['pid']} on {owner['host']} (since {owner['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"
