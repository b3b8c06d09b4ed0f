"""Task-declared inference options and the generation options: one check, two spellings."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpseq.ranges import between
from nlpseq.tasks import TASKS, get_task
from nlpseq.tasks.options import (
    TASK_OPTIONS,
    GenerationOptions,
    OptionError,
    TaskOption,
    check_options,
    flag,
)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_declares_its_options_where_the_command_line_reads_them(name: str) -> None:
    # The command line reads TASK_OPTIONS (no torch import); the task class must agree with it.
    assert get_task(name).options == TASK_OPTIONS.get(name, ())


def test_check_options_converts_drops_unset_and_names_the_unknown() -> None:
    declared = (TaskOption("beam_size", int, "beam", check=between(ge=1)),
                TaskOption("length_penalty", float, "alpha", check=between(ge=0)),
                TaskOption("plot_attention", Path, "dir"), TaskOption("attention", bool, "switch"))
    checked = check_options(declared, {"beam_size": 3, "length_penalty": 1, "plot_attention": "out",
                                       "attention": None}, "translation")
    assert checked == {"beam_size": 3, "length_penalty": 1.0, "plot_attention": Path("out")}
    assert isinstance(checked["length_penalty"], float)
    with pytest.raises(OptionError, match=r"^beam_size: expected int, got True$"):
        check_options(declared, {"beam_size": True}, "translation")  # a bool is not a count
    with pytest.raises(OptionError, match=r"^length_penalty: expected a finite number, got nan$"):
        check_options(declared, {"length_penalty": float("nan")}, "translation")
    with pytest.raises(OptionError) as raised:
        check_options(declared, {"top_k": 2, "beam_width": 4}, "translation")
    assert str(raised.value) == ("beam_width, top_k: not an option of a translation run (its options: "
                                 "beam_size, length_penalty, plot_attention, attention)")
    assert raised.value.render(flag).startswith("--beam-width, --top-k: not an option")


@pytest.mark.parametrize(("values", "sampling"), [
    ({}, False),
    ({"beam_size": 1}, False),
    ({"temperature": 0.0}, False),
    ({"top_k": 1}, False),
    ({"top_k": 1, "num_samples": 3}, False),  # top-k 1 is greedy whatever else is set
    ({"temperature": 0.0, "top_p": 0.9}, False),
    ({"temperature": 1.0}, True),
    ({"top_k": 5}, True),
    ({"top_k": 0}, False),  # "all tokens" asks for nothing by itself
    ({"top_p": 0.9}, True),
    ({"top_p": 1.0}, False),
    ({"num_samples": 2}, True),
])
def test_greedy_unless_sampling_is_asked_for(values: dict, sampling: bool) -> None:
    assert GenerationOptions(**values).sampling is sampling


@pytest.mark.parametrize(("values", "message"), [
    ({"temperature": -1.0}, "temperature: -1.0 is out of range; allowed: >= 0"),
    ({"top_k": -3}, "top_k: -3 is out of range; allowed: >= 0"),
    ({"top_p": 0.0}, "top_p: 0.0 is out of range; allowed: > 0 and <= 1"),
    ({"top_p": 1.5}, "top_p: 1.5 is out of range; allowed: > 0 and <= 1"),
    ({"num_samples": 0}, "num_samples: 0 is out of range; allowed: >= 1"),
    ({"max_new_tokens": -5}, "max_new_tokens: -5 is out of range; allowed: >= 1"),
    ({"beam_size": 0}, "beam_size: 0 is out of range; allowed: >= 1"),
    ({"beam_size": 4, "top_p": 0.9}, "beam_size 4 searches for the one likeliest continuation; it takes "
                                     "no top_p"),
    ({"max_new_tokens": "5"}, "max_new_tokens: expected int, got '5'"),
])
def test_generation_options_are_checked_when_made(values: dict, message: str) -> None:
    with pytest.raises(OptionError) as raised:
        GenerationOptions(**values)
    assert str(raised.value) == message
    first = next(iter(values))
    assert raised.value.render(flag).startswith(flag(first))  # the command line's spelling


def test_generation_options_of_keywords_lists_the_valid_ones() -> None:
    assert GenerationOptions.of(top_k=3) == GenerationOptions(top_k=3)
    with pytest.raises(OptionError, match=r"^topk: not a generation option \(valid: max_new_tokens, "):
        GenerationOptions.of(topk=3)
    names = [option.name for option in GenerationOptions.declarations()]
    assert names == ["max_new_tokens", "temperature", "top_k", "top_p", "num_samples", "seed",
                     "beam_size", "condition"]
