"""The package's layering, checked on the source: lower layers never import higher ones, and no two
modules import each other, directly or in a circle.

    cli, api, serve               the front doors
    tasks                         one module per task family, the registry, the task contract
    training                      the one training loop, checkpoints, optimisers, plots
    data, models, metrics, ...    building blocks: they know no task and no training loop
    config, errors, fileio, distributed, segmentation, recipes   leaves
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "nlpseq"
HIGHER = {  # a module under the key may not import these
    "lower": ("nlpseq.training", "nlpseq.tasks", "nlpseq.cli", "nlpseq.api"),
    "training": ("nlpseq.tasks", "nlpseq.cli", "nlpseq.api"),
    "tasks": ("nlpseq.cli", "nlpseq.api"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str | None:
    if module.startswith(("nlpseq.cli", "nlpseq.api", "nlpseq.serve", "nlpseq.__main__",
                          "nlpseq.config_reference")) \
            or module == "nlpseq":
        return None  # the front doors (and the docs generator) may import anything
    if module.startswith("nlpseq.tasks"):
        return "tasks"
    if module.startswith("nlpseq.training"):
        return "training"
    return "lower"


def imports(module: str, top_level_only: bool) -> set[str]:
    """nlpseq modules that ``module`` imports (anywhere in it, or only at module level)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                # "from nlpseq import distributed" names a module; "from nlpseq.x import y" a name in x.
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return {name for name in found if name == "nlpseq" or name.startswith("nlpseq.")}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module: str) -> None:
    forbidden = HIGHER.get(layer(module) or "", ())
    wrong = sorted(name for name in imports(module, top_level_only=False) if name.startswith(forbidden))
    assert not wrong, f"{module} ({layer(module)} layer) imports {', '.join(wrong)}"


def test_there_is_no_import_circle() -> None:
    graph = {module: imports(module, top_level_only=True) & set(MODULES) for module in MODULES}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            circle = [*visiting[visiting.index(module):], module]
            raise AssertionError("import circle: " + " -> ".join(circle))
        visiting.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_the_checker_sees_imports() -> None:
    # A guard against a checker that passes because it finds nothing.
    assert "nlpseq.training.trainer" in imports("nlpseq.api", top_level_only=True)
    assert "nlpseq.distributed" in imports("nlpseq.data.batching", top_level_only=True)
    assert layer("nlpseq.models.encoder") == "lower" and layer("nlpseq.tasks.contract") == "tasks"
