"""Dynamic batching: concurrent requests gathered into one model call, each answered with its own
results in order, equal to the Predictor's; a client that leaves costs the others nothing."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from nlpseq.serve.app import create_app
from nlpseq.serve.batching import Batcher
from nlpseq.serve.config import ServeConfig


class Counting:
    """A Predictor that records the size of every predict call."""

    def __init__(self, predictor):
        self.task, self.inner, self.calls = predictor.task, predictor, []
        self.lock = threading.Lock()

    def predict(self, inputs):
        with self.lock:
            self.calls.append(len(inputs))
        return self.inner.predict(inputs)


def same(got, expected) -> bool:
    """Equal, floats to 1e-5 relative: a batch of other inputs changes a probability's last float32 bits
    (as `nlpseq predict --batch-lines` does), never a label, a tag or a word."""
    if isinstance(expected, float):
        return isinstance(got, float) and abs(got - expected) <= 1e-5 * max(1.0, abs(expected))
    if isinstance(expected, dict):
        return isinstance(got, dict) and got.keys() == expected.keys() and all(
            same(got[k], expected[k]) for k in expected)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(map(same, got, expected))
    return got == expected


REQUESTS = [[f"the {word} film was good", f"a {word} plot"] for word in
            ("dull", "fun", "great", "awful", "fine", "poor", "superb", "weak")]


def post_all(client, name: str, requests: list[list[str]]) -> list:
    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(lambda inputs: client.post(f"/v1/models/{name}/predict",
                                                        json={"inputs": inputs}), requests))


@pytest.mark.parametrize("name", ["sentiment", "ner"])
def test_concurrent_requests_share_one_model_call_and_get_their_own_results(predictors, name: str) -> None:
    counting = Counting(predictors[name])
    config = ServeConfig(max_batch=64, max_wait_ms=500)
    with TestClient(create_app({"s": counting}, config)) as client:
        answers = post_all(client, "s", REQUESTS)
    assert [a.status_code for a in answers] == [200] * len(REQUESTS)
    assert sum(counting.calls) == 2 * len(REQUESTS)
    assert len(counting.calls) < len(REQUESTS) / 2, counting.calls  # gathered, not one call each
    for inputs, answer in zip(REQUESTS, answers, strict=True):
        alone = json.loads(json.dumps(predictors[name].predict(inputs)))
        assert same(answer.json()["outputs"], alone), (answer.json()["outputs"], alone)


def test_max_batch_1_runs_each_input_alone(predictors) -> None:
    counting = Counting(predictors["ner"])
    with TestClient(create_app({"n": counting}, ServeConfig(max_batch=1, max_wait_ms=50))) as client:
        answers = post_all(client, "n", [[text] for text, _ in REQUESTS])
    assert all(a.status_code == 200 for a in answers)
    assert counting.calls == [1] * len(REQUESTS)


def test_requests_with_different_options_never_share_a_batch(predictors) -> None:
    counting = Counting(predictors["translate"])
    with TestClient(create_app({"t": counting}, ServeConfig(max_batch=64, max_wait_ms=300))) as client:
        with ThreadPoolExecutor(4) as pool:
            bodies = [{"inputs": ["the cat"], "options": {"beam_size": beam}} for beam in (1, 2, 1, 2)]
            answers = list(pool.map(lambda body: client.post("/v1/models/t/predict", json=body), bodies))
    assert all(a.status_code == 200 for a in answers)
    assert sorted(counting.calls) == [2, 2]  # one call per option set


# ------------------------------------------------------------------------------------------ the batcher
def run_batcher(coroutine_factory, **settings):
    async def main():
        calls: list[list] = []
        release = asyncio.Event()

        def run(key, inputs):
            calls.append(list(inputs))
            if any(item == "boom" for item in inputs):
                raise ValueError("bad input")
            return [f"{key}:{item}" for item in inputs]

        batcher = Batcher("m", run, **{"max_batch": 8, "max_wait_s": 0.05, "max_queue": 64, **settings})
        batcher.start()
        try:
            return await coroutine_factory(batcher, calls, release)
        finally:
            await batcher.stop()

    return asyncio.run(main())


def test_results_return_to_each_caller_in_order() -> None:
    async def scenario(batcher, calls, _):
        results = await asyncio.gather(*(batcher.submit("k", [f"{i}a", f"{i}b"]) for i in range(3)))
        return results, calls

    results, calls = run_batcher(scenario)
    assert results == [[f"k:{i}a", f"k:{i}b"] for i in range(3)]
    assert calls == [["0a", "0b", "1a", "1b", "2a", "2b"]]


def test_a_failing_batch_fails_only_the_request_that_broke_it() -> None:
    async def scenario(batcher, calls, _):
        return await asyncio.gather(batcher.submit("k", ["x"]), batcher.submit("k", ["boom"]),
                                    batcher.submit("k", ["y"]), return_exceptions=True)

    good, bad, other = run_batcher(scenario)
    assert good == ["k:x"] and other == ["k:y"] and isinstance(bad, ValueError)


def test_a_caller_that_leaves_is_dropped_and_the_rest_are_answered() -> None:
    async def scenario(batcher, calls, _):
        leaving = asyncio.ensure_future(batcher.submit("k", ["gone"]))
        staying = asyncio.ensure_future(batcher.submit("k", ["kept"]))
        await asyncio.sleep(0)
        leaving.cancel()
        result = await staying
        return result, calls, batcher.waiting

    result, calls, waiting = run_batcher(scenario)
    assert result == ["k:kept"] and calls == [["kept"]] and waiting == 0


def test_a_request_larger_than_max_batch_runs_whole_and_alone() -> None:
    async def scenario(batcher, calls, _):
        big = [str(i) for i in range(5)]
        return await asyncio.gather(batcher.submit("k", big), batcher.submit("k", ["z"])), calls

    (big, small), calls = run_batcher(scenario, max_batch=3)
    assert len(big) == 5 and small == ["k:z"] and calls == [[str(i) for i in range(5)], ["z"]]
