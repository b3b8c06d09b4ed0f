"""Faults, each answered with its status and a one-line message, the server still serving afterwards."""

from __future__ import annotations

import logging
import threading

import pytest
from fastapi.testclient import TestClient

from nlpseq.serve.app import create_app
from nlpseq.serve.config import ServeConfig


class Broken:
    """A Predictor whose predict fails (as a bug in a task would), with the real task's contract."""

    def __init__(self, predictor):
        self.task = predictor.task

    def predict(self, inputs):
        raise RuntimeError("index out of range in /secret/run/folder")


class Gated:
    """A Predictor whose predict waits for ``gate`` (to fill the queue behind a running batch)."""

    def __init__(self, predictor):
        self.task, self.inner = predictor.task, predictor
        self.gate, self.entered = threading.Event(), threading.Event()

    def predict(self, inputs):
        self.entered.set()
        self.gate.wait(30)
        return self.inner.predict(inputs)


@pytest.fixture(scope="module")
def client(predictors):
    models = {"sentiment": predictors["sentiment"], "broken": Broken(predictors["sentiment"])}
    with TestClient(create_app(models, ServeConfig(max_wait_ms=1)), raise_server_exceptions=False) as client:
        yield client


def still_serving(client) -> None:
    answer = client.post("/v1/models/sentiment/predict", json={"inputs": ["a good film"]})
    assert answer.status_code == 200 and answer.json()["outputs"][0]["label"] is not None


def one_line(answer) -> str:
    message = answer.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message, message
    return message


def test_malformed_json_is_a_400(client) -> None:
    answer = client.post("/v1/models/sentiment/predict", content=b'{"inputs": ["a", ',
                         headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert "malformed JSON" in one_line(answer)
    still_serving(client)


def test_a_body_of_the_wrong_shape_is_a_422_naming_the_field(client) -> None:
    answer = client.post("/v1/models/sentiment/predict", json={"inputs": "not a list"})
    assert answer.status_code == 422 and "inputs" in one_line(answer)
    answer = client.post("/v1/models/sentiment/predict", json={"inputs": ["a"], "run_dir": "/etc"})
    assert answer.status_code == 422 and "run_dir" in one_line(answer)
    still_serving(client)


def test_an_unknown_model_is_a_404(client) -> None:
    answer = client.post("/v1/models/nope/predict", json={"inputs": ["a"]})
    assert answer.status_code == 404
    assert "nope" in one_line(answer) and "sentiment" in one_line(answer)
    still_serving(client)


def test_an_unknown_option_is_a_422_naming_it(client) -> None:
    answer = client.post("/v1/models/sentiment/predict", json={"inputs": ["a"], "options": {"beam_size": 2}})
    assert answer.status_code == 422 and "beam_size" in one_line(answer)
    still_serving(client)


def test_a_one_megabyte_input_is_refused_by_the_body_cap(client) -> None:
    answer = client.post("/v1/models/sentiment/predict", json={"inputs": ["a" * 1_000_000]})
    assert answer.status_code == 413 and "at most" in one_line(answer)
    still_serving(client)


def test_ten_thousand_inputs_in_one_request_are_refused(client) -> None:
    answer = client.post("/v1/models/sentiment/predict", json={"inputs": ["a"] * 10_000})
    assert answer.status_code == 413 and "10000 inputs" in one_line(answer)
    still_serving(client)


def test_an_input_past_the_length_cap_is_refused(predictors) -> None:
    with TestClient(create_app({"s": predictors["sentiment"]}, ServeConfig(max_input_chars=50))) as client:
        answer = client.post("/v1/models/s/predict", json={"inputs": ["ok", "b" * 51]})
        assert answer.status_code == 413 and "input 2" in one_line(answer)


def test_a_model_failure_is_a_500_with_the_traceback_in_the_log_only(client, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="nlpseq.serve"):
        answer = client.post("/v1/models/broken/predict", json={"inputs": ["a"]})
    assert answer.status_code == 500
    message = one_line(answer)
    assert "RuntimeError" in message and "/secret" not in message
    assert any("/secret/run/folder" in (r.exc_text or "") for r in caplog.records)
    still_serving(client)


def test_a_full_queue_is_a_503_with_retry_after(predictors) -> None:
    gated = Gated(predictors["sentiment"])
    config = ServeConfig(max_batch=2, max_queue=2, max_wait_ms=0, retry_after_s=3)
    with TestClient(create_app({"s": gated}, config)) as client:
        answers: list = []

        def post() -> None:
            answers.append(client.post("/v1/models/s/predict", json={"inputs": ["a", "b"]}))

        running = threading.Thread(target=post)
        running.start()
        assert gated.entered.wait(10)  # the first batch runs, holding the model
        waiting = threading.Thread(target=post)
        waiting.start()
        for _ in range(200):  # the second request fills the queue (2 inputs)
            if client.get("/health").json()["waiting"]["s"] == 2:
                break
            threading.Event().wait(0.01)
        refused = client.post("/v1/models/s/predict", json={"inputs": ["c"]})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "3"
        assert "busy" in one_line(refused)
        gated.gate.set()
        running.join(10)
        waiting.join(10)
        assert [a.status_code for a in answers] == [200, 200]
        assert client.post("/v1/models/s/predict", json={"inputs": ["c"]}).status_code == 200
