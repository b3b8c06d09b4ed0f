"""Pinned numbers: the first training losses of each tiny recipe, on fixed fixture data, with its seed.

These catch an *unintended* numeric change anywhere on the training path (initialisation order,
seeding, tokenisation, batching order, loss normalisation, optimizer, gradient clipping). A change
that is meant to move these numbers re-pins them: run this file, read the new values from the
failure message, and say in the change why they moved.

The tolerance is ``rtol=1e-4``: on one machine these runs are bit-for-bit repeatable (CPU, one thread,
fixed seeds), but another CPU, BLAS build or torch release may sum in another order, which moves
float32 results by ~1e-7 relative per operation and up to ~1e-5 after a few Adam steps. Any real change
(another init, seed, batch order, lr, loss reduction) moves them by 1e-3 or more.

Only training losses are pinned; the end-of-training evaluation (beam search for translation) runs
but is not compared, so decoding changes do not move these numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import nlpseq
from tests.helpers import ROOT
from tests.tasks.test_contract import RECIPES, task_data

STEPS = 4

# Measured on CPU, one thread (torch 2.x, Python 3.11), with the fixtures of task_data.
PINNED = {
    "classification": [0.7191299200057983, 0.7169240713119507, 0.7126289010047913, 0.6340767741203308],
    "lm": [2.6312646865844727, 2.6221985816955566, 2.6187596321105957, 2.605458974838257],
    "tagging": [0.7862851619720459, 0.6319753473455255, 0.5289170265197753, 0.5607546170552572],
    "translation": [3.5084075927734375, 3.227921335320724, 2.7653724514708227, 2.5050816006130643],
}


@pytest.fixture()
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("task", sorted(PINNED))
def test_first_training_losses_of_each_tiny_recipe_are_pinned(task: str, tmp_path: Path, one_thread) -> None:
    run = tmp_path / "run"
    nlpseq.train(ROOT / "recipes" / RECIPES[task] / "tiny.yaml",
                 [*task_data(task, tmp_path / "data"), f"run_dir={run}",
                  f"data.cache_dir={tmp_path / 'cache'}", f"trainer.max_steps={STEPS}",
                  "trainer.log_every=1", "trainer.device=cpu", "trainer.precision=fp32"])
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    losses = [row["loss"] for row in rows if row.get("split") == "train"]
    assert [row["step"] for row in rows if row.get("split") == "train"] == list(range(1, STEPS + 1))
    assert losses == pytest.approx(PINNED[task], rel=1e-4), f"{task} losses moved: {losses}"
