"""The wheel: what it holds, and that nlpseq installed from it works from any folder.

Slow (about a minute): builds the wheel from a clean copy of the checkout, installs it into a fresh
virtual environment that borrows torch and friends from the environment pytest runs in (``--no-deps``;
see :func:`_borrow_packages`), and runs the installed ``nlpseq`` from an empty folder: ``recipes``,
``data list`` and a seconds-long training of the tiny sentiment recipe named by name.

This machine may also have the checkout installed editable; the venv's own install must win, and
``test_the_venv_runs_the_wheel_not_the_checkout`` checks that it does.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from nlpseq import __version__
from tests.helpers import ROOT, sentiment_files

pytestmark = pytest.mark.slow

# Left out of the copy the wheel is built from: local data, outputs and caches (at the top only,
# since nlpseq/data is a package), and build leftovers anywhere.
TOP_LEVEL_SKIP = {".git", "data", "runs", "build", "dist", ".whl", ".pytest_cache", ".ruff_cache", ".venv"}
BIN = "Scripts" if os.name == "nt" else "bin"


def _skip(folder: str, names: list[str]) -> set[str]:
    skipped = {name for name in names if name == "__pycache__" or name.endswith(".egg-info")}
    if Path(folder).resolve() == ROOT:
        skipped |= TOP_LEVEL_SKIP & set(names)
    return skipped


def _env() -> dict[str, str]:
    """This environment without PYTHONPATH (it would put the checkout first) and offline."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NLPSEQ_DATA")}
    env.update(OMP_NUM_THREADS="1", HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    return env


def _run(args: list[str | Path], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _local_setuptools() -> bool:
    """Whether this Python can build without downloading setuptools (pyproject asks for >= 61).

    A setuptools before 70.1 builds wheels only with the ``wheel`` package beside it: a fresh venv's
    bundled setuptools (65.5 on Python 3.11) has none, and without it ``bdist_wheel`` is unknown.
    """
    if importlib.util.find_spec("setuptools") is None:
        return False
    parts = [int(p) if p.isdigit() else 0 for p in importlib.metadata.version("setuptools").split(".")[:2]]
    version = [*parts, 0, 0][:2]
    if version < [61, 0]:
        return False
    return version >= [70, 1] or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    # A clean copy: setuptools never cleans build/, so a file deleted from the checkout could
    # otherwise still ship; and building here leaves the checkout untouched.
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_skip)
    isolation = ["--no-build-isolation"] if _local_setuptools() else []
    done = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
                 "--disable-pip-version-check", "-w", tmp / "dist", source], cwd=tmp)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = (tmp / "dist").glob("nlpseq-*.whl")
    return built


def _running_site_packages() -> list[str]:
    """The site-packages of the environment this test runs in (a venv's own, not its base's)."""
    paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    return list(dict.fromkeys(str(Path(p).resolve()) for p in paths if Path(p).is_dir()))


