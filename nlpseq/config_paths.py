"""Local paths in a config made absolute when a run starts, so its ``config.yaml`` works from any
directory. The fields are marked with :func:`nlpseq.ranges.local_path` beside their declarations."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from nlpseq.config import Config, _join, to_dict


def path_keys(obj: Any, prefix: str = "") -> list[str]:
    """Dotted keys of every local-path field (:func:`nlpseq.ranges.local_path`) of a config."""
    keys = []
    for item in dataclasses.fields(obj):
        value, key = getattr(obj, item.name), _join(prefix, item.name)
        if item.metadata.get("path"):
            keys.append(key)
        elif dataclasses.is_dataclass(value):
            keys.extend(path_keys(value, key))
    return keys


def resolve_paths(values: dict[str, Any], keys: list[str], base: Path | None = None) -> dict[str, Any]:
    """A copy of raw config ``values`` whose local paths at dotted ``keys`` are absolute (against
    ``base``, default the working directory, ``~`` expanded): a run folder's ``config.yaml`` then works
    from any directory, and ``nlpseq evaluate RUN`` finds the data wherever it is run."""
    values = copy.deepcopy(values)
    for key in keys:
        *parents, name = key.split(".")
        node = values
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(name), str) and node[name]:
            node[name] = str(((base or Path.cwd()) / Path(node[name]).expanduser()).resolve())
    return values


def with_resolved_paths(config: Config, base: Path | None = None) -> Config:
    """A copy of ``config`` with every local path absolute, as :func:`resolve_paths` makes them."""
    config = copy.deepcopy(config)
    resolved = resolve_paths(to_dict(config), path_keys(config), base)
    for key in path_keys(config):
        value: Any = resolved
        for part in key.split("."):
            value = value[part]
        set_value(config, key, value)
    return config


def get_value(config: Any, key: str) -> Any:
    """The value at dotted ``key`` of a config dataclass (``"model.pretrained"``)."""
    for part in key.split("."):
        config = getattr(config, part)
    return config


def set_value(config: Any, key: str, value: Any) -> None:
    """Set the value at dotted ``key`` of a config dataclass, in place."""
    *parents, name = key.split(".")
    for part in parents:
        config = getattr(config, part)
    setattr(config, name, value)
