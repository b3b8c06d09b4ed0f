"""Inference stays inside the run (issue 22, item 7): ``nlpseq evaluate`` from a read-only working
folder writes nothing outside the run folder (no ``./data/.cache``, nothing in the ``data.cache_dir``
its config.yaml names, no temporary folder left), scores what it scored before, and reads the saved
data paths only when they are regular files."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

from nlpseq.config import save_config
from nlpseq.config_paths import with_resolved_paths
from nlpseq.tasks import get_task, load_config
from nlpseq.training.checkpoint import save_checkpoint
from tests.helpers import ROOT, CliResult, run_cli, sentiment_files

RECIPE = ROOT / "recipes" / "sentiment" / "tiny.yaml"


def make_run(folder: Path, data: Path, cache: Path) -> Path:
    """An untrained sentiment/tiny run folder whose config.yaml names ``cache`` as its cache folder
    (a training machine's): all evaluate needs, without a training."""
    overrides = [*sentiment_files(data, 40, 10, 10), f"run_dir={folder}", f"data.cache_dir={cache}"]
    config = with_resolved_paths(load_config(RECIPE, overrides))
    task = get_task(config.task)(config, folder)
    task.prepare()
    save_config(config, folder / "config.yaml")
    weights = task.build_model(training=True).state_dict()
    save_checkpoint(folder / "checkpoints" / "best.pt", {"model": weights})
    return folder


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time: any write shows. The private
    temporary folder's own entry is left out (a temporary folder made and removed in it changes its
    time); what it holds is in, and must be gone afterwards."""
    return {str(path.relative_to(root)): (path.lstat().st_size, path.lstat().st_mtime_ns)
            for path in sorted(root.rglob("*")) if path != root / "tmp"}


def set_saved(run: Path, key: str, value: object) -> None:
    """Set ``data.KEY`` in a run folder's config.yaml, as a hand edit or another machine would."""
    config_file = run / "config.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["data"][key] = value
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@pytest.fixture(params=["named", "default"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> dict[str, Path]:
    """A run folder trained "elsewhere": its config.yaml names a cache folder that is not here yet
    (``named``) or none, so the default ``./data/.cache`` applies (``default``)."""
    cache = tmp_path / "training-cache"
    run = make_run(tmp_path / "run", tmp_path / "data", cache)
    shutil.rmtree(cache)
    if request.param == "default":
        set_saved(run, "cache_dir", None)
    work = tmp_path / "work"
    work.mkdir()
    private = tmp_path / "tmp"
    private.mkdir()
    # The default cache is ./data/.cache without $NLPSEQ_DATA; temporary folders go where we can look.
    monkeypatch.delenv("NLPSEQ_DATA", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    return {"root": tmp_path, "run": run, "work": work, "tmp": private,
            "test": tmp_path / "data" / "test.jsonl"}


def evaluate_read_only(where: dict[str, Path], *args: str) -> CliResult:
    """``nlpseq evaluate RUN ARGS`` from a read-only working folder, failing the test if it writes."""
    before = snapshot(where["root"])
    where["work"].chmod(stat.S_IRUSR | stat.S_IXUSR)  # root ignores it: the snapshot is the real check
    try:
        result = run_cli("evaluate", str(where["run"]), *args, cwd=where["work"])
    finally:
        where["work"].chmod(stat.S_IRWXU)
    assert snapshot(where["root"]) == before, "evaluate wrote outside the run"
    assert not any(where["tmp"].iterdir()), "evaluate left its temporary folder behind"
    return result


def test_evaluate_from_a_read_only_folder_writes_nothing_and_scores_the_saved_test_split(
        sandbox: dict[str, Path]) -> None:
    scored = evaluate_read_only(sandbox)
    reference = run_cli("evaluate", str(sandbox["run"]), "--data", str(sandbox["test"]), cwd=sandbox["work"])
    assert reference.returncode == 0, reference.stderr
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout) == json.loads(reference.stdout)


def test_a_file_the_user_passes_is_scored_and_still_nothing_is_written(sandbox: dict[str, Path]) -> None:
    scored = evaluate_read_only(sandbox, "--data", str(sandbox["test"]))
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["examples"] == 10


@pytest.mark.parametrize("kind", ["fifo", "folder", "device"])
def test_a_saved_test_path_that_is_no_regular_file_is_refused_at_once(sandbox: dict[str, Path],
                                                                      kind: str) -> None:
    target = Path("/dev/zero") if kind == "device" else sandbox["root"] / "hostile"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    set_saved(sandbox["run"], "test", str(target))
    box: dict[str, CliResult] = {}
    thread = threading.Thread(target=lambda: box.update(result=evaluate_read_only(sandbox)), daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "evaluate blocked on the saved test path"
    result = box["result"]
    assert result.returncode != 0
    assert f"{target}: data.test of the run's config.yaml is not a regular file" in result.stderr
    assert "Traceback" not in result.stderr
