"""Where a corpus fetch works before its corpus is in place, and how it cleans up after itself.

A fetch of ``root/NAME`` writes into ``root/.NAME.tmp-PID-XXXXXXXX`` (renamed into place when every
file exists) and keeps its temporary files in ``root/.NAME.scratch-PID-XXXXXXXX``; a replaced corpus
waits in ``.NAME.old-PID-XXXXXXXX`` for two renames. SIGTERM unwinds a fetch so that it removes them;
what a ``kill -9`` left, the next fetch removes (the PID says whose a folder is).

Standard library and ``nlpseq.errors`` only, like the package above it.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nlpseq.errors import Terminated

logger = logging.getLogger("nlpseq.data")


def move_into_place(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``, replacing an older (or incomplete) ``final``.

    ``os.replace`` cannot replace a non-empty folder, so the old one is first renamed aside;
    the window in which ``final`` is missing is two renames long, never a partial copy.
    """
    old = None
    if final.exists():
        old = sibling(final, "old")
        os.replace(final, old / final.name)
    try:
        os.replace(staging, final)
    except OSError:
        if old is not None:  # put the previous corpus back rather than lose it
            os.replace(old / final.name, final)
            old.rmdir()
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def sibling(final: Path, kind: str) -> Path:
    """Create and return an empty hidden folder ``.NAME.KIND-PID-XXXXXXXX`` next to ``final``.

    Not ``tempfile.mkdtemp``: its folders are private (0700), and this one becomes the corpus. The
    PID says whose it is: :func:`remove_leftovers` removes only those of processes no longer alive.
    """
    while True:
        folder = final.parent / f".{final.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?:tmp|old|scratch)-(?:(?P<pid>\d+)-)?[0-9a-f]{8}")


def remove_leftovers(final: Path) -> list[Path]:
    """Remove the staging, scratch and set-aside folders of corpus folder ``final`` that a killed fetch
    left (their process is gone; a folder of an earlier version, without a PID, counts as left).
    Folders of a fetch still running (this process or another) are kept. Returns what was removed."""
    removed = []
    parent = final.parent
    for folder in sorted(parent.glob(f".{glob.escape(final.name)}.*-*")) if parent.is_dir() else []:
        match = _LEFTOVER.fullmatch(folder.name)
        if match is None or match["name"] != final.name or not folder.is_dir():
            continue
        if match["pid"] is not None and _alive(int(match["pid"])):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        logger.info("removed %s, left by an interrupted fetch", folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextlib.contextmanager
def temporary_folder(folder: Path) -> Iterator[None]:
    """Point ``tempfile`` (and the pip/npm it starts, through TMPDIR) at ``folder`` for the block."""
    saved, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    folder = Path(folder).resolve()  # absolute: pip and npm run in other working folders
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env


@contextlib.contextmanager
def terminate_unwinds() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`~nlpseq.errors.Terminated` (a KeyboardInterrupt), so
    cleanups run, where the default action would end the process on the spot. Only in the main thread
    and only over the default handler: a caller's own handler (the trainer's) is left as it is."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
