"""Recipe files and overrides: the one YAML loader (``1e-3`` is a float), dotted ``key=value``
overrides, and a recipe's raw values before :func:`nlpseq.config.parse_config` types them.

Every error is one ConfigError naming the file (and line) or the override.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from nlpseq.errors import ConfigError
from nlpseq.fileio import decode_utf8


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"trainer.lr=3e-4"`` -> (["trainer", "lr"], 0.0003). The value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (e.g. trainer.lr=0.001)")
    key, raw = text.split("=", 1)
    if not key:
        raise ConfigError(f"override {text!r} has no key")
    try:
        # The recipe files' loader, so "1e-3" is a float on the command line as in a file.
        value = yaml.load(raw, Loader=_YamlLoader) if raw != "" else ""
    except yaml.YAMLError as error:
        # PyYAML's message spans lines (it draws the spot); one line is the problem and its column.
        problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
        mark = getattr(error, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"override {text!r}: value is not valid YAML ({problem}{where})") from None
    return key.split("."), value


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (in place) and return it."""
    for text in overrides:
        path, value = parse_override(text)
        node = values
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
            node = child
        node[path[-1]] = value
    return values


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``), as overrides do."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str, where: str | Path) -> Any:
    """``text`` read by the one YAML loader of recipes (``1e-3`` is a float); bad YAML is a
    one-line ConfigError naming ``where`` and the line. ``nlpseq train`` and ``nlpseq recipes`` both
    read recipes through here, so they never disagree about a value."""
    try:
        return yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line}: invalid YAML: {getattr(error, 'problem', error)}") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, bytes that are not UTF-8 or bad YAML is a ConfigError
    naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    text = decode_utf8(path.read_bytes(), path, "save the recipe as UTF-8", error=ConfigError)
    values = load_yaml(text, path)
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections, got {type(values).__name__}")
    return values


def default_run_dir(path: str | Path) -> str:
    """Where a recipe that names no ``run_dir`` writes: ``runs/<folder>_<stem>`` of its file.

    ``recipes/sentiment/tiny.yaml`` -> ``runs/sentiment_tiny``: the folder is kept because the task
    folders reuse stems (every task has a ``tiny``), and two recipes must not share a run folder.
    """
    path = Path(path)
    folder = path.resolve().parent.name
    return f"runs/{folder}_{path.stem}" if folder else f"runs/{path.stem}"


def read_values(path: str | Path | None, overrides: list[str] | None = None) -> dict[str, Any]:
    """A recipe's raw values: its YAML (nothing when ``path`` is None) with ``key=value`` overrides.

    A recipe file without ``run_dir`` gets :func:`default_run_dir` of its path.
    """
    values = read_yaml(path) if path is not None else {}
    if path is not None:
        values.setdefault("run_dir", default_run_dir(path))
    return apply_overrides(values, overrides or [])
