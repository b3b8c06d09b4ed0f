"""The task contract, checked for every registered task (HOUSE_STYLE 12): restore() reads the run folder
alone, writes nothing, and names a missing file in one error line.

Each task's run folder is made by ``prepare()`` on its tiny recipe (no training: the vocabularies are what
restore() reads), so the whole module runs in seconds.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from nlpseq.errors import NlpseqError
from nlpseq.tasks import TASKS, get_task, load_config
from tests.helpers import ROOT, sentiment_files, write_jsonl

RECIPES = {"classification": "sentiment", "tagging": "tagging", "lm": "lm", "translation": "translation"}
WORDS = ["the", "cat", "dog", "sat", "ran", "on", "mat", "rug", "a", "big", "small", "red"]


def task_data(name: str, folder: Path) -> list[str]:
    """Tiny train/valid/test files for task ``name`` and their ``data.*=`` overrides."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    if name == "classification":
        return sentiment_files(folder, 40, 10, 10)
    overrides = []
    for split, count in (("train", 120), ("valid", 10), ("test", 10)):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))) for _ in range(count)]
        if name == "lm":
            path = folder / f"{split}.txt"
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        elif name == "translation":
            path = folder / split
            french = "".join(line.upper() + "\n" for line in lines)
            path.with_suffix(".fr").write_text(french, encoding="utf-8")
            path.with_suffix(".en").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        else:  # tagging: "cat"/"dog" are animals, the rest O
            rows = [{"tokens": line.split(), "tags": ["B-ANI" if w in ("cat", "dog") else "O"
                                                      for w in line.split()]} for line in lines]
            path = write_jsonl(folder / f"{split}.jsonl", rows)
        overrides.append(f"data.{split}={path}")
    return overrides


@pytest.fixture(scope="module", params=sorted(TASKS))
def prepared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(config, run folder) of task ``request.param`` after prepare(): its vocabularies saved."""
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    run = folder / "run"
    run.mkdir()
    config = load_config(ROOT / "recipes" / RECIPES[name] / "tiny.yaml",
                         [*task_data(name, folder / "data"), f"run_dir={run}",
                          f"data.cache_dir={folder / 'cache'}"])
    get_task(name)(config, run).prepare()
    return config, run


def listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def test_restore_reads_the_run_folder_alone_and_builds_an_inference_model(prepared, tmp_path: Path) -> None:
    config, run = prepared
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = listing(copy)
    task = get_task(config.task)(config, copy)
    task.restore()
    model = task.build_model(training=False)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert listing(copy) == before


def test_restore_names_each_missing_file_and_writes_nothing(prepared, tmp_path: Path) -> None:
    config, run = prepared
    files = sorted(p.name for p in run.iterdir() if p.is_file())
    assert files  # the vocabularies restore() needs
    for missing in files:
        copy = tmp_path / missing
        shutil.copytree(run, copy)
        (copy / missing).unlink()
        before = listing(copy)
        with pytest.raises(NlpseqError) as caught:
            get_task(config.task)(config, copy).restore()
        message = str(caught.value)
        assert missing in message and "\n" not in message, message
        assert listing(copy) == before, f"restore() wrote into the run folder without {missing}"