def _borrow_packages(venv: Path) -> None:
    """Let ``venv`` import what the running environment has (torch, datasets, pip ...).

    ``--system-site-packages`` alone reaches the *base interpreter's* site-packages: when pytest itself
    runs inside a venv (as in CI), the packages installed there are not seen (``No module named
    'datasets'``). A ``.pth`` file in the new venv naming the running environment's site-packages adds
    them to its path, after the venv's own site-packages, so the wheel installed there still wins. Plain
    path lines: the ``.pth`` files inside those folders (an editable nlpseq's finder) are not run.
    """
    done = _run([venv / BIN / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=venv.parent)
    assert done.returncode == 0, done.stderr
    own = Path(done.stdout.strip())
    own.mkdir(parents=True, exist_ok=True)
    (own / "_nlpseq_test_borrowed.pth").write_text(
        "".join(path + "\n" for path in _running_site_packages()), encoding="utf-8")


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; the rest (torch, datasets ...) comes from the environment
    pytest runs in (:func:`_borrow_packages`) and the base interpreter (``--system-site-packages``)."""
    folder = tmp_path_factory.mktemp("venv") / "venv"
    # No pip of its own: with the running environment's packages visible, its pip runs under the
    # venv's Python and installs into the venv.
    done = _run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", folder],
                cwd=folder.parent)
    assert done.returncode == 0, done.stderr
    _borrow_packages(folder)
    # --ignore-installed: the same version may be installed (editable) outside the venv; install
    # ours beside it rather than trying to uninstall that one.
    done = _run([folder / BIN / "python", "-m", "pip", "install", "--no-deps", "--ignore-installed",
                 "--disable-pip-version-check", wheel], cwd=folder.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_the_wheel_holds_the_package_the_corpora_and_the_recipes(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"nlpseq", f"nlpseq-{__version__}.dist-info"}  # nothing generic beside it
    assert not any(name.startswith("data_scripts/") for name in names)
    corpora = {f"nlpseq/corpora/{path.name}" for path in (ROOT / "nlpseq" / "corpora").glob("*.py")}
    assert {"nlpseq/corpora/__init__.py", "nlpseq/corpora/mr.py"} <= corpora <= names
    recipes = {f"nlpseq/_recipes/{path.relative_to(ROOT / 'recipes').as_posix()}"
               for path in (ROOT / "recipes").rglob("*") if path.suffix in (".yaml", ".md")}
    assert {"nlpseq/_recipes/sentiment/tiny.yaml", "nlpseq/_recipes/tagging/tiny.yaml"} <= recipes <= names


def test_the_venv_runs_the_wheel_not_the_checkout(venv: Path, empty: Path) -> None:
    script = ("import sys, nlpseq, nlpseq.recipes\n"
              "print(nlpseq.__file__)\n"
              "print(nlpseq.recipes.recipe_root())\n"
              "print(any('Editable' in repr(finder) for finder in sys.meta_path), file=sys.stderr)\n")
    done = _run([venv / BIN / "python", "-c", script], cwd=empty)
    assert done.returncode == 0, done.stderr
    package, recipes = (Path(line) for line in done.stdout.splitlines())
    assert package.resolve().is_relative_to(venv.resolve())
    assert recipes.resolve() == package.resolve().parent / "_recipes"
    # Shows whether the checkout's editable finder was there to lose (informative, not required).
    print("editable finder present beside the venv install:", done.stderr.strip())


def test_the_venv_borrows_the_packages_of_the_environment_pytest_runs_in(venv: Path, empty: Path) -> None:
    script = "import sys, datasets, torch; print('\\n'.join(sys.path))"
    done = _run([venv / BIN / "python", "-c", script], cwd=empty)
    assert done.returncode == 0, done.stderr
    seen = {str(Path(p).resolve()) for p in done.stdout.splitlines() if p}
    assert set(_running_site_packages()) <= seen


def test_installed_nlpseq_lists_recipes_and_corpora_from_an_empty_folder(venv: Path, empty: Path) -> None:
    nlpseq = venv / BIN / "nlpseq"
    done = _run([nlpseq, "--version"], cwd=empty)
    assert done.returncode == 0 and done.stdout.strip() == "nlpseq 0.1.0"

    done = _run([nlpseq, "recipes"], cwd=empty)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1:4] for line in done.stdout.splitlines()[1:]}  # [0]: header
    assert rows["sentiment/mr_bigru"] == ["classification", "mr", "accuracy"]
    assert {"sentiment/tiny", "tagging/tiny", "tagging/conll2003_ner_bilstm_crf"} <= set(rows)

    done = _run([nlpseq, "data", "list"], cwd=empty)
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == sorted(names) and {"brown", "conll2003", "mr", "ptb", "lohelp-fr-en"} <= set(names)
    assert "not fetched" in done.stdout
    assert list(empty.iterdir()) == []  # listing writes nothing


def test_installed_nlpseq_finds_the_default_recipe_in_the_package(venv: Path, empty: Path) -> None:
    # The first argument is an override, so this is the default recipe; the typo stops it at load
    # time, before any data is fetched, and the message names the recipe file it found.
    done = _run([venv / BIN / "nlpseq", "train", "trainer.learning_rate=0.1"], cwd=empty)
    assert done.returncode == 2
    assert "unknown key 'trainer.learning_rate'" in done.stderr
    found = done.stderr.split("nlpseq: error: ", 1)[1].split(": ", 1)[0]
    assert Path(found).resolve().is_relative_to(venv.resolve())
    assert Path(found).name == "mr_bigru.yaml"


def test_installed_nlpseq_trains_the_tiny_recipe_by_name(venv: Path, empty: Path, tmp_path: Path) -> None:
    data = sentiment_files(tmp_path / "data")
    done = _run([venv / BIN / "nlpseq", "train", "sentiment/tiny", *data, "run_dir=run",
                 "trainer.max_epochs=6"], cwd=empty, timeout=600)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["test"]["accuracy"] >= 0.8
    assert (empty / "run" / "results.json").is_file() and (empty / "run" / "config.yaml").is_file()
