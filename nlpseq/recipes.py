"""Recipes by name: ``sentiment/mr_bigru`` is ``recipes/sentiment/mr_bigru.yaml``, from any folder.

The recipes live in ``recipes/`` at the top of the checkout, where people read and edit them, and
ship inside the wheel as package data of ``nlpseq._recipes`` (pyproject.toml maps that package to
``recipes/``), so an installed nlpseq finds them wherever it runs. A recipe's name is its path under
that folder without ``.yaml``; a bare stem (``mr_bigru``) works too when only one folder has it.

Standard library and yaml only: ``nlpseq recipes`` must start without torch. The CLI imports this
module for every command, so yaml and importlib.resources are imported only where needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlpseq.errors import ConfigError

DEFAULT_RECIPE = "sentiment/mr_bigru"
"""What a bare ``nlpseq train`` runs."""

_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RecipeInfo:
    """One line of ``nlpseq recipes``, read from the YAML as written (not validated)."""

    name: str  # "sentiment/mr_bigru"
    path: Path
    task: str
    data: str  # data.corpus, else data.hub, else data.train
    metric: str  # trainer.metric, else "(task default)"
    # From the header comment (see :func:`recipe_header`); "-" where the recipe states none.
    description: str = "-"
    expected: str = "-"  # "test accuracy 77.7", from the header's "Measured:" line
    time: str = "-"  # "< 30 min", "seconds"


def recipe_root() -> Path:
    """The folder recipes are found in.

    In a checkout (editable install, or running from the source tree) that is ``recipes/`` beside
    the package, so edits take effect at once; installed from a wheel it is the package data
    ``nlpseq/_recipes``. A checkout is recognised by its ``pyproject.toml`` as well, so that an
    unrelated ``recipes/`` folder next to site-packages is never mistaken for ours.
    """
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "recipes").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / "recipes"
    import importlib.resources

    installed = importlib.resources.files("nlpseq").joinpath("_recipes")
    # Wheels install as plain files, so this is a real folder (never inside a zip).
    return Path(str(installed))


def _index(root: Path) -> dict[str, Path]:
    """Every recipe under ``root``: name (``task_folder/stem``, ``/``-separated) -> file."""
    if not root.is_dir():
        return {}
    recipes = {}
    for path in sorted(root.rglob("*")):
        if path.suffix in _SUFFIXES and path.is_file():
            recipes[path.relative_to(root).with_suffix("").as_posix()] = path
    return recipes


def find_recipe(name_or_path: str) -> Path:
    """The recipe file for a path or a name.

    In order: an existing file (``my.yaml``, ``recipes/sentiment/tiny.yaml``); a name under
    :func:`recipe_root` with or without ``.yaml`` (``sentiment/mr_bigru``), where a leading
    ``recipes/`` is dropped so the commands in the README work from any folder; a bare stem that
    only one task folder has (``mr_bigru``).

    Raises:
        ConfigError: one line naming the unknown (or ambiguous) name and the valid names.
    """
    given = Path(name_or_path).expanduser()
    if given.is_file():
        return given
    recipes = _index(recipe_root())
    name = name_or_path.replace("\\", "/").strip("/")
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    for candidate in (name, name.removeprefix("recipes/")):
        if candidate in recipes:
            return recipes[candidate]
    matches = sorted(key for key in recipes if key.rsplit("/", 1)[-1] == name)
    if len(matches) == 1:
        return recipes[matches[0]]
    if matches:
        raise ConfigError(f"recipe {name_or_path!r} is ambiguous: it could be {', '.join(matches)}")
    valid = ", ".join(recipes) or f"none (no recipes in {recipe_root()})"
    raise ConfigError(f"unknown recipe {name_or_path!r}: not a file and not a recipe name; "
                      f"valid names: {valid}")


def list_recipes(root: Path | None = None) -> list[RecipeInfo]:
    """Every recipe under ``root`` (default :func:`recipe_root`), sorted by name.

    Raises:
        ConfigError: a recipe file is not UTF-8, not valid YAML or not a mapping (names the file).
    """
    infos = []
    for name, path in _index(recipe_root() if root is None else root).items():
        values = _read(path)
        data = _section(values, "data")
        trainer = _section(values, "trainer")
        source = data.get("corpus") or data.get("hub") or data.get("train") or "(none)"
        header = recipe_header(path)
        infos.append(RecipeInfo(
            name=name,
            path=path,
            task=str(values.get("task") or "(default)"),
            data=str(source),
            metric=str(trainer.get("metric") or "(task default)"),
            description=header.description,
            expected=header.expected,
            time=header.time,
        ))
    return infos


@dataclass(frozen=True)
class RecipeHeader:
    """What a recipe's opening comment says about it; "-" for what it does not say."""

    description: str = "-"
    expected: str = "-"
    time: str = "-"


# A sentence ends at ". " before a capital letter or a "(", not inside "et al. 2017" or "e.g. x".
_SENTENCE_END = re.compile(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)\.(?=\s+[A-Z(]|\s*$)")
# "under 30 minutes", "under 2 hours": the time a recipe promises; "seconds-long" recipes say so.
_TIME = re.compile(r"\bunder (\d+) (minute|hour)s?\b|\b(seconds)-long\b")


def recipe_header(path: Path) -> RecipeHeader:
    """Read a recipe's header comment, the ``#`` lines before its first key, which by house style says
    what the recipe is (first paragraph), the command that runs it, and a ``Measured:`` (or
    ``Expected:``) line with the test metric and hardware::

        # MR movie-review sentiment (...), a word-level BiGRU with attention pooling. CPU sized.
        #
        #   nlpseq train recipes/sentiment/mr_bigru.yaml
        #
        # Measured: test accuracy 77.7 (seed 13), 1 thread on shared CPU cores; docs/results.md.

    gives description "MR movie-review sentiment (...), a word-level BiGRU with attention pooling.",
    expected "test accuracy 77.7". An unreadable file gives an empty header (listing never fails on it:
    :func:`list_recipes` reports the file itself)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return RecipeHeader()
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    paragraphs = " ".join(line or "\n" for line in lines).split("\n")
    paragraphs = [" ".join(p.split()) for p in paragraphs if p.strip()]
    description = "-"
    if paragraphs and not paragraphs[0].startswith(("nlpseq ", "Measured:", "Expected:")):
        first = paragraphs[0]
        end = _SENTENCE_END.search(first)
        description = first[: end.end()] if end else first
        if description.endswith(":"):  # "... on any JSONL files of {...}:" introduces the command
            description = description[:-1] + "."
    expected = "-"
    for paragraph in paragraphs:
        if paragraph.startswith("Measured:"):
            # "test accuracy 77.7 (seed 13), 2 CPU cores; ..." -> "test accuracy 77.7"
            expected = re.split(r"[,;(]", paragraph.removeprefix("Measured:"), maxsplit=1)[0].strip() or "-"
            break
    found = _TIME.search(" ".join(paragraphs))
    time = "-"
    if found and found.group(3):
        time = "seconds"
    elif found:
        time = f"< {found.group(1)} {'min' if found.group(2) == 'minute' else 'h'}"
    return RecipeHeader(description, expected, time)


def _read(path: Path) -> dict[str, Any]:
    # The loader `nlpseq train` reads recipes with (plain yaml.safe_load reads 1e-3 as a string), with
    # its UTF-8 and YAML errors; imported here so the CLI starts without yaml.
    from nlpseq.config_files import read_yaml

    return read_yaml(path)


def _section(values: dict[str, Any], key: str) -> dict[str, Any]:
    section = values.get(key)
    return section if isinstance(section, dict) else {}
