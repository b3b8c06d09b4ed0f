"""The endpoints on every task, through FastAPI's TestClient (no port): the same answers as the Python
API, options checked as the command line checks them."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from nlpseq.serve.app import create_app
from nlpseq.serve.config import ServeConfig

TEXTS = ["the cat sat on a mat", "a big red dog ran", "", "small cat"]


@pytest.fixture(scope="module")
def client(predictors):
    with TestClient(create_app(predictors, ServeConfig(max_wait_ms=1))) as client:
        yield client


def test_health_lists_the_models(client) -> None:
    answer = client.get("/health")
    assert answer.status_code == 200
    assert answer.json()["models"] == sorted(["sentiment", "ner", "translate", "lm"])


def test_models_describe_task_classes_and_options_from_the_contract(client, predictors) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert {name: m["task"] for name, m in models.items()} == {
        name: p.task.name for name, p in predictors.items()}
    assert models["sentiment"]["classes"]["labels"] == predictors["sentiment"].task.labels
    assert models["ner"]["classes"]["tags"] == predictors["ner"].task.tags
    beam = next(o for o in models["translate"]["options"] if o["name"] == "beam_size")
    assert beam["type"] == "int" and beam["range"] == {"ge": 1}
    # Options that name files or folders are never offered to a request.
    assert "plot_attention" not in [o["name"] for o in models["translate"]["options"]]
    assert "ensemble" not in [o["name"] for o in models["sentiment"]["options"]]
    assert models["lm"]["generates"] and not models["sentiment"]["generates"]
    assert any(o["name"] == "top_p" for o in models["lm"]["generation_options"])


@pytest.mark.parametrize("name", ["sentiment", "ner", "translate", "lm"])
def test_predict_equals_the_predictor(client, predictors, name: str) -> None:
    answer = client.post(f"/v1/models/{name}/predict", json={"inputs": TEXTS})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["task"] == predictors[name].task.name
    # Through JSON, as `nlpseq predict --format jsonl` writes it.
    expected = json.loads(json.dumps(predictors[name].predict(TEXTS)))
    assert body["outputs"] == expected


def test_tagging_gives_spans_with_character_offsets(client) -> None:
    text = "the cat sat on a mat"
    output = client.post("/v1/models/ner/predict", json={"inputs": [text]}).json()["outputs"][0]
    assert output["words"] == text.split()
    assert output["entities"], "the tiny tagger should find the animal"
    for entity in output.get("entities", []):
        assert text[entity["start"]:entity["end"]] == entity["text"]


def test_tagging_takes_lists_of_words(client, predictors) -> None:
    words = ["the", "dog", "ran"]
    output = client.post("/v1/models/ner/predict", json={"inputs": [words]}).json()["outputs"][0]
    assert output == json.loads(json.dumps(predictors["ner"].predict([words])[0]))


def test_translation_options_give_n_best_and_attention(client, predictors) -> None:
    options = {"beam_size": 3, "n_best": 2, "length_penalty": 0.6, "attention": True}
    answer = client.post("/v1/models/translate/predict", json={"inputs": ["the cat sat"], "options": options})
    assert answer.status_code == 200, answer.text
    output = answer.json()["outputs"][0]
    assert len(output["n_best"]) == 2
    assert len(output["attention"]) == len(output["target_pieces"])
    # The request's options stay with it: the loaded Predictor still decodes as the run says.
    plain = client.post("/v1/models/translate/predict", json={"inputs": ["the cat sat"]}).json()["outputs"][0]
    assert "n_best" not in plain and "attention" not in plain
    assert plain == json.loads(json.dumps(predictors["translate"].predict(["the cat sat"])[0]))


@pytest.mark.parametrize(("options", "named"), [
    ({"beam_size": 0}, "beam_size"), ({"beam_size": "wide"}, "beam_size"), ({"n_best": 9}, "n_best"),
    ({"colour": "red"}, "colour"), ({"plot_attention": "/tmp/x"}, "plot_attention")])
def test_a_bad_option_is_a_422_naming_it(client, options: dict, named: str) -> None:
    answer = client.post("/v1/models/translate/predict", json={"inputs": ["a cat"], "options": options})
    assert answer.status_code == 422
    message = answer.json()["error"]
    assert named in message and "\n" not in message, message


def test_generate_is_reproducible_with_a_seed_and_equals_the_predictor(client, predictors) -> None:
    from nlpseq.tasks.options import GenerationOptions

    request = {"prompts": ["the cat", ""], "options": {"temperature": 0.9, "top_k": 5, "top_p": 0.9,
                                                       "num_samples": 2, "seed": 7, "max_new_tokens": 6}}
    first = client.post("/v1/models/lm/generate", json=request)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["seed"] == 7 and len(body["outputs"]) == 4
    assert client.post("/v1/models/lm/generate", json=request).json()["outputs"] == body["outputs"]
    expected = predictors["lm"].generate(["the cat", ""], GenerationOptions.of(**request["options"]))
    assert body["outputs"] == json.loads(json.dumps(expected))


def test_generate_draws_and_returns_a_seed_when_sampling_without_one(client) -> None:
    body = client.post("/v1/models/lm/generate",
                       json={"prompt": "a", "options": {"temperature": 1.0, "max_new_tokens": 3}}).json()
    assert isinstance(body["seed"], int)


def test_generate_streams_tokens_as_server_sent_events(client) -> None:
    request = {"prompt": "the", "options": {"max_new_tokens": 5}, "stream": True}
    with client.stream("POST", "/v1/models/lm/generate", json=request) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        text = "".join(answer.iter_text())
    events = [block.split("\n") for block in text.strip().split("\n\n")]
    kinds = [lines[0].removeprefix("event: ") for lines in events]
    assert kinds[-1] == "done" and kinds.count("output") == 1
    output = json.loads(events[kinds.index("output")][1].removeprefix("data: "))
    tokens = [json.loads(lines[1].removeprefix("data: "))["token"] for lines in events
              if lines[0] == "event: token"]
    assert tokens == output["token_strings"]


def test_generate_on_a_task_that_does_not_write_text_is_a_422(client) -> None:
    answer = client.post("/v1/models/sentiment/generate", json={"prompt": "a"})
    assert answer.status_code == 422 and "does not generate" in answer.json()["error"]


def test_a_bad_generation_option_is_a_422_naming_it(client) -> None:
    answer = client.post("/v1/models/lm/generate", json={"prompt": "a", "options": {"top_p": 2}})
    assert answer.status_code == 422 and "top_p" in answer.json()["error"]


def test_generate_caps_the_tokens_and_rows_a_request_asks_for(client) -> None:
    body = {"prompt": "a", "options": {"max_new_tokens": 100_000}}
    answer = client.post("/v1/models/lm/generate", json=body)
    assert answer.status_code == 413 and "max_new_tokens" in answer.json()["error"]
    body = {"prompts": ["a"] * 100, "options": {"num_samples": 5}}
    answer = client.post("/v1/models/lm/generate", json=body)
    assert answer.status_code == 413 and "500 continuations" in answer.json()["error"]


def test_openapi_schema_lists_the_endpoints(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/v1/models", "/v1/models/{name}/predict", "/v1/models/{name}/generate"} <= set(paths)
    assert client.get("/docs").status_code == 200


def test_the_page_is_served_whole_from_the_package_with_no_cdn(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("/page/app.js", "/page/style.css"):
        assert asset in page.text
        served = client.get(asset)
        assert served.status_code == 200
        assert "http://" not in served.text and "https://" not in served.text  # nothing fetched elsewhere
    assert "http://" not in page.text and "https://" not in page.text
