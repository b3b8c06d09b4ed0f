"""The run-folder lock cannot be bypassed by deleting a file (issue 22, item 5)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlpseq.errors import RunError
from nlpseq.fileio import write_json
from nlpseq.runfolder import RunLock
from tests.helpers import ROOT


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    """A second process holding the lock of ``tmp_path/run`` until the test ends."""
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom nlpseq.runfolder import RunLock\n"
         f"with RunLock({str(run)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout.readline().strip() == "held"
        yield run, process
    finally:
        process.kill()
        process.wait()


def test_deleting_every_lock_file_does_not_let_a_second_process_in(holder) -> None:
    run, _ = holder
    for name in (".lock", ".lock.owner"):
        (run / name).unlink(missing_ok=True)
    with pytest.raises(RunError) as error, RunLock(run):
        pass
    assert str(error.value).startswith(f"{run} is in use by ")
    assert not (run / ".lock.owner").exists()  # the refused process wrote nothing


def test_an_owner_alive_on_this_host_is_never_taken_over(tmp_path: Path) -> None:
    """Even where the flock is free (an older nlpseq, a filesystem without flock), a recorded owner
    that is alive on this host keeps the folder."""
    run = tmp_path / "run"
    run.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_json(run / ".lock.owner", {"pid": sleeper.pid, "host": socket.gethostname(),
                                         "since": "2026-01-01T00:00:00"})
        with pytest.raises(RunError) as error, RunLock(run):
            pass
        assert f"in use by process {sleeper.pid} on {socket.gethostname()}" in str(error.value)
        assert "still running" in str(error.value)
        assert json.loads((run / ".lock.owner").read_text())["pid"] == sleeper.pid  # left as it was
    finally:
        sleeper.kill()
        sleeper.wait()
    with RunLock(run):  # now dead: taken over
        assert json.loads((run / ".lock.owner").read_text())["pid"] == os.getpid()


def test_the_lock_is_released_on_exit_and_can_be_taken_again(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with RunLock(run):
        with pytest.raises(RunError):  # a second holder in the same process is refused too
            with RunLock(run):
                pass
    with RunLock(run):
        pass
    assert not (run / ".lock.owner").exists()
