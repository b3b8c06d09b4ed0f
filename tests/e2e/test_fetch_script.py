"""``data_scripts/fetch.py`` is a thin shim over ``nlpseq data``: it forwards its arguments and gives the
command line's output, errors and exit status (no corpus code of its own)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli

SCRIPT = ROOT / "data_scripts" / "fetch.py"


def _script():
    spec = importlib.util.spec_from_file_location("data_scripts_fetch", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NLPSEQ_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.mark.parametrize(("args", "forwarded"), [
    (["--list"], ["data", "list"]),
    (["list"], ["data", "list"]),
    (["mr", "conll2003", "--force"], ["data", "fetch", "mr", "conll2003", "--force"]),
    (["fetch", "mr"], ["data", "fetch", "mr"]),
    (["lohelp-fr-en", "--from", "debs"], ["data", "fetch", "lohelp-fr-en", "--from", "debs"]),
    ([], ["data", "fetch"]),
])
def test_the_script_forwards_its_arguments_to_nlpseq_data(args, forwarded, monkeypatch) -> None:
    module = _script()
    seen = []
    monkeypatch.setattr(module.cli, "main", lambda argv: seen.append(argv) or 0)
    assert module.main(args) == 0
    assert seen == [forwarded]


def _call(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = _script().main(args)
        finally:
            logging.getLogger().handlers.clear()
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("args", [["nosuch"], []])
def test_the_script_gives_the_command_lines_errors(args, no_data: Path) -> None:
    code, out, err = _call(args)
    expected = run_cli("data", "fetch", *args)
    assert (code, out) == (expected.returncode, expected.stdout) == (2, "")
    assert err.strip().splitlines()[-1] == expected.stderr.strip().splitlines()[-1]
    assert err.strip().startswith("nlpseq: error: ")
    assert not no_data.exists()  # nothing fetched, nothing written


def test_the_script_lists_what_nlpseq_data_list_lists(no_data: Path) -> None:
    code, out, _ = _call(["--list"])
    assert code == 0 and out == run_cli("data", "list").stdout
    assert "mr" in {line.split()[0] for line in out.splitlines()}


def test_the_script_runs_from_another_folder_as_a_plain_script(tmp_path: Path, no_data: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "nosuch"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "nlpseq: error: unknown corpus 'nosuch'" in done.stderr
