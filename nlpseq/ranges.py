"""Allowed values of config fields, declared beside the fields they constrain.

``lr: float = ranged(1e-3, gt=0)`` or ``device: str = matching("auto", r"auto|cpu|...", "a device")``;
the config parser (:func:`nlpseq.config.from_dict`) runs each field's check when a recipe loads, one line
per mistake naming the key and the range.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable
from dataclasses import field
from typing import Any

Check = Callable[[Any], "str | None"]  # value -> what is wrong with it, or None

# Upper bounds of the sizes that build tensors: far past any published RNN (the widest LSTM language
# models are 8,192 wide, the deepest NMT stacks 8 layers, the largest vocabularies some 10^6 units),
# and what stops ``hidden_size=100000000`` or ``num_layers=100000`` when the recipe loads, not as an
# allocation traceback or minutes of silent building.
MAX_WIDTH = 16_384  # hidden, embedding and attention sizes
MAX_LAYERS = 64  # stacked RNN layers
MAX_VOCAB = 2_000_000  # units in a vocabulary


def brief(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: what an error shows of a value, so that a huge one
    (an expanded YAML alias, a 5,000-digit number) is never printed whole. A large int is not turned
    into digits at all (Python refuses past 4,300 of them)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"<an integer of {value.bit_length():,} bits>"
    text = reprlib.repr(value) if isinstance(value, (list, dict, tuple, set)) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def between(*, ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None) -> Check:
    """The check of a number in a range: what :func:`ranged` attaches to a field, usable on its own
    (inference options, command-line flags)."""
    parts = [f"{op} {bound}" for op, bound in ((">=", ge), (">", gt), ("<=", le), ("<", lt))
             if bound is not None]

    def check(value: Any) -> str | None:
        inside = ((ge is None or value >= ge) and (gt is None or value > gt)
                  and (le is None or value <= le) and (lt is None or value < lt))
        return None if inside else f"{brief(value)} is out of range; allowed: {' and '.join(parts)}"

    return check


def ranged(default: Any, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None) -> Any:
    """A dataclass field whose number must lie in a range (None, where the type allows it, passes)."""
    return field(default=default, metadata={"check": between(ge=ge, gt=gt, le=le, lt=lt)})


def matching(default: str, pattern: str, what: str) -> Any:
    """A dataclass field whose string must match ``pattern`` (``what`` describes it in the error)."""
    compiled = re.compile(pattern)

    def check(value: Any) -> str | None:
        return None if compiled.fullmatch(value) else f"{brief(value)} is not {what}"

    return field(default=default, metadata={"check": check})


def local_path(default: str | None = None) -> Any:
    """A field naming a local file or folder. :func:`nlpseq.config_paths.resolve_paths` makes it absolute when
    a run starts, so the saved ``config.yaml`` works from any directory."""
    return field(default=default, metadata={"path": True})
