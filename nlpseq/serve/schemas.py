"""Request and response bodies (pydantic): what ``/docs`` shows and what a request is checked against.

The options of a request stay a free mapping here: which options exist, their types and ranges are the
task's declarations (:mod:`nlpseq.tasks.options`), checked by the same function as on the command line,
so a bad one is a 422 naming the option as the task names it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Input = str | list[str]  # a raw text, or a list of words (pre-tokenised; tagging tags them as they are)


class PredictRequest(BaseModel):
    """``POST /v1/models/{name}/predict``."""

    model_config = ConfigDict(extra="forbid")
    inputs: list[Input] = Field(description="raw texts (or lists of words), each answered in order")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="the task's predict options (GET /v1/models lists them)")


class PredictResponse(BaseModel):
    model: str
    task: str
    outputs: list[dict[str, Any]] = Field(description="one result per input, as `nlpseq predict "
                                                      "--format jsonl` writes it (without `text`)")


class GenerateRequest(BaseModel):
    """``POST /v1/models/{name}/generate``: ``prompt`` or ``prompts`` (none: from scratch)."""

    model_config = ConfigDict(extra="forbid")
    prompt: str | None = Field(default=None, description="one text to continue")
    prompts: list[str] | None = Field(default=None, description="several texts to continue, batched")
    options: dict[str, Any] = Field(default_factory=dict, description="generation options: max_new_tokens, "
                                    "temperature, top_k, top_p, num_samples, seed, beam_size, condition")
    stream: bool = Field(default=False, description="answer as server-sent events: the tokens of each "
                         "continuation, then its record, then `done`")


class GenerateResponse(BaseModel):
    model: str
    task: str
    seed: int = Field(description="the sampling seed used (drawn when sampling and none was given)")
    outputs: list[dict[str, Any]] = Field(description="one record per (prompt, sample), as `nlpseq "
                                                      "generate --format jsonl` writes it")


class ModelInfo(BaseModel):
    name: str
    task: str
    classes: dict[str, list[str]] = Field(description="the run's class lists: labels, tags, conditions")
    takes_words: bool
    options: list[dict[str, Any]]
    generates: bool
    generation_options: list[dict[str, Any]] | None = None


class ModelList(BaseModel):
    models: list[ModelInfo]


class ErrorBody(BaseModel):
    error: str = Field(description="what went wrong, one line")
