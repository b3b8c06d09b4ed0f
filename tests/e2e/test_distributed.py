"""Two CPU processes (gloo) under torchrun train the tiny recipe: rank 0 saves, metrics are global."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, sentiment_files


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
               "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "nlpseq", "train",
               "recipes/sentiment/tiny.yaml", *sentiment_files(tmp_path / "data"), f"run_dir={run}",
               "trainer.max_epochs=6", "trainer.device=cpu"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((run / "results.json").read_text())
    assert results["world_size"] == 2
    # Every test example scored exactly once although each rank saw half of them.
    assert results["test"]["examples"] == 40
    assert results["test"]["accuracy"] >= 0.8
    assert (run / "checkpoints/best.pt").is_file()
    assert not list(run.glob("checkpoints/*.tmp"))
    # Each rank takes every second batch of the same epoch plan: half the steps of one process
    # (rounded up per epoch, the shorter share padded with a repeated batch).
    import nlpseq
    from nlpseq.tasks import load_config

    single = nlpseq.train(load_config("recipes/sentiment/tiny.yaml", [
        *sentiment_files(tmp_path / "data"), f"run_dir={tmp_path / 'single'}", "trainer.max_epochs=6"]))
    assert single["steps"] / 2 <= results["steps"] <= single["steps"] / 2 + 6
