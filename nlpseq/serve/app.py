"""The FastAPI app over a dict of served name -> Predictor: the endpoints, their errors and the page.

Endpoints, the same for every task (what differs comes from the task contract, see
:mod:`nlpseq.serve.models`)::

    GET  /                              the page (static files in page/, no build step, no CDN)
    GET  /health                        {"status": "ok", "models": [...], "waiting": {...}}
    GET  /v1/models                     each model: name, task, classes, options with types and ranges
    POST /v1/models/{name}/predict      {"inputs": [...], "options": {...}} -> {"outputs": [...]}
    POST /v1/models/{name}/generate     {"prompt(s)": ..., "options": {...}, "stream": false}
    GET  /docs, /openapi.json           the OpenAPI schema

Every error is ``{"error": "one line"}`` with its status: 400 malformed JSON, 404 unknown model, 413 a
cap passed (body, inputs, input length, tokens), 422 a bad field or option (naming it), 503 queue
full (with Retry-After), 500 a model failure (the traceback goes to the server log only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from nlpseq import __version__
from nlpseq.errors import NlpseqError
from nlpseq.serve.batching import Batcher, QueueFull
from nlpseq.serve.config import ServeConfig
from nlpseq.serve.limits import AccessLog, BodyLimit
from nlpseq.serve.models import ServedModel, options_key
from nlpseq.serve.schemas import (
    ErrorBody,
    GenerateRequest,
    GenerateResponse,
    ModelList,
    PredictRequest,
    PredictResponse,
)
from nlpseq.tasks.options import GenerationOptions, OptionError

log = logging.getLogger("nlpseq.serve")

ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody}
                                           for code in (400, 404, 413, 422, 500, 503)}


class HTTPFailure(Exception):
    """An answer other than 200: ``status`` and a one-line ``message`` (and headers)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})


def create_app(predictors: Mapping[str, Any], config: ServeConfig | None = None) -> FastAPI:
    """The app serving each Predictor under its name (``{"mr": nlpseq.load("runs/mr_bigru")}``)."""
    config = config or ServeConfig()
    models = {name: ServedModel(name, predictor) for name, predictor in predictors.items()}
    batchers = {name: Batcher(name, _runner(model), config.max_batch, config.max_wait_ms / 1000,
                              config.max_queue) for name, model in models.items()}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for batcher in batchers.values():
            batcher.start()
        yield
        # uvicorn has stopped accepting and waited for in-flight requests; the queues are empty.
        await asyncio.gather(*(batcher.stop() for batcher in batchers.values()))

    app = FastAPI(title="nlpseq", version=__version__, lifespan=lifespan,
                  description="Trained nlpseq run folders: predict and generate, dynamically batched.")
    app.state.models, app.state.batchers, app.state.config = models, batchers, config
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    if config.access_log:
        app.add_middleware(AccessLog)
    _add_error_handlers(app)

    page = resources.files("nlpseq.serve") / "page"
    app.mount("/page", StaticFiles(directory=str(page)), name="page")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(page / "index.html"))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": sorted(models),
                "waiting": {name: batcher.waiting for name, batcher in batchers.items()}}

    @app.get("/v1/models", response_model=ModelList)
    async def list_models() -> dict[str, Any]:
        return {"models": [model.info() for model in models.values()]}

    @app.post("/v1/models/{name}/predict", response_model=PredictResponse, responses=ERRORS)
    async def predict(name: str, body: PredictRequest) -> dict[str, Any]:
        model = _model(models, name)
        _check_inputs(body.inputs, config)
        options = _checked(lambda: model.check_options(body.options))
        outputs = await _submit(batchers[name], ("predict", options_key(options)), body.inputs, config)
        return {"model": name, "task": model.task.name, "outputs": outputs}

    @app.post("/v1/models/{name}/generate", response_model=GenerateResponse, responses=ERRORS)
    async def generate(name: str, body: GenerateRequest) -> Any:
        model = _model(models, name)
        if not model.generates:
            raise HTTPFailure(422, f"model {name}: a {model.task.name} run does not generate text")
        if body.prompt is not None and body.prompts is not None:
            raise HTTPFailure(422, "give prompt or prompts, not both")
        prompts = body.prompts if body.prompts is not None else [body.prompt or ""]
        options = _checked(lambda: model.check_generation(body.options))
        _check_inputs(prompts, config, rows=len(prompts) * options.num_samples)
        if options.max_new_tokens > config.max_new_tokens:
            raise HTTPFailure(413, f"max_new_tokens {options.max_new_tokens} is over this server's cap "
                                   f"({config.max_new_tokens})")
        if options.sampling and "seed" not in body.options:
            options = replace(options, seed=secrets.randbelow(2**31))  # said in the response
        # One request is one item: generate requests never share a call, so a seed gives the text
        # `nlpseq generate` gives (a shared batch would draw other requests' samples from its stream).
        key = ("generate", secrets.token_hex(8))
        records = (await _submit(batchers[name], key, [(prompts, options)], config))[0]
        if body.stream:
            return StreamingResponse(_events(records, options), media_type="text/event-stream")
        return {"model": name, "task": model.task.name, "seed": options.seed, "outputs": records}

    return app


