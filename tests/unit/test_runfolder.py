"""Run-folder integrity: a changed config, a second process, SIGTERM, non-finite numbers, file modes,
files left by a kill. Each test is a fault a careless or unlucky user meets."""

from __future__ import annotations

import json
import math
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import nlpseq
from nlpseq.errors import RunError, TrainingDiverged
from nlpseq.fileio import json_line, write_json
from nlpseq.runfolder import RunLock
from nlpseq.tasks import load_config
from tests.helpers import ROOT, ListBatches, run_cli, sentiment_files

TINY = "recipes/sentiment/tiny.yaml"


def overrides(tmp_path: Path, run: str = "run", *extra: str) -> list[str]:
    return [*sentiment_files(tmp_path / "data"), f"run_dir={tmp_path / run}", "trainer.max_epochs=2", *extra]


@pytest.fixture
def finished(tmp_path: Path) -> Path:
    nlpseq.train(load_config(TINY, overrides(tmp_path)))
    return tmp_path / "run"


# ------------------------------------------------------------------------------- a changed config
@pytest.mark.parametrize("change", ["model.encoder.hidden_size=32", "trainer.lr=0.5", "tokenizer.kind=char"])
def test_a_changed_config_is_refused_before_anything_is_written(tmp_path: Path, finished: Path,
                                                                change: str) -> None:
    before = {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()}
    done = run_cli("train", TINY, *overrides(tmp_path, "run", change), cwd=ROOT)
    assert done.returncode == 2
    key, value = change.split("=")
    line = done.stderr.strip()
    assert line.startswith(f"nlpseq: error: {finished} was trained with another config ({key}: ")
    assert f" -> {value}" in line or f" -> '{value}'" in line
    assert "run_dir=" in line and "--allow-changes" in line and len(line.splitlines()) == 1
    after = {p: p.read_bytes() for p in finished.rglob("*") if p.is_file()}
    assert after == before  # nothing written, not even a log line
    assert "accuracy" in nlpseq.load(finished).evaluate()


def test_safe_changes_resume_when_allowed_and_are_recorded(tmp_path: Path, finished: Path) -> None:
    more = overrides(tmp_path, "run", "trainer.max_epochs=3")
    with pytest.raises(RunError, match=r"trainer.max_epochs: 2 -> 3"):
        nlpseq.train(load_config(TINY, more))
    results = nlpseq.train(load_config(TINY, more), allow_changes=True)
    assert results["steps"] > 0
    recorded = [json.loads(line) for line in (finished / "resume_changes.jsonl").read_text().splitlines()]
    assert recorded[0]["changes"] == {"trainer.max_epochs": [2, 3]}
    assert "max_epochs: 3" in (finished / "config.yaml").read_text()


def test_allowing_changes_never_allows_an_unsafe_one(tmp_path: Path, finished: Path) -> None:
    done = run_cli("train", TINY, *overrides(tmp_path, "run", "trainer.max_epochs=3", "trainer.lr=0.5"),
                   "--allow-changes", cwd=ROOT)
    assert done.returncode == 2
    assert "these cannot change on resume: trainer.lr" in done.stderr


# ------------------------------------------------------------------------------- one process per run
def test_a_second_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom nlpseq.runfolder import RunLock\n"
         f"with RunLock({str(run)!r}):\n    print('held', flush=True)\n    time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunError) as error, RunLock(run):
            pass
        assert str(error.value).startswith(f"{run} is in use by process {holder.pid} on ")
        done = run_cli("train", TINY, *overrides(tmp_path), cwd=ROOT)
        assert done.returncode == 2 and f"is in use by process {holder.pid}" in done.stderr
    finally:
        holder.kill()
        holder.wait()
    with RunLock(run):  # the holder died: its lock died with it
        pass


def test_a_dead_holders_lock_is_taken_over_with_a_log_line(tmp_path: Path, caplog) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_json(run / ".lock.owner", {"pid": 999999, "host": "gone", "since": "2026-01-01T00:00:00"})
    with caplog.at_level("WARNING"), RunLock(run):
        assert json.loads((run / ".lock.owner").read_text())["pid"] == os.getpid()
    assert "taking over the lock of process 999999 on gone" in caplog.text
    assert not (run / ".lock.owner").exists()


