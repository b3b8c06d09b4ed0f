"""The reference of every config key, built from the config dataclasses themselves.

Nothing here is written by hand: the keys, types and defaults come from the dataclasses, the allowed
ranges from the checks :mod:`nlpseq.ranges` attaches to fields, the choices from ``Literal`` types, and
each description from the field's ``help`` metadata or, usually, the ``# comment`` written directly
above the field (or at the end of its line) in the class source. A short first line of a comment block
(``# sentencepiece``) labels the fields from there to the next label.

``python -m nlpseq.config_reference > docs/configuration-reference.md`` writes the reference page; a
test checks that the page is up to date and that every key has a description.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from nlpseq.config import Config, TokenizerConfig


@dataclass
class Key:
    """One documented config key."""

    name: str  # dotted, e.g. "model.encoder.hidden_size"
    type: str
    default: str
    allowed: str
    description: str
    section: bool = False  # a nested dataclass (its keys follow)


# ---------------------------------------------------------------------------------------------------
# Reading the source: comments of each field


@dataclass
class _Doc:
    text: str = ""
    group: str = ""


def _defining_class(cls: type, name: str) -> type:
    """The class in ``cls``'s MRO whose body declares field ``name`` (a subclass may redeclare it)."""
    for klass in cls.__mro__:
        if name in inspect.get_annotations(klass):
            return klass
    return cls


def _is_label(line: str, next_line: str | None) -> bool:
    """A group label: the short first line of a longer comment block (``sentencepiece``, ``word / char``)."""
    return (next_line is not None and len(line.split()) <= 3 and not line.endswith((".", ":", ","))
            and bool(next_line) and next_line[0].isupper())


@cache
def _field_docs(cls: type) -> dict[str, _Doc]:
    """Field name -> comment text, for the fields declared in ``cls``'s own body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments: dict[int, str] = {}  # line -> text of a comment
    code_lines: set[int] = set()  # lines holding code
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                                tokenize.ENDMARKER):
            code_lines.update(range(token.start[0], token.end[0] + 1))
    body = ast.parse(source).body[0]
    docs: dict[str, _Doc] = {}
    group = ""
    for node in getattr(body, "body", []):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        block: list[str] = []
        line = node.lineno - 1
        while line in comments and line not in code_lines:
            block.insert(0, comments[line])
            line -= 1
        if block and _is_label(block[0], block[1] if len(block) > 1 else None):
            group = block.pop(0)
        elif len(block) == 1 and _is_label(block[0], "X") and not block[0][:1].isupper():
            # a label alone above a field: "# sentencepiece" followed directly by the field
            group, block = block[0], []
        trailing = [comments[n] for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)
                    if n in comments]
        docs[node.target.id] = _Doc(" ".join(block + trailing), group)
    return docs


def _rst_to_markdown(text: str) -> str:
    """Docstring/comment markup -> Markdown: ``x`` and :class:`x` become `x`."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _class_summary(cls: type) -> str:
    """The first sentence of a dataclass's docstring (describes a section-valued field)."""
    doc = inspect.getdoc(cls) or ""
    paragraph = " ".join(doc.split("\n\n")[0].split())
    return paragraph


# ---------------------------------------------------------------------------------------------------
# Types, defaults, ranges


