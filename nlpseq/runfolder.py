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
    """The raw config a run folder was trained with (None for a new folder).

    An empty or unreadable ``config.yaml`` is an error naming it, never "no config, so no changes":
    that would let any config train on over the run's checkpoints."""
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        return None
    if not path.is_file():
        raise RunError(f"{path}: not a file; this run folder's config is unreadable (train into another "
                       "run_dir=, or move the folder away)")
    try:
        values = read_yaml(path)
    except OSError as error:
        raise RunError(f"{path}: cannot read this run's config ({error.strerror or error})") from None
    if not values:
        raise RunError(f"{path}: empty, so this run's config is lost (a full disk or a kill while it was "
                       "written); restore it, or train into another run_dir=")
    return values


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
    try:
        with (run_dir / CHANGES_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
    except OSError as error:  # a full disk
        raise RunError(f"{run_dir / CHANGES_FILE}: cannot write ({error.strerror or error})") from None


class RunLock:
    """An exclusive lock on a run folder for the life of a training (``with RunLock(run_dir): ...``).

    The lock is ``flock`` on the run folder itself (an open descriptor of the directory), so it dies
    with its process and no deleted or replaced file can defeat it (a ``.lock`` file would: delete it
    and the next process locks a new one). ``.lock.owner`` says who holds it; an owner recorded on
    this host whose process is still alive is never taken over, even where the flock is free (a
    filesystem without flock on folders, where a ``.lock`` file kept open is used instead). A second
    process stops at once with the holder's PID and host; an owner file of a dead process is taken
    over, with a log line.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.owner_file = self.run_dir / ".lock.owner"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._fd = _flock(self.run_dir)
        except BlockingIOError:
            raise RunError(f"{self.run_dir} is in use by {self._describe_owner()}; wait for it to finish, "
                           "or train into another run_dir=") from None
        except OSError as error:
            raise RunError(f"{self.run_dir}: cannot use this run folder ({error.strerror or error})"
                           ) from None
        owner = self._owner()
        if owner is not None:
            if _alive_here(owner):
                self._release()
                raise RunError(f"{self.run_dir} is in use by {self._describe_owner()}, which is still "
                               f"running; wait for it to finish, or train into another run_dir= (if that "
                               f"process is no training of this folder, delete {self.owner_file})")
            log.warning("%s: taking over the lock of %s, which is no longer running", self.run_dir,
                        self._describe_owner())
        try:
            write_json(self.owner_file, {"pid": os.getpid(), "host": socket.gethostname(),
                                         "since": time.strftime("%Y-%m-%dT%H:%M:%S")})
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        owner = self._owner()
        if owner is not None and owner.get("pid") == os.getpid():  # never another process's record
            self.owner_file.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def _owner(self) -> dict[str, Any] | None:
        try:
            owner = json.loads(self.owner_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return owner if isinstance(owner, dict) else None

    def _describe_owner(self) -> str:
        owner = self._owner() or {}
        if not all(key in owner for key in ("pid", "host", "since")):
            return "another process"
        return f"process {owner['pid']} on {owner['host']} (since {owner['since']})"


def _flock(run_dir: Path) -> int:
    """An open descriptor holding an exclusive ``flock`` on ``run_dir`` (BlockingIOError: held).
    Where folders cannot be flocked (some network filesystems), a ``.lock`` file kept open is."""
    import fcntl  # POSIX only; nlpseq trains on Linux and macOS

    fd = os.open(run_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        os.close(fd)
        raise
    except OSError:
        os.close(fd)
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _alive_here(owner: dict[str, Any]) -> bool:
    """Whether ``owner`` (a ``.lock.owner`` record) names a live process on this host other than us."""
    pid = owner.get("pid")
    if owner.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return False
    return True
