"""``nlpseq recipes [show NAME | cp NAME FILE]``: list the built-in recipes, show one with every key
documented, copy one to edit (torchtune's ``tune ls`` / ``tune cat`` / ``tune cp``).

Listing is standard library and yaml only (``nlpseq recipes`` starts without torch); ``show`` reads the
task's config classes, so it imports the task.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from nlpseq.errors import NlpseqError
from nlpseq.recipes import find_recipe, list_recipes, recipe_root

COLUMNS = ("NAME", "TASK", "DATA", "METRIC", "EXPECTED", "TIME", "PATH", "DESCRIPTION")


def _shown_path(path: Path) -> str:
    """The path as a user can type it here: relative to the current folder when under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _name(path: Path) -> str:
    """A recipe's name (``sentiment/tiny``) for a file under the recipe folder, else the path given."""
    try:
        return path.resolve().relative_to(recipe_root().resolve()).with_suffix("").as_posix()
    except ValueError:
        return str(path)


def list_table() -> list[str]:
    """The lines of ``nlpseq recipes``: a header row, then one aligned row per recipe. The description
    comes last, as it is the one column of free length."""
    rows = [COLUMNS] + [(r.name, r.task, r.data, r.metric, r.expected, r.time, _shown_path(r.path),
                         r.description) for r in list_recipes()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return ["  ".join(f"{cell:{width}}" for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
            for row in rows]


def show(name: str) -> str:
    """``nlpseq recipes show NAME``: the recipe's YAML with every key documented."""
    from nlpseq.recipe_view import show_recipe
    from nlpseq.tasks import get_task, load_config

    path = find_recipe(name)
    config = load_config(path)  # an invalid recipe stops here, with the error train would give
    return show_recipe(path, _name(path), get_task(config.task), config)


def copy(name: str, destination: str, force: bool = False) -> Path:
    """``nlpseq recipes cp NAME FILE``: the recipe file copied as it is (comments and all); an existing
    file is kept unless ``force``. A folder as ``destination`` gets the recipe's own file name."""
    source = find_recipe(name)
    target = Path(destination).expanduser()
    if target.is_dir():
        target = target / source.name
    if target.exists() and target.resolve() == source.resolve():
        raise NlpseqError(f"{target}: is the recipe itself")
    if target.exists() and not force:
        raise NlpseqError(f"{target}: already exists; pass --force to overwrite it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    except OSError as error:
        raise NlpseqError(f"{target}: cannot write ({error.strerror or error})") from None
    return target


def cmd_recipes(args: argparse.Namespace) -> int:
    if args.action == "show":
        print(show(args.name), end="")
    elif args.action == "cp":
        target = copy(args.name, args.destination, args.force)
        print(f"wrote {target} (a copy of {_shown_path(find_recipe(args.name))}); train it with: "
              f"nlpseq train {target}")
    else:
        print("\n".join(list_table()))
    return 0


def add_recipes(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipes", help="list the built-in recipes; show one with every key; copy one",
                       description="With no action: the built-in recipes, one a line (name, task, data, "
                       "metric, expected result and time from the recipe's header, path, description).")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    shown = actions.add_parser("show", help="the recipe's YAML with every key's description, type, "
                               "allowed values and default (the recipe's value where it sets one)")
    shown.add_argument("name", metavar="NAME", help="a recipe name (sentiment/tiny) or a YAML path")
    copied = actions.add_parser("cp", help="copy a recipe's file to FILE, to edit and train")
    copied.add_argument("name", metavar="NAME", help="a recipe name (sentiment/tiny) or a YAML path")
    copied.add_argument("destination", metavar="FILE", help="where to write (a folder: keep the name)")
    copied.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=cmd_recipes, action=None)
