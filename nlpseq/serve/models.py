"""A run folder as the server sees it: what it is (for ``GET /v1/models``) and how to call it.

Everything here comes from the task contract (:mod:`nlpseq.tasks.contract`) and the options the task
declares (:mod:`nlpseq.tasks.options`): the task's name, its class lists, its ``predict`` options with
their types and ranges, and whether it writes text. A fifth task gets its endpoints with no edit here.

Options are state on a task object (``set_options``). A request's options must not leak into the next
request, nor two requests with different options share a batch, so each distinct set of options gets
its own shallow copy of the loaded Predictor and its task (:meth:`ServedModel.variant`): the copies
share the model and the vocabularies, and ``set_options`` on a copy rebinds that copy's attributes
only. The batcher groups requests by their options, so a batch runs on one variant.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nlpseq.tasks.options import GenerationOptions, OptionError, TaskOption, check_options

# Options that name files or run folders are never taken from a request (a client must not make the
# server read or write its disk). Path-typed options say so by their type; a str option naming run
# folders (classification's ``ensemble``) only by its metavar, hence this list (see the report: a
# ``names_files`` field on TaskOption would say it in the declaration).
_FILE_METAVARS = ("DIR", "FILE", "RUNS", "RUN")
# Class lists a task may hold after restore(), shown by GET /v1/models (the names ClassCounts uses).
_CLASS_LISTS = ("labels", "tags", "conditions")
# Distinct option sets kept loaded per model; the least recently used copy is dropped past this.
_VARIANTS = 32


def servable(option: TaskOption) -> bool:
    """Whether a request may set ``option``: a ``predict`` option that names no file or folder."""
    return ("predict" in option.commands and option.type is not Path
            and (option.metavar or "").upper() not in _FILE_METAVARS)


def describe_option(option: TaskOption) -> dict[str, Any]:
    """``option`` as JSON: name, type, help, and its range and choices where it has them."""
    described: dict[str, Any] = {"name": option.name, "type": option.type.__name__, "help": option.help}
    if option.choices is not None:
        described["choices"] = list(option.choices)
    if option.default is not None:
        described["default"] = option.default
    bounds = _bounds(option)
    if bounds:
        described["range"] = bounds
    return described


def _bounds(option: TaskOption) -> dict[str, float]:
    """The bounds of a :func:`nlpseq.ranges.between` check (``{"ge": 1}``), read from its closure: the
    check is a plain function, and a range in the model list lets a client (the page) offer valid
    values only. Another kind of check gives none, and the server still checks every value."""
    if option.check is None:
        return {}
    try:
        names = inspect.getclosurevars(option.check).nonlocals
    except (TypeError, ValueError):
        return {}
    return {k: names[k] for k in ("ge", "gt", "le", "lt") if isinstance(names.get(k), int | float)}


class ServedModel:
    """One loaded run under its served name. ``predictor`` is a :class:`nlpseq.api.Predictor` (or
    anything with its ``task``, ``predict``, ``set_options`` and ``generate``)."""

    def __init__(self, name: str, predictor: Any):
        self.name = name
        self.predictor = predictor
        self.task = predictor.task
        self.options = tuple(option for option in self.task.options if servable(option))
        self.generates = _overrides(self.task, "generate")
        self._variants: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()  # variants are made in the executor threads of every model

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/models`` lists for this run."""
        classes = {name: list(getattr(self.task, name)) for name in _CLASS_LISTS
                   if isinstance(getattr(self.task, name, None), list | tuple) and getattr(self.task, name)}
        info: dict[str, Any] = {
            "name": self.name, "task": self.task.name, "classes": classes,
            "takes_words": bool(self.task.takes_words),
            "options": [describe_option(option) for option in self.options],
            "generates": self.generates,
        }
        if self.generates:
            info["generation_options"] = [describe_option(option)
                                          for option in GenerationOptions.declarations()]
        return info

    def check_options(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` converted and checked against the servable options (OptionError naming the key);
        also checks how they combine, on a throwaway variant, so a bad mix is refused before queuing."""
        checked = check_options(self.options, values, self.task.name)
        self.variant(checked)
        return checked

    def check_generation(self, values: Mapping[str, Any]) -> GenerationOptions:
        """``values`` as GenerationOptions (OptionError naming the key); a condition the model lacks is
        refused here too, before queuing, as the task would refuse it."""
        options = GenerationOptions.of(**values)
        conditions = list(getattr(self.task, "conditions", None) or [])
        if options.condition is not None and conditions and options.condition not in conditions:
            raise OptionError(lambda spell: f"{spell('condition')}: {options.condition!r} is not one of "
                                            f"{', '.join(conditions)}")
        return options

    def variant(self, options: Mapping[str, Any]) -> Any:
        """The Predictor to run ``options`` on (checked ones): the loaded one when none are given, else a
        cached shallow copy whose task has them set."""
        if not options:
            return self.predictor
        key = options_key(options)
        with self._lock:
            if key in self._variants:
                self._variants.move_to_end(key)
                return self._variants[key]
        predictor = copy.copy(self.predictor)
        predictor.task = copy.copy(self.task)
        predictor.task.set_options(**options)
        with self._lock:
            self._variants[key] = predictor
            while len(self._variants) > _VARIANTS:
                self._variants.popitem(last=False)
        return predictor

    def predict(self, options: Mapping[str, Any], inputs: list[Any]) -> list[dict[str, Any]]:
        """One result per input, as :meth:`nlpseq.api.Predictor.predict` gives it (a batch call). Runs
        in an executor thread, never on the event loop."""
        results = self.variant(options).predict(inputs)
        return list(results)

    def generate(self, prompts: list[str], options: GenerationOptions) -> list[dict[str, Any]]:
        """One record per (prompt, sample), as :meth:`nlpseq.api.Predictor.generate` gives them."""
        return list(self.predictor.generate(prompts, options))


def options_key(options: Mapping[str, Any]) -> tuple:
    """A hashable key of checked options (servable ones are numbers, switches and strings): requests
    with equal keys may share a batch, and ``dict(key)`` gives the options back."""
    return tuple(sorted(options.items()))


def _overrides(task: Any, method: str) -> bool:
    """Whether ``task``'s class implements ``method`` of the contract itself (so: generates text)."""
    from nlpseq.tasks.contract import Task

    return getattr(type(task), method, None) is not getattr(Task, method)
