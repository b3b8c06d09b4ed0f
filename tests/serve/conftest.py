"""Tiny trained runs of every registered task, shared by the server's tests (trained once a session).

Each is the task's tiny recipe trained for a few steps on the contract tests' toy data: enough for the
server's answers to be compared with the Predictor's, not to be good."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpseq.tasks import TASKS
from tests.helpers import ROOT
from tests.tasks.test_contract import RECIPES, task_data

pytest.importorskip("fastapi", reason='the serve extra is not installed (pip install "nlpseq[serve]")')


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Task name -> a trained run folder, for every task with a tiny recipe."""
    import nlpseq

    folder = tmp_path_factory.mktemp("serve_runs")
    trained = {}
    for name in sorted(TASKS):
        if name not in RECIPES:
            continue  # a task registered by a test (the fifth task) has no recipe here
        run = folder / name
        nlpseq.train(ROOT / "recipes" / RECIPES[name] / "tiny.yaml",
                     [*task_data(name, folder / f"{name}_data"), f"run_dir={run}",
                      f"data.cache_dir={folder / 'cache'}", "trainer.max_steps=10", "trainer.device=cpu"],
                     verbose=False)
        trained[name] = run
    return trained


@pytest.fixture(scope="session")
def predictors(runs: dict[str, Path]) -> dict:
    """Served name -> loaded Predictor: the names the tests call (sentiment, ner, translate, lm)."""
    import nlpseq

    names = {"classification": "sentiment", "tagging": "ner", "translation": "translate", "lm": "lm"}
    return {names[task]: nlpseq.load(run, device="cpu") for task, run in runs.items()}
