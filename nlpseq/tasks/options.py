"""Inference options: what a task's ``predict``/``evaluate`` take, and how text is generated.

Two kinds, checked by one function (:func:`check_options`) wherever they come from:

- :class:`TaskOption`: one option a task declares (translation's ``beam_size``, the language model's
  ``dynamic_lr``). A task lists its options in :data:`TASK_OPTIONS` and as its ``options`` class
  attribute; the command line builds ``predict``/``evaluate`` flags from them (``--beam-size``), and
  :meth:`nlpseq.api.Predictor.set_options` takes them as keywords.
- :class:`GenerationOptions`: how ``generate`` decodes (length, greedy / sampling / beam search).

This module is light (no torch) on purpose: the command line reads a run's options to build its flags,
and ``nlpseq predict RUN --help`` should answer at once. So the declarations live here, keyed by task
name, rather than in the task modules, which import torch; ``tests/unit/test_options.py`` checks that
every registered task's ``options`` is its entry here.

Errors name what the caller typed: the keyword (``beam_size``) from Python, the flag (``--beam-size``)
from the command line (:class:`OptionError`).
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from nlpseq.errors import ConfigError
from nlpseq.ranges import Check, between

Spelling = Callable[[str], str]
Command = Literal["predict", "evaluate", "generate"]


def keyword(name: str) -> str:
    """How Python callers spell an option: ``beam_size``."""
    return name


def flag(name: str) -> str:
    """How the command line spells an option: ``--beam-size``."""
    return "--" + name.replace("_", "-")


class OptionError(ConfigError):
    """A bad option value. The message is built from a spelling of option names, so one raise reads
    ``beam_size: ...`` to Python callers (``str(error)``) and ``--beam-size: ...`` on the command line
    (:meth:`render` with :func:`flag`)."""

    def __init__(self, message: Callable[[Spelling], str]):
        self.message = message
        super().__init__(message(keyword))

    def render(self, spelling: Spelling) -> str:
        return self.message(spelling)


@dataclass(frozen=True)
class TaskOption:
    """One inference option a task declares.

    ``type`` is int, float, bool (a switch: ``--attention``), str or Path (``metavar`` names it in
    ``--help``: ``--plot-attention DIR``). ``default`` None means "not given: the task's own setting"
    (e.g. the recipe's ``decoding.beam_size``). ``check`` is a range check from
    :mod:`nlpseq.ranges` (``between(ge=1)``); ``choices`` the allowed values, if few. ``commands``: the
    subcommands whose flags it becomes.
    """

    name: str
    type: type
    help: str
    check: Check | None = None
    choices: tuple[Any, ...] | None = None
    commands: tuple[Command, ...] = ("predict", "evaluate")
    metavar: str | None = None
    default: Any = None

    def checked(self, value: Any) -> Any:
        """``value`` converted (an int for a float, a str for a Path) and checked; OptionError if wrong."""
        name, kind = self.name, self.type
        if value is None:
            if self.default is None:
                return None
            raise OptionError(lambda spell: f"{spell(name)}: expected {kind.__name__}, got None")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif kind is Path and isinstance(value, str | os.PathLike):
            value = Path(value)
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            raise OptionError(lambda spell: f"{spell(name)}: expected {kind.__name__}, got {value!r}")
        if kind is float and not math.isfinite(value):
            raise OptionError(lambda spell: f"{spell(name)}: expected a finite number, got {value!r}")
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(repr, self.choices))
            raise OptionError(lambda spell: f"{spell(name)}: {value!r} is not one of {allowed}")
        problem = self.check(value) if self.check is not None else None
        if problem is not None:
            raise OptionError(lambda spell: f"{spell(name)}: {problem}")
        return value


def check_options(declared: Iterable[TaskOption], values: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """The options given in ``values`` (None: not given, dropped), each converted and checked against
    its declaration; a name ``owner`` (a task name) does not declare is an OptionError. The one check
    of option values: the command line and :meth:`nlpseq.api.Predictor.set_options` both call it."""
    options = {option.name: option for option in declared}
    unknown = sorted(set(values) - set(options))
    if unknown:
        known = f" (its options: {', '.join(options)})" if options else ""
        raise OptionError(lambda spell: f"{', '.join(map(spell, unknown))}: not an option of a {owner} "
                                        f"run{known}")
    checked = {name: options[name].checked(value) for name, value in values.items()}
    return {name: value for name, value in checked.items() if value is not None}


# ------------------------------------------------------------------------------------------ task options
TRANSLATION_OPTIONS: tuple[TaskOption, ...] = (
    TaskOption("beam_size", int, "beam width (1: greedy; default: the recipe's decoding.beam_size)",
               check=between(ge=1)),
    TaskOption("length_penalty", float, "GNMT length penalty alpha for beam search (0: none; default: "
               "the recipe's)", check=between(ge=0)),
    TaskOption("n_best", int, "print the N best hypotheses with scores (at most the beam size)",
               check=between(ge=1), commands=("predict",)),
    TaskOption("attention", bool, "jsonl: include the attention weights and the pieces",
               commands=("predict",)),
    TaskOption("plot_attention", Path, "write one attention heatmap PNG per input line into DIR",
               commands=("predict",), metavar="DIR"),
)

LM_OPTIONS: tuple[TaskOption, ...] = (
    TaskOption("dynamic_lr", float, "stream mode: also report the metrics under dynamic evaluation "
               "(Krause et al. 2018: an SGD step of this size after each scored window), as 'dynamic'",
               check=between(gt=0), commands=("evaluate",)),
    TaskOption("dynamic_decay", float, "with --dynamic-lr: pull the adapted weights back towards the "
               "trained ones by this fraction after each step (default 0)", check=between(ge=0, lt=1),
               commands=("evaluate",)),
)

TAGGING_OPTIONS: tuple[TaskOption, ...] = (
    TaskOption("max_length", int, "tag a sentence longer than N words in chunks of at most N words, "
               "each decoded on its own (default: the run's data.max_length)", check=between(ge=1),
               commands=("predict",), metavar="N"),
    TaskOption("input_format", str, "text: one raw sentence a line (default); conll: one word a line in "
               "the first column, a blank line after each sentence, written back with a predicted tag "
               "column", choices=("text", "conll"), commands=("predict",)),
)

CLASSIFICATION_OPTIONS: tuple[TaskOption, ...] = (
    # A str, not a Path: one flag names one or more runs (ULMFiT averages a forward and a backward one).
    TaskOption("ensemble", str, "average the class probabilities with these other classification runs "
               "of the same labels (their folders, comma-separated; each with its best.pt), e.g. a "
               "backward model's", metavar="RUNS"),
)

# task name -> its options (a task that takes none needs no entry).
TASK_OPTIONS: dict[str, tuple[TaskOption, ...]] = {
    "translation": TRANSLATION_OPTIONS, "lm": LM_OPTIONS, "tagging": TAGGING_OPTIONS,
    "classification": CLASSIFICATION_OPTIONS}


# ------------------------------------------------------------------------------------------ generation
def _option(default: Any, help: str, check: Check | None = None) -> Any:
    return field(default=default, metadata={"help": help, "check": check})


@dataclass(frozen=True)
class GenerationOptions:
    """How ``generate`` continues a prompt. Checked when made: a bad value is one OptionError naming it.

    The rule: **greedy unless you ask for sampling.** Greedy decoding (the likeliest token at every
    step) is beam search of size 1, and it is what you get by default. You ask for sampling by setting
    ``temperature`` > 0, ``top_k`` > 1, ``top_p`` < 1 or ``num_samples`` > 1; unset ones then take
    their neutral values (temperature 1, no top-k or top-p limit). ``temperature`` 0 or ``top_k`` 1
    always means greedy, whatever else is set. ``beam_size`` > 1 searches instead and takes none of
    the sampling options. ``seed`` fixes the draw: the same seed gives the same samples.
    """

    max_new_tokens: int = _option(50, "most tokens added per continuation (default 50)", between(ge=1))
    temperature: float | None = _option(
        None, "sample with the logits divided by this (0: greedy; default: greedy, 1.0 when sampling)",
        between(ge=0))
    top_k: int | None = _option(None, "sample among the K likeliest tokens (1: greedy; 0: all)",
                                between(ge=0))
    top_p: float | None = _option(None, "sample within the smallest set of tokens of this total "
                                  "probability, in (0, 1]", between(gt=0, le=1))
    num_samples: int = _option(1, "continuations per prompt (more than 1: sampled; default 1)",
                               between(ge=1))
    seed: int = _option(0, "sampling seed: the same seed gives the same text (Python default 0; the "
                           "command line draws one and prints it when none is given)")
    beam_size: int = _option(1, "beam search with this many hypotheses (default 1: greedy)", between(ge=1))
    condition: str | None = _option(None, "the condition value (e.g. a genre) of a conditioned model")

    def __post_init__(self) -> None:
        for option in self.declarations():
            object.__setattr__(self, option.name, option.checked(getattr(self, option.name)))
        if self.beam_size > 1:
            given = [name for name in ("temperature", "top_k", "top_p") if getattr(self, name) is not None]
            if self.num_samples > 1:
                given.append("num_samples")
            if given:
                raise OptionError(lambda spell: f"{spell('beam_size')} {self.beam_size} searches for the one "
                                  f"likeliest continuation; it takes no {', '.join(map(spell, given))}")

    @property
    def sampling(self) -> bool:
        """Whether this asks for sampling (see the class docstring); else greedy or beam search."""
        if self.temperature == 0 or self.top_k == 1 or self.beam_size > 1:
            return False
        return (self.temperature is not None or (self.top_k or 0) > 1
                or (self.top_p is not None and self.top_p < 1) or self.num_samples > 1)

    @classmethod
    def declarations(cls) -> tuple[TaskOption, ...]:
        """The fields as :class:`TaskOption` (the command line makes ``generate``'s flags from them)."""
        hints = typing.get_type_hints(cls)
        options = []
        for f in dataclasses.fields(cls):
            kinds = [t for t in typing.get_args(hints[f.name]) if t is not type(None)] or [hints[f.name]]
            options.append(TaskOption(f.name, kinds[0], f.metadata["help"], check=f.metadata["check"],
                                      commands=("generate",), default=f.default))
        return tuple(options)

    @classmethod
    def of(cls, **values: Any) -> GenerationOptions:
        """From keywords, an unknown one being an OptionError that lists the valid ones."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise OptionError(lambda spell: f"{', '.join(map(spell, unknown))}: not a generation option "
                              f"(valid: {', '.join(map(spell, names))})")
        return cls(**values)
