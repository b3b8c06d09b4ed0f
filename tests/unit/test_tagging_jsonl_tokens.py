"""Issue 22 item 10: tagging JSONL keeps its reader's checks: ``null``, ``5`` or ``["x", "y"]`` tokens
and empty tokens are errors naming the line, never the words ``None``, ``5``, ``['x', 'y']``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlpseq.data.tagged_readers import check_tagged_lists, read_tagged_jsonl
from nlpseq.errors import DataError
from nlpseq.tasks import load_config
from nlpseq.tasks.tagging import TaggingTask
from tests.helpers import ROOT

BAD = [
    (["Alice", None], "field 'tokens' must be a list of strings: item 2 is null"),
    ([5, "left"], "field 'tokens' must be a list of strings: item 1 is int"),
    ([["x", "y"], "left"], "field 'tokens' must be a list of strings: item 1 is list"),
    (["Alice", ""], "empty token at position 2 (stray separator?)"),
    (["Alice", "  "], "empty token at position 2 (stray separator?)"),
]


@pytest.mark.parametrize(("tokens", "problem"), BAD, ids=["null", "number", "list", "empty", "blank"])
def test_the_reader_refuses_tokens_that_are_not_words(tmp_path: Path, tokens: list, problem: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"tokens": ["Bob"], "tags": ["B-PER"]}) + "\n"
                    + json.dumps({"tokens": tokens, "tags": ["B-PER", "O"]}) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        list(read_tagged_jsonl(path))
    assert str(raised.value) == f"{path}:2: {problem}"


def test_good_lists_pass() -> None:
    check_tagged_lists(["Alice", "left"], ["B-PER", "O"], ("tokens", "tags"), "f.jsonl", 1)
    with pytest.raises(DataError, match=r"^f\.jsonl:1: field 'tags' must be a list of strings, got str$"):
        check_tagged_lists(["Alice"], "B-PER", ("tokens", "tags"), "f.jsonl", 1)


@pytest.mark.parametrize(("tokens", "problem"), BAD, ids=["null", "number", "list", "empty", "blank"])
def test_the_tagging_task_reading_jsonl_refuses_them_too(tmp_path: Path, tokens: list, problem: str) -> None:
    # The task reads JSONL records itself (its fields are configurable) and normalises each one: the
    # same checks must hold there, not str() of whatever the JSON held.
    config = load_config(ROOT / "recipes" / "tagging" / "tiny.yaml", [f"run_dir={tmp_path / 'run'}"])
    task = TaggingTask(config, tmp_path / "run")
    with pytest.raises(DataError) as raised:
        task._normalize({"tokens": tokens, "tags": ["B-PER", "O"], "line": 7}, "train.jsonl")
    assert str(raised.value) == f"train.jsonl:7: {problem}"