def _runner(model: ServedModel):
    """The batcher's call for ``model``: a predict batch, or one generate request."""
    def run(key: tuple, inputs: list[Any]) -> list[Any]:
        if key[0] == "generate":
            prompts, options = inputs[0]
            return [model.generate(prompts, options)]
        return model.predict(dict(key[1]), inputs)

    return run


def _model(models: Mapping[str, ServedModel], name: str) -> ServedModel:
    if name not in models:
        raise HTTPFailure(404, f"no model {name!r} (served: {', '.join(sorted(models))})")
    return models[name]


def _check_inputs(inputs: list[Any], config: ServeConfig, rows: int | None = None) -> None:
    """The caps on a request's inputs: how many, and how long each."""
    count = len(inputs) if rows is None else rows
    if count > config.max_inputs:
        what = "inputs" if rows is None else "continuations (prompts x num_samples)"
        raise HTTPFailure(413, f"{count} {what} in one request; this server takes at most "
                               f"{config.max_inputs}")
    for position, item in enumerate(inputs, 1):
        size = len(item) if isinstance(item, str) else sum(len(word) + 1 for word in item)
        if size > config.max_input_chars:
            raise HTTPFailure(413, f"input {position}: {size} characters; this server takes at most "
                                   f"{config.max_input_chars} per input")


def _checked(check: Any) -> Any:
    """``check()``, a bad option being a 422 that names it (as Python callers spell it)."""
    try:
        return check()
    except OptionError as error:
        raise HTTPFailure(422, f"options.{error}") from None
    except NlpseqError as error:
        raise HTTPFailure(422, str(error)) from None


async def _submit(batcher: Batcher, key: Any, inputs: list[Any], config: ServeConfig) -> list[Any]:
    try:
        return await batcher.submit(key, inputs)
    except QueueFull as error:
        raise HTTPFailure(503, f"busy: {error}; retry later",
                          {"Retry-After": str(config.retry_after_s)}) from None
    except NlpseqError as error:  # the input, not the server (a task's own check, e.g. a condition)
        raise HTTPFailure(422, str(error).splitlines()[0]) from None
    except Exception as error:
        log.exception("model %s failed", batcher.name)
        raise HTTPFailure(500, f"model {batcher.name} failed ({type(error).__name__}); see the server "
                               "log") from None


async def _events(records: list[dict[str, Any]], options: GenerationOptions) -> AsyncIterator[str]:
    """Server-sent events of finished continuations: the generator writes a whole batch before it
    returns, so each record's tokens are sent one event at a time after it is done (not as decoded)."""
    for index, record in enumerate(records):
        for position, piece in enumerate(record.get("token_strings", [])):
            data = {"output": index, "position": position, "token": piece}
            yield f"event: token\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            await asyncio.sleep(0)
        yield f"event: output\ndata: {json.dumps({'output': index, **record}, ensure_ascii=False)}\n\n"
    yield f"event: done\ndata: {json.dumps({'seed': options.seed, 'outputs': len(records)})}\n\n"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPFailure)
    async def failure(_: Request, error: HTTPFailure) -> JSONResponse:
        return JSONResponse({"error": error.message}, error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        if any(problem.get("type") == "json_invalid" for problem in problems):
            first = next(p for p in problems if p.get("type") == "json_invalid")
            reason = (first.get("ctx") or {}).get("error", "not valid JSON")
            return JSONResponse({"error": f"malformed JSON body: {reason}"}, 400)
        first = problems[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(Exception)
    async def crashed(_: Request, error: Exception) -> JSONResponse:
        log.error("request failed", exc_info=error)
        return JSONResponse({"error": f"internal error ({type(error).__name__}); see the server log"}, 500)
