"""`nlpseq serve` as a real process on a loopback port: the command line, SIGTERM under load, a client
that leaves mid-request, the access log."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.serve.process import Server, request


def test_serve_without_the_extra_names_it(monkeypatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("fastapi", "uvicorn") else real(name, *a))
    result = run_cli("serve", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and 'pip install "nlpseq[serve]"' in result.stderr


def test_serve_refuses_a_folder_that_is_no_run_and_a_repeated_name(tmp_path: Path, runs) -> None:
    result = run_cli("serve", str(tmp_path))
    assert result.returncode == 2 and "config.yaml is missing" in result.stderr
    result = run_cli("serve", f"a={runs['classification']}", f"a={runs['tagging']}")
    assert result.returncode == 2 and "NAME=RUN_DIR" in result.stderr


@pytest.fixture(scope="module")
def server(runs, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with Server([f"sentiment={runs['classification']}", "--max-wait-ms", "600", "--max-batch", "64"],
                log) as server:
        yield server


@pytest.mark.slow  # a server process (pyproject's marker: several processes)
def test_a_client_that_leaves_mid_request_costs_the_server_nothing(server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        body = b'{"inputs": ["a good film"]}'
        raw.sendall(b"POST /v1/models/sentiment/predict HTTP/1.1\r\nhost: x\r\ncontent-type: "
                    b"application/json\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.1)  # queued, waiting for its batch; then the client goes
    status, answer = request(server.port, "POST", "/v1/models/sentiment/predict", {"inputs": ["dull film"]})
    assert status == 200 and answer["outputs"][0]["label"] in ("pos", "neg")


@pytest.mark.slow  # a server process (pyproject's marker: several processes)
def test_access_log_lines_carry_the_latency(server) -> None:
    request(server.port, "GET", "/health")
    time.sleep(0.2)
    lines = [line for line in server.output().splitlines() if '"GET /health"' in line]
    assert lines and lines[-1].rstrip().endswith("ms") and " 200 " in lines[-1]


@pytest.mark.slow  # a server process (pyproject's marker: several processes)
def test_sigterm_under_load_loses_no_accepted_request(runs, tmp_path: Path) -> None:
    """Requests queued for a batch when SIGTERM comes are all answered; later connections are refused,
    never half-answered; the process exits 0."""
    with Server([f"sentiment={runs['classification']}", "--max-wait-ms", "1500", "--max-batch", "64"],
                tmp_path / "server.log") as server:
        port, outcomes, lock = server.port, [], threading.Lock()
        texts = [f"the film was {word}" for word in ("good", "bad", "fun", "dull", "fine", "poor")]

        def client(text: str, loop: bool) -> None:
            while True:
                try:
                    status, body = request(port, "POST", "/v1/models/sentiment/predict", {"inputs": [text]})
                    outcome = (status, body["outputs"][0]["label"] if status == 200 else body)
                except ConnectionRefusedError:
                    outcome = ("refused", None)
                except OSError as error:
                    outcome = ("broken", repr(error))
                with lock:
                    outcomes.append((text, loop, outcome))
                if not loop or outcome[0] != 200:
                    return

        queued = [threading.Thread(target=client, args=(text, False)) for text in texts]
        for thread in queued:
            thread.start()
        deadline = time.monotonic() + 20
        while request(port, "GET", "/health")[1]["waiting"]["sentiment"] < len(texts):
            assert time.monotonic() < deadline, "the requests never reached the queue"
            time.sleep(0.02)
        looping = [threading.Thread(target=client, args=(text, True)) for text in texts[:3]]
        for thread in looping:
            thread.start()
        server.terminate()
        for thread in queued + looping:
            thread.join(60)
        # uvicorn re-raises SIGTERM once it has shut down cleanly: the exit of a terminated process.
        assert server.process.wait(60) in (0, -15), server.output()
        assert "Application shutdown complete" in server.output()
    answered = [outcome for text, loop, outcome in outcomes if not loop]
    assert len(answered) == len(texts) and all(status == 200 for status, _ in answered), answered
    # Load that raced the shutdown: answered, or its connection refused; never an error status.
    assert all(outcome[0] in (200, "refused") for _, _, outcome in outcomes), outcomes


@pytest.mark.slow  # a server process (pyproject's marker: several processes)
def test_workers_run_processes_behind_one_port(runs, tmp_path: Path) -> None:
    with Server([f"s={runs['classification']}", "--workers", "2"], tmp_path / "server.log") as server:
        deadline = time.monotonic() + 120  # /health answers once the first worker is up
        while server.output().count("serving s (classification)") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        body = {"inputs": ["good"]}
        answers = [request(server.port, "POST", "/v1/models/s/predict", body) for _ in range(4)]
        output = server.output()
    assert [status for status, _ in answers] == [200] * 4
    assert "Started parent process" in output and output.count("serving s (classification)") == 2