# ------------------------------------------------------------------------------- SIGTERM
@pytest.mark.slow
def test_sigterm_saves_and_the_same_command_resumes_to_the_same_end(tmp_path: Path) -> None:
    args = overrides(tmp_path, "killed", "trainer.max_epochs=30", "trainer.eval_every=20",
                     "trainer.log_every=5")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "nlpseq", "train", TINY, *args], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (metrics.is_file() and '"valid"' in metrics.read_text()):
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "terminated (SIGTERM); run the same command again to resume" in stderr
    stopped_at = torch.load(tmp_path / "killed/checkpoints/last.pt", weights_only=True)["state"]["step"]
    assert 0 < stopped_at < 30 * 20  # it really stopped mid-run
    resumed = run_cli("train", TINY, *args, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr
    whole = nlpseq.train(load_config(TINY, overrides(tmp_path, "whole", *args[len(args) - 3:])))
    resumed_results = json.loads((tmp_path / "killed" / "results.json").read_text(encoding="utf-8"))
    numbers = {k: v for k, v in whole["test"].items() if isinstance(v, int | float)}
    assert {k: v for k, v in resumed_results["test"].items() if k in numbers} == numbers


# ------------------------------------------------------------------------------- non-finite numbers
class SometimesNaN(torch.nn.Module):
    """A one-weight regressor whose loss is NaN on the batches marked ``poison``."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, batch: dict[str, torch.Tensor]):
        loss = ((self.weight * batch["x"] - 2.0) ** 2).sum()
        if bool(batch["poison"]):
            loss = loss * float("nan")
        return SimpleNamespace(loss=loss, num_targets=torch.tensor(batch["x"].numel()))


def fit(tmp_path: Path, poison: list[bool], **config: object):
    from nlpseq.config import TrainerConfig
    from nlpseq.training.trainer import Trainer

    model = SometimesNaN()
    settings = {"lr": 0.1, "max_epochs": 1, "metric": "score", "metric_mode": "max", "log_every": 1,
                "progress": False, **config}
    batches = ListBatches([{"x": torch.ones(2), "poison": torch.tensor(p), "num_tokens": torch.tensor(2)}
                           for p in poison])
    trainer = Trainer(model, TrainerConfig(**settings), tmp_path, batches, lambda m: {"score": 0.0})
    return model, trainer


def test_a_non_finite_step_is_skipped_and_counted(tmp_path: Path) -> None:
    model, trainer = fit(tmp_path, [False, True, False])
    state = trainer.fit()
    assert (state.step, state.skipped_steps, state.bad_steps) == (2, 1, 0)
    assert torch.isfinite(model.weight).all()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(row["loss"]) for row in rows if row["split"] == "train")
    saved = torch.load(tmp_path / "checkpoints/last.pt", weights_only=True)
    assert torch.isfinite(saved["model"]["weight"]).all()


def test_too_many_bad_steps_in_a_row_stop_training_without_saving_them(tmp_path: Path) -> None:
    _, trainer = fit(tmp_path, [False, True, True, True], max_bad_steps=3)
    with pytest.raises(TrainingDiverged, match=r"3 optimizer steps in a row had a non-finite loss"):
        trainer.fit()
    assert not (tmp_path / "checkpoints/last.pt").exists()


def test_nan_in_the_inputs_ends_with_one_line_and_no_nan_checkpoint(tmp_path: Path) -> None:
    # A damaged vectors file: every word of the task has a NaN vector, so every loss is NaN.
    vectors = tmp_path / "vectors.txt"
    words = ["good", "great", "fine", "bad", "awful", "dull", "the", "film", "movie", "was"]
    vectors.write_text("".join(f"{w} " + " ".join(["nan"] * 16) + "\n" for w in words), encoding="utf-8")
    done = run_cli("train", TINY, *overrides(tmp_path, "run", f"model.embedding.pretrained={vectors}",
                                             "trainer.max_bad_steps=3"), cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "nlpseq: error: training stopped at step 0: 3 optimizer steps in a row had a non-finite loss")
    assert not (tmp_path / "run/checkpoints/last.pt").exists()
    assert not (tmp_path / "run/checkpoints/best.pt").exists()


def test_json_outputs_are_strict() -> None:
    line = json_line({"loss": float("nan"), "rows": [float("inf"), 1.5]})
    assert line == '{"loss": null, "rows": [null, 1.5]}'


# ------------------------------------------------------------------------------- files
def test_run_files_follow_the_umask_and_kill_leftovers_are_cleared(tmp_path: Path) -> None:
    orphan = tmp_path / "run/checkpoints/.last.pt.abc123.tmp"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half a checkpoint")
    previous = os.umask(0o022)
    try:
        nlpseq.train(load_config(TINY, overrides(tmp_path)))
    finally:
        os.umask(previous)
    assert not orphan.exists()
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file() and path.name not in (".lock",):
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


# ------------------------------------------------------------------------------- inference reads only
def snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_evaluate_and_predict_write_nothing_and_need_only_the_run_and_the_scored_file(
        tmp_path: Path, finished: Path) -> None:
    (tmp_path / "data/train.jsonl").unlink()  # the training file is gone; the test file is what we score
    before = snapshot(finished)
    done = run_cli("evaluate", str(finished), "--split", "test", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["examples"] == 40
    done = run_cli("predict", str(finished), stdin="superb fun\n", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("pos\t")
    assert snapshot(finished) == before


@pytest.mark.parametrize(("name", "damage", "expected"), [
    ("tokenizer.json", None,
     "tokenizer.json: tokenizer file missing from the run folder (was it copied whole?)"),
    ("labels.json", None, "labels.json: missing from the run folder (was it copied whole?)"),
    ("labels.json", b"{not json", "labels.json: damaged label file (JSONDecodeError)"),
    ("tokenizer.json", b'{"kind": "sentencepiece", "lowercase": false, "model": "../../../etc/passwd"}',
     "tokenizer.json: its model file '../../../etc/passwd' lies outside the run folder"),
])
def test_a_missing_or_damaged_run_file_is_one_line_naming_it(tmp_path: Path, finished: Path, name: str,
                                                             damage: bytes | None, expected: str) -> None:
    target = finished / name
    if damage is None:
        target.unlink()
    else:
        target.write_bytes(damage)
    before = snapshot(finished)
    for command in (["evaluate", str(finished)], ["predict", str(finished)]):
        done = run_cli(*command, stdin="superb fun\n", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == f"nlpseq: error: {finished}/{expected}"
    assert snapshot(finished) == before  # nothing rebuilt in its place


def test_an_unwritable_run_folder_or_cache_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run_cli("train", TINY, *overrides(tmp_path), f"run_dir={blocker / 'run'}", cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (f"nlpseq: error: {blocker / 'run'}: cannot use this run "
                                                    "folder (Not a directory)")
    done = run_cli("train", TINY, *overrides(tmp_path), f"data.cache_dir={blocker / 'cache'}", cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (f"nlpseq: error: data.cache_dir: cannot create "
                                                    f"{blocker / 'cache'} (Not a directory)")
