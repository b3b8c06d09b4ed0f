"""Issue 22 item 9: recipe and data bombs are one line naming the file and line, never a hang, a
traceback or a megabyte of message; a key given twice in a recipe is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlpseq.config_files import load_yaml
from nlpseq.data.records import read_jsonl
from nlpseq.errors import ConfigError, DataError
from nlpseq.tasks import load_config

# 9 levels of 9 aliases: 9**9 (387 million) values once expanded, from ~400 bytes.
BOMB = "[" + ", ".join(
    [f"&l0 [{', '.join(['1'] * 9)}]"]
    + [f"&l{level} [{', '.join([f'*l{level - 1}'] * 9)}]" for level in range(1, 9)]) + "]"


def _one_line(error: pytest.ExceptionInfo, limit: int = 400) -> str:
    message = str(error.value)
    assert "\n" not in message and len(message) < limit, message[:500]
    return message


def _recipe(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text("task: classification\n" + body, encoding="utf-8")
    return path


def test_an_alias_bomb_in_a_recipe_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_recipe(tmp_path, f"trainer:\n  lr: {BOMB}\n"))
    expected = f"{tmp_path / 'recipe.yaml'}:1: invalid YAML: more than 100,000 values"
    assert _one_line(raised).startswith(expected)


def test_an_alias_bomb_in_an_override_is_refused_and_not_printed(tmp_path: Path) -> None:
    assert len(BOMB) < 500
    with pytest.raises(ConfigError) as raised:
        load_config(_recipe(tmp_path, ""), [f"trainer.lr={BOMB}"])
    assert "more than 100,000 values" in _one_line(raised, 400)


def test_an_alias_that_stays_small_is_still_read() -> None:
    values = load_yaml("base: &base {lr: 0.1, seed: 3}\ntrainer: {<<: *base, lr: 0.2}\nagain: *base\n", "x")
    assert values["trainer"] == {"lr": 0.2, "seed": 3} and values["again"] == {"lr": 0.1, "seed": 3}


def test_deep_nesting_is_one_line_naming_the_line(tmp_path: Path) -> None:
    depth = 100_000
    with pytest.raises(ConfigError) as raised:
        load_config(_recipe(tmp_path, "trainer:\n  lr: " + "[" * depth + "]" * depth + "\n"))
    assert ":3: invalid YAML: nested more than 100 levels deep" in _one_line(raised)


def test_a_five_thousand_digit_number_is_one_line_naming_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_recipe(tmp_path, "trainer:\n  seed: " + "7" * 5000 + "\n"))
    assert ":3: invalid YAML: a number of 5,000 characters (at most 100)" in _one_line(raised)


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_recipe(tmp_path, "trainer:\n  lr: 0.1\n  max_epochs: 2\n  lr: 0.5\n"))
    expected = f"{tmp_path / 'recipe.yaml'}:5: invalid YAML: key 'lr' is given twice (keep one)"
    assert _one_line(raised) == expected
    with pytest.raises(ConfigError, match="key 'trainer' is given twice"):
        load_config(_recipe(tmp_path, "trainer: {lr: 0.1}\ntrainer: {lr: 0.2}\n"))


def test_an_error_shows_a_bounded_prefix_of_a_huge_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_recipe(tmp_path, ""), ["trainer.lr=" + "x" * 20_000])
    assert "(20,002 characters)" in _one_line(raised)
    with pytest.raises(ConfigError) as raised:  # a list of 5,000 values, shown by its first few
        load_config(_recipe(tmp_path, ""), ["trainer.lr=[" + ", ".join(["1"] * 5_000) + "]"])
    _one_line(raised)


@pytest.mark.parametrize(("line", "problem"), [
    ('{"text": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested too deeply"),
    ('{"text": "a", "label": ' + "9" * 5000 + "}", "unreadable JSON value: Exceeds the limit"),
    ('{"text": "bad \\ud800 here", "label": "x"}', "lone surrogate"),
    ('{"text": "a", "label": {"\\udfff": 1}}', "lone surrogate"),
], ids=["deep", "digits", "surrogate", "surrogate-key"])
def test_jsonl_bombs_are_one_data_error_naming_the_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "fine", "label": "x"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        list(read_jsonl(path))
    assert _one_line(raised).startswith(f"{path}:2: ") and problem in str(raised.value)


def test_a_surrogate_pair_is_one_character_and_fine(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "smile \\ud83d\\ude00", "label": "x"}\n', encoding="utf-8")
    assert [record["text"] for record in read_jsonl(path)] == [json.loads('"smile \\ud83d\\ude00"')]
