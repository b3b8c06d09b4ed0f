"""``nlpseq recipes show NAME``: a recipe as YAML with every key of its task, each under a comment that
gives its description, type, allowed values and default (torchtune's ``tune cat``).

The keys, descriptions and defaults come from :mod:`nlpseq.config_reference` (read from the config
dataclasses, as the reference page is); the values from the recipe loaded as ``nlpseq train`` loads it,
so what is shown is what would train: the recipe's value where it sets one, else the default. The output
is itself a valid recipe.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import yaml

from nlpseq.config import Config
from nlpseq.config_files import read_yaml
from nlpseq.config_reference import Key, section_keys

WIDTH = 100
SET = "set by the recipe"


def recipe_keys(task: type) -> list[Key]:
    """Every key of a recipe of ``task`` (a :class:`~nlpseq.tasks.contract.Task` class) in the order of
    :class:`Config`'s fields, its ``data``, ``tokenizer`` and ``model`` sections typed by the task."""
    typed = {"data": task.data_config, "tokenizer": task.tokenizer_config, "model": task.model_config}
    keys: list[Key] = []
    for key in section_keys(Config, ""):
        head = key.name.split(".")[0]
        if head not in typed:
            keys.append(key)
        elif key.name == head:
            summary = (typed[head].__doc__ or "").split("\n\n")[0]
            keys.append(Key(head, "section", "", "", " ".join(summary.split()), section=True))
            keys += section_keys(typed[head], head)
    return keys


def _lookup(values: Any, dotted: str) -> tuple[bool, Any]:
    """(found, value) of a dotted key in nested dicts or dataclasses."""
    node = values
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif dataclasses.is_dataclass(node) and hasattr(node, part):
            node = getattr(node, part)
        else:
            return False, None
    return True, node


def _yaml_value(value: Any) -> str:
    """One value as inline YAML: ``0.001``, ``null``, ``'1.0'``, ``[a, b]``."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    # A one-item flow list is dumped on one line ("[0.001]\n"); its brackets are what is not the value.
    return yaml.safe_dump([value], default_flow_style=True, allow_unicode=True, width=10**6).strip()[1:-1]


def _plain(markdown: str) -> str:
    return markdown.replace("`", "")


def _comment(key: Key, indent: str) -> list[str]:
    facts = [key.type] + ([f"allowed: {_plain(key.allowed)}"] if key.allowed else [])
    if key.default:
        facts.append(f"default: {_plain(key.default)}")
    lines = []
    if key.description:
        lines += textwrap.wrap(_plain(key.description), WIDTH - len(indent) - 2)
    if not key.section:
        lines.append("; ".join(facts))
    return [f"{indent}# {line}" for line in lines]


def show_recipe(path: Path, name: str, task: type, config: Config) -> str:
    """The annotated YAML of recipe file ``path`` (called ``name``), whose loaded config is ``config``
    and whose task class is ``task``. Keys the recipe sets carry ``# set by the recipe``; an optional
    section left unset (``null``) lists its keys commented out, with their defaults."""
    raw = read_yaml(path)
    header = [line for line in path.read_text(encoding="utf-8").splitlines()[:40] if line.startswith("#")]
    out = [f"# nlpseq recipes show {name}: {path}",
           "# Every key with its description, type, allowed values and default; the value shown is the",
           f"# recipe's where it sets one ('# {SET}'), else the default.", "#"]
    for line in header:
        if not line.strip("# "):
            out.append("#")
            continue
        out.append(line)
    unset: list[str] = []  # sections that are null: their keys are shown commented out
    for key in recipe_keys(task):
        depth = key.name.count(".")
        indent = "  " * depth
        leaf = key.name.rsplit(".", 1)[-1]
        off = any(key.name.startswith(section + ".") for section in unset)
        found, value = _lookup(config, key.name)
        given = _lookup(raw, key.name)[0]
        if not (out[-1].endswith(":") and not out[-1].lstrip().startswith("#")):  # none under a section
            out.append("")
        lines = _comment(key, indent)
        if key.section and found and value is not None:
            lines.append(f"{indent}{leaf}:")
        elif key.section:
            note = f"{SET}; " if given else ""
            lines.append(f"{indent}{leaf}: null  # {note}off: write the section to use the keys below")
            unset.append(key.name)
        else:
            shown = _yaml_value(value) if found else _plain(key.default) or "null"
            lines.append(f"{indent}{leaf}: {shown}{'  # ' + SET if given else ''}")
        if off:
            lines = [f"{indent}# {line.strip()}" if not line.strip().startswith("#") else line
                     for line in lines]
        out += lines
    return "\n".join(out) + "\n"
