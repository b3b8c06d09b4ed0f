"""Run folders written by earlier versions: their saved ``config.yaml`` read with today's key names.

A recipe that uses an old key is refused with the new one to write (``nlpseq.config.from_dict``): a
person edits it once. A run folder's ``config.yaml`` is not theirs to edit, and its trained weights are
still good, so ``nlpseq.load`` / ``evaluate`` / ``predict`` read it through :func:`upgrade`, which moves
each old key (the ClassVars ``renamed_keys`` and ``moved_keys`` of the section dataclasses) and each
renamed value (field metadata ``renamed``) to today's spelling, and says what it moved.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from typing import Any


def upgrade(values: dict[str, Any], root: type, sections: dict[str, type]
            ) -> tuple[dict[str, Any], list[str]]:
    """A copy of the raw ``values`` of dataclass ``root`` with old keys and values renamed, and one note
    per change ("model.embedding_dim -> model.embedding.embedding_dim"). ``sections`` types the
    sections the root declares loosely (a task's ``data``/``model``/``tokenizer``)."""
    values = copy.deepcopy(values)
    notes: list[str] = []
    _walk(root, values, "", values, notes, sections)
    return values, notes


def _walk(cls: type, values: dict[str, Any], prefix: str, top: dict[str, Any], notes: list[str],
          sections: dict[str, type] | None = None) -> None:
    moves = {**{k: _join(prefix, v) for k, v in getattr(cls, "renamed_keys", {}).items()},
             **getattr(cls, "moved_keys", {})}
    for old in [key for key in values if key in moves]:
        _put(top, moves[old].split("."), values.pop(old))
        notes.append(f"{_join(prefix, old)} -> {moves[old]}")
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        value = values.get(field.name)
        renamed = field.metadata.get("renamed", {})
        if isinstance(value, str) and value in renamed:
            values[field.name] = renamed[value]
            notes.append(f"{_join(prefix, field.name)}: {value} -> {renamed[value]}")
        kind = (sections or {}).get(field.name, hints[field.name])
        if isinstance(value, dict) and dataclasses.is_dataclass(kind):
            _walk(kind, value, _join(prefix, field.name), top, notes)


def _put(top: dict[str, Any], path: list[str], value: Any) -> None:
    node = top
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(path[-1], value)  # a key already written the new way wins


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
