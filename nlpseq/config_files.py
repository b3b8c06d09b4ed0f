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
from nlpseq.ranges import brief as _brief


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"trainer.lr=3e-4"`` -> (["trainer", "lr"], 0.0003). The value is read as YAML."""
    shown = _brief(text)  # an error shows a bounded prefix of what was given
    if "=" not in text:
        raise ConfigError(f"override {shown} must look like key=value (e.g. trainer.lr=0.001)")
    key, raw = text.split("=", 1)
    if not key:
        raise ConfigError(f"override {shown} has no key")
    try:
        # The recipe files' loader, so "1e-3" is a float on the command line as in a file.
        value = yaml.load(raw, Loader=_YamlLoader) if raw != "" else ""
    except yaml.YAMLError as error:
        # PyYAML's message spans lines (it draws the spot); one line is the problem and its column.
        problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
        mark = getattr(error, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"override {shown}: value is not valid YAML ({problem}{where})") from None
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
                raise ConfigError(f"override {_brief(text)}: {_brief(part)} is not a section")
            node = child
        node[path[-1]] = value
    return values


# Bounds on what one recipe may hold: far above any real one, and what keeps an alias bomb (a
# 197-byte "billion laughs"), 100,000-deep nesting or a 5,000-digit number a one-line error.
MAX_NODES = 100_000  # values after aliases are expanded
MAX_DEPTH = 100  # nested lists and mappings
MAX_NUMBER_CHARS = 100  # digits of one number


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``), as overrides do,
    refuses a key given twice (YAML keeps the last silently) and bounds depth, size and numbers."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Depth is checked while composing: the recursion is PyYAML's, and past ~1,000 levels it is a
        # RecursionError of thousands of lines.
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node: yaml.Node) -> Any:
        # Aliases share one node, so the graph is small while its expansion is exponential: count the
        # expanded size (memoised per node) before anything walks or prints the values.
        sizes: dict[int, int] = {}

        def size(item: yaml.Node) -> int:
            if id(item) not in sizes:
                sizes[id(item)] = 0  # a node that contains itself counts once
                children = (item.value if isinstance(item, yaml.SequenceNode) else
                            [part for pair in item.value for part in pair]
                            if isinstance(item, yaml.MappingNode) else [])
                sizes[id(item)] = min(1 + sum(size(child) for child in children), MAX_NODES + 1)
            return sizes[id(item)]

        if size(node) > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES:,} values once its aliases (*name) are expanded",
                           node.start_mark)
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                # A merge (<<: *base) brings keys that this mapping's own keys may override.
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise _Refused(f"key {_brief(key)} is given twice (keep one)", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.Node) -> Any:
        self._check_number(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node: yaml.Node) -> Any:
        self._check_number(node)
        return super().construct_yaml_float(node)

    def _check_number(self, node: yaml.Node) -> None:
        if len(node.value) > MAX_NUMBER_CHARS:
            raise _Refused(f"a number of {len(node.value):,} characters (at most {MAX_NUMBER_CHARS})",
                           node.start_mark)


class _Refused(yaml.MarkedYAMLError):
    """A recipe past one of the bounds above, at ``mark`` (reported like PyYAML's own errors)."""

    def __init__(self, problem: str, mark: Any):
        super().__init__(problem=problem, problem_mark=mark)


_YamlLoader.add_constructor("tag:yaml.org,2002:int", _YamlLoader.construct_yaml_int)
_YamlLoader.add_constructor("tag:yaml.org,2002:float", _YamlLoader.construct_yaml_float)
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
