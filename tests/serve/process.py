"""A real ``nlpseq serve`` process on a free loopback port, for the tests and bench/serve.py."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port: int, method: str, path: str, body: Any = None, timeout: float = 60) -> tuple[int, Any]:
    """One request on a new connection: (status, JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, path, payload, {"content-type": "application/json", "connection": "close"})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        connection.close()


class Server:
    """``python -m nlpseq serve ARGS --port P`` until :meth:`stop`; its stderr collected in a file."""

    def __init__(self, args: list[str], log: Path, startup_s: float = 120):
        self.port = free_port()
        self.log = log
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self._log_file = log.open("w", encoding="utf-8")
        self.process = subprocess.Popen([sys.executable, "-m", "nlpseq", "serve", *args, "--port",
                                         str(self.port)], stdout=self._log_file, stderr=subprocess.STDOUT,
                                        env=env, cwd=ROOT)
        deadline = time.monotonic() + startup_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nlpseq serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                if request(self.port, "GET", "/health", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nlpseq serve did not answer within {startup_s} s:\n{self.output()}")
            time.sleep(0.2)

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()