def _dataclass_in(tp: Any) -> type | None:
    """The dataclass ``tp`` is, or the one in an Optional, else None."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        found = [t for t in typing.get_args(tp) if dataclasses.is_dataclass(t)]
        return found[0] if len(found) == 1 else None
    return None


def _type_text(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(t) for t in typing.get_args(tp))
    if origin is Literal:
        kinds = sorted({type(v).__name__ for v in typing.get_args(tp)})
        return " or ".join(kinds)
    if tp is type(None):
        return "None"
    if origin is list:
        return f"list of {_type_text(typing.get_args(tp)[0])}"
    if origin is dict:
        key, value = typing.get_args(tp)
        return f"mapping {_type_text(key)} to {_type_text(value)}"
    if tp is Any:
        return "any"
    if isinstance(tp, type):
        return "section" if dataclasses.is_dataclass(tp) else tp.__name__
    return str(tp).replace("typing.", "")


def _choices(tp: Any) -> list[Any]:
    if typing.get_origin(tp) is Literal:
        return list(typing.get_args(tp))
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [c for t in typing.get_args(tp) for c in _choices(t)]
    return []


def _value_text(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return f"`{value!r}`"


def _range_text(check: Any) -> str:
    """What a :mod:`nlpseq.ranges` check allows, read from its closure."""
    if check is None:
        return ""
    names = inspect.getclosurevars(check).nonlocals
    if "parts" in names:
        return " and ".join(names["parts"])
    if "what" in names:
        return str(names["what"])
    return ""


def _allowed(field: dataclasses.Field, tp: Any) -> str:
    choices = _choices(tp)
    parts = []
    if choices:
        parts.append(", ".join(_value_text(c) for c in choices))
    check = _range_text(field.metadata.get("check"))
    if check:
        parts.append(check)
    return "; ".join(parts)


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


# ---------------------------------------------------------------------------------------------------
# Walking the dataclasses


def section_keys(cls: type, prefix: str, starts: dict[str, Any] | None = None,
                 absent: Any = dataclasses.MISSING) -> list[Key]:
    """Every key of dataclass ``cls`` under ``prefix``, nested sections included (depth first).

    ``starts``: the values a section given in a recipe starts from (a parent's ``section_defaults``)
    on top of the class defaults; ``absent``: the section's value when the recipe does not write it
    (its parent's ``default_factory``), where that differs.
    """
    hints = typing.get_type_hints(cls)
    parent_starts = getattr(cls, "section_defaults", {})
    keys = []
    for field in dataclasses.fields(cls):
        name = f"{prefix}.{field.name}" if prefix else field.name
        tp = hints[field.name]
        doc = _field_docs(_defining_class(cls, field.name)).get(field.name, _Doc())
        description = field.metadata.get("help") or doc.text
        default = _field_default(field)
        nested = _dataclass_in(tp)
        if nested is not None:
            if doc.group and description:
                description = f"({doc.group}) {description}"
            description = description or _class_summary(nested)
            keys.append(Key(name, _type_text(tp), "" if default is not None else "`null`",
                            "", _rst_to_markdown(description), section=True))
            keys += section_keys(nested, name, parent_starts.get(field.name),
                                 default if default is not None else dataclasses.MISSING)
            continue
        if doc.group and description:
            description = f"({doc.group}) {description}"
        if starts and field.name in starts:
            default = starts[field.name]
        text = _value_text(default) if default is not dataclasses.MISSING else "required"
        if absent is not dataclasses.MISSING and dataclasses.is_dataclass(absent):
            without = getattr(absent, field.name)
            if without != default:
                text += f" ({_value_text(without)} when the recipe has no `{prefix}` section)"
        keys.append(Key(name, _type_text(tp), text, _allowed(field, tp), _rst_to_markdown(description)))
    return keys


def shared_keys() -> list[Key]:
    """The keys every recipe has: ``task``, ``run_dir``, ``tokenizer.*``, ``trainer.*`` (the task's
    ``data`` and ``model`` sections are in :func:`task_keys`)."""
    keys = []
    for key in section_keys(Config, ""):
        if key.name in ("data", "model"):
            continue
        keys.append(key)
    return keys


def task_keys(name: str) -> tuple[list[Key], list[Key]]:
    """The ``data.*`` and ``model.*`` keys of task ``name``."""
    from nlpseq.tasks import get_task

    task = get_task(name)
    return section_keys(task.data_config, "data"), section_keys(task.model_config, "model")


def _all_keys() -> list[Key]:
    from nlpseq.tasks import TASKS

    keys = shared_keys()
    for name in TASKS:
        data, model = task_keys(name)
        keys += data + model
    return keys


def missing_descriptions() -> list[str]:
    """The keys without a description, as ``Class.field (dotted.key)``, each once."""
    from nlpseq.tasks import TASKS, get_task

    sections = [("", Config)]
    for name in TASKS:
        task = get_task(name)
        sections += [("data", task.data_config), ("model", task.model_config)]
    missing: list[str] = []
    seen: set[str] = set()

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            if cls is Config and field.name in ("data", "model"):
                continue
            name = f"{prefix}.{field.name}" if prefix else field.name
            owner = _defining_class(cls, field.name)
            nested = _dataclass_in(hints[field.name])
            doc = _field_docs(owner).get(field.name, _Doc())
            if not (field.metadata.get("help") or doc.text or nested is not None):
                label = f"{owner.__module__}.{owner.__qualname__}.{field.name}"
                if label not in seen:
                    seen.add(label)
                    missing.append(f"{label} ({name})")
            if nested is not None:
                walk(nested, name)

    for prefix, cls in sections:
        walk(cls, prefix)
    return missing


# ---------------------------------------------------------------------------------------------------
# Markdown


def _cell(text: str) -> str:
    """``text`` safe in a Markdown table cell: pipes escaped, ``<`` outside code spans as ``&lt;``."""
    parts = re.split(r"(`[^`]*`)", text.replace("\n", " "))
    parts = [p if p.startswith("`") else p.replace("&", "&amp;").replace("<", "&lt;") for p in parts]
    return "".join(parts).replace("|", "\\|")


def _table(keys: list[Key]) -> list[str]:
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for key in keys:
        name = f"**`{key.name}`**" if key.section else f"`{key.name}`"
        lines.append("| " + " | ".join(_cell(c) for c in (name, key.type, key.default, key.allowed,
                                                           key.description)) + " |")
    return lines


def _options_table(options: Any) -> list[str]:
    lines = ["| flag (keyword) | type | default | allowed | commands | description |",
             "|---|---|---|---|---|---|"]
    for option in options:
        flag = "--" + option.name.replace("_", "-")
        kind = "switch" if option.type is bool else (option.metavar or option.type.__name__)
        default = _value_text(option.default) if option.default is not None else "not given"
        allowed = _range_text(option.check)
        if option.choices:
            allowed = ", ".join(_value_text(c) for c in option.choices)
        lines.append("| " + " | ".join(_cell(c) for c in (
            f"`{flag}` (`{option.name}`)", kind, default, allowed, ", ".join(option.commands),
            option.help)) + " |")
    return lines


def reference_markdown() -> str:
    """The whole reference page (docs/configuration-reference.md) as Markdown."""
    from nlpseq.tasks import TASKS, get_task
    from nlpseq.tasks.options import TASK_OPTIONS, GenerationOptions

    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m nlpseq.config_reference > docs/configuration-reference.md`; "
        "do not edit by hand. -->",
        "",
        "Every key a recipe can set, read from the config dataclasses: type, default, the allowed values "
        "(checked when the recipe loads) and what it does. A recipe sets a key in its YAML section or on "
        "the command line as `section.key=value` (see [Configuration](configuration.md)). `null` is "
        "YAML's None.",
        "",
        "## Shared keys",
        "",
        "Every recipe has these (`nlpseq/config.py`). `data` and `model` are typed by the recipe's "
        "`task`: their keys are in the task sections below.",
        "",
    ]
    lines += _table(shared_keys())
    for name in TASKS:
        data, model = task_keys(name)
        lines += ["", f"## Task `{name}`", "", f"### `data` ({name})", ""]
        lines += _table(data)
        lines += ["", f"### `model` ({name})", ""]
        lines += _table(model)
        tokenizer = get_task(name).tokenizer_config
        if tokenizer is not TokenizerConfig:  # a task with a tokenizer section of its own (translation)
            lines += ["", f"### `tokenizer` ({name}: in place of the shared `tokenizer.*` keys)", ""]
            lines += _table(section_keys(tokenizer, "tokenizer"))
    lines += ["", "## Inference options", "",
              "Not recipe keys: flags of `nlpseq predict`, `evaluate` and `generate`, and keywords of "
              "`Predictor.set_options` and `Predictor.generate` (`nlpseq/tasks/options.py`). A task's "
              "options are the flags of its runs only.", ""]
    for name, options in TASK_OPTIONS.items():
        lines += [f"### Task `{name}`", ""]
        lines += _options_table(options)
        lines.append("")
    lines += ["### Generation (`nlpseq generate`)", "",
              _rst_to_markdown(" ".join(inspect.getdoc(GenerationOptions).split("\n\n")[1].split())), ""]
    lines += _options_table(GenerationOptions.declarations())
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
