"""Recipes by name: ``sentiment/mr_bigru`` is ``recipes/sentiment/mr_bigru.yaml``, from any folder.

The recipes live in ``recipes/`` at the top of the checkout, where people read and edit them, and
ship inside the wheel as package data of ``nlpseq._recipes`` (pyproject.toml maps that package to
``recipes/``), so an installed nlpseq finds them wherever it runs. A recipe's name is its path under
that folder without ``.yaml``; a bare stem (``mr_bigru``) works too when only one folder has it.

Standard library and yaml only: ``nlpseq recipes`` must start without torch. The CLI imports this
module for every command, so yaml and importlib.resources are imported only where needed.
"""

from __future__ import annotations

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
        infos.append(RecipeInfo(
            name=name,
            path=path,
            task=str(values.get("task") or "(default)"),
            data=str(source),
            metric=str(trainer.get("metric") or "(task default)"),
        ))
    return infos


def _read(path: Path) -> dict[str, Any]:
    # The loader `nlpseq train` reads recipes with (plain yaml.safe_load reads 1e-3 as a string), with
    # its UTF-8 and YAML errors; imported here so the CLI starts without yaml.
    from nlpseq.config_files import read_yaml

    return read_yaml(path)


def _section(values: dict[str, Any], key: str) -> dict[str, Any]:
    section = values.get(key)
    return section if isinstance(section, dict) else {}
