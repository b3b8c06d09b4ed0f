"""Fault injection, in process: a SIGTERM or Ctrl-C delivered inside ``optimizer.step``, inside a
``best.pt`` write or during an evaluation, and a crash (what ``kill -9`` leaves) at a chosen write;
then the same command again, and the run folder compared with an uninterrupted run's: every weight
bit for bit, the metrics rows, the kept step files, the accounting (issue 22, items 1-3).

The default run gives every task and every kind of event one case (each event on one task, every task
at least one); ``-m slow`` runs the whole matrix and the seeded random-signal run the reliability page
counts.
"""

from __future__ import annotations

import json
import os
import random
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

import nlpseq
from nlpseq.errors import Terminated
from nlpseq.tasks import load_config
from nlpseq.training import checkpoint as checkpoint_module
from nlpseq.training import trainer as trainer_module
from nlpseq.training.metrics_log import MetricsLog
from tests.helpers import ROOT
from tests.tasks.test_contract import RECIPES, task_data

# Evaluations at steps 3 and 6 and a final one at 8; training rows every 2 steps, so last.pt is saved
# inside a logging window (its partial sums must survive a resume); two kept step files.
TRAINING = ["trainer.max_steps=8", "trainer.eval_every=3", "trainer.log_every=2",
            "trainer.keep_checkpoints=2", "trainer.progress=false"]
# Dropout on where the tiny recipe has it off, so the RNG state a checkpoint carries matters.
DROPOUT = {"classification": ["model.dropout=0.3", "model.embedding.dropout=0.2"],
           "tagging": ["model.dropout=0.3"], "lm": [],
           "translation": ["model.embedding.dropout=0.2"]}


class Crash(BaseException):
    """What ``kill -9`` does to the code: it stops where it is (not an Exception: nothing catches it)."""


# ---------------------------------------------------------------------------------------- injection
class Injector:
    """Fires ``action`` once, at the ``at``-th occurrence of the event it is hooked to."""

    def __init__(self, at: int, action: Callable[[], None]):
        self.at, self.action, self.seen, self.fired = at, action, 0, False

    def __call__(self) -> None:
        self.seen += 1
        if self.seen == self.at and not self.fired:
            self.fired = True
            self.action()


def sigterm() -> None:
    signal.raise_signal(signal.SIGTERM)  # the handler runs here, inside the code that is running


def sigint() -> None:
    signal.raise_signal(signal.SIGINT)


def crash() -> None:
    raise Crash


def in_optimizer_step(after: bool) -> Callable[[pytest.MonkeyPatch, Injector], Iterator[None]]:
    """Inside ``optimizer.step``: before any parameter moves, or ``after`` they all did (the step
    counter not moved yet: a raising handler there trained that batch twice on resume)."""

    def hook(monkeypatch: pytest.MonkeyPatch, fire: Injector) -> Iterator[None]:
        register = register_optimizer_step_post_hook if after else register_optimizer_step_pre_hook
        handle = register(lambda *args: fire())
        try:
            yield
        finally:
            handle.remove()

    return hook


def in_checkpoint_write(prefix: str) -> Callable[[pytest.MonkeyPatch, Injector], Iterator[None]]:
    """Inside the write of checkpoints/PREFIX* (the temporary file is open, nothing renamed yet)."""

    def hook(monkeypatch: pytest.MonkeyPatch, fire: Injector) -> Iterator[None]:
        save = torch.save

        def saving(payload: Any, path: Any, *args: Any, **kwargs: Any) -> None:
            if Path(path).name.startswith(f".{prefix}"):
                save(payload, path, *args, **kwargs)  # half the work done: the file written...
                fire()  # ...and then the signal or the crash, before the rename
            else:
                save(payload, path, *args, **kwargs)

        monkeypatch.setattr(checkpoint_module.torch, "save", saving)
        yield

    return hook


def in_evaluation(monkeypatch: pytest.MonkeyPatch, fire: Injector) -> Iterator[None]:
    """During a training's validation (not the final test evaluation after it)."""
    post_init = trainer_module.Trainer.__post_init__

    def patched(self: trainer_module.Trainer) -> None:
        post_init(self)
        evaluate = self.evaluate

        def evaluating(model: torch.nn.Module) -> dict[str, float]:
            fire()
            return evaluate(model)

        self.evaluate = evaluating

    monkeypatch.setattr(trainer_module.Trainer, "__post_init__", patched)
    yield


def in_metrics_row(torn: bool) -> Callable[[pytest.MonkeyPatch, Injector], Iterator[None]]:
    """At a metrics.jsonl append (``torn``: half the row written first, no newline)."""

    def hook(monkeypatch: pytest.MonkeyPatch, fire: Injector) -> Iterator[None]:
        write = MetricsLog.write

        def writing(self: MetricsLog, row: dict[str, Any]) -> None:
            if torn and fire.seen + 1 == fire.at:
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row)[:15])
            fire()
            write(self, row)

        monkeypatch.setattr(MetricsLog, "write", writing)
        yield

    return hook


# event name -> (hook, occurrence to fire at, action, exception the first run stops with)
EVENTS: dict[str, tuple[Callable, int, Callable[[], None], type[BaseException]]] = {
    "sigterm_in_optimizer_step": (in_optimizer_step(after=True), 5, sigterm, Terminated),
    "ctrl_c_in_optimizer_step": (in_optimizer_step(after=False), 2, sigint, KeyboardInterrupt),
    "sigterm_in_best_write": (in_checkpoint_write("best.pt"), 2, sigterm, Terminated),
    "sigterm_in_evaluation": (in_evaluation, 2, sigterm, Terminated),
    "crash_in_last_write": (in_checkpoint_write("last.pt"), 2, crash, Crash),
    "crash_in_step_file_write": (in_checkpoint_write("step-"), 2, crash, Crash),
    "crash_in_metrics_row": (in_metrics_row(torn=True), 3, crash, Crash),
}
# One case per event in the default run, every task covered; the rest are slow.
DEFAULT = {("classification", "sigterm_in_best_write"), ("classification", "crash_in_metrics_row"),
           ("tagging", "sigterm_in_optimizer_step"), ("tagging", "crash_in_step_file_write"),
           ("lm", "sigterm_in_evaluation"), ("lm", "ctrl_c_in_optimizer_step"),
           ("translation", "crash_in_last_write")}
CASES = [pytest.param(task, event, marks=[] if (task, event) in DEFAULT else [pytest.mark.slow])
         for task in sorted(RECIPES) for event in EVENTS]


# ---------------------------------------------------------------------------------------- runs
def command(task: str, folder: Path, run: str, extra: tuple[str, ...] = ()) -> list[str]:
    data = folder / "data"
    overrides = task_data(task, data) if not data.is_dir() else _data_overrides(task, data)
    return [*overrides, f"run_dir={folder / run}", f"data.cache_dir={folder / 'cache'}", *TRAINING,
            *DROPOUT[task], *extra]


def _data_overrides(task: str, data: Path) -> list[str]:
    if task == "translation":
        return [f"data.{split}={data / split}" for split in ("train", "valid", "test")]
    suffix = ".txt" if task == "lm" else ".jsonl"
    return [f"data.{split}={data / (split + suffix)}" for split in ("train", "valid", "test")]


def train(task: str, overrides: list[str]) -> dict[str, Any]:
    return nlpseq.train(load_config(ROOT / "recipes" / RECIPES[task] / "tiny.yaml", overrides), verbose=False)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Path]]:
    """task -> (its folder, the run folder of its uninterrupted run), trained once per module."""
    done: dict[str, tuple[Path, Path]] = {}

    def get(task: str) -> tuple[Path, Path]:
        if task not in done:
            folder = tmp_path_factory.mktemp(task)
            train(task, command(task, folder, "whole"))
            done[task] = folder, folder / "whole"
        return done[task]

    return get


def rows(run: Path) -> list[dict[str, Any]]:
    """metrics.jsonl without its timings (the one thing a resume may change)."""
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "tokens_per_s"} for line in lines]


def assert_identical(a: Any, b: Any, where: str) -> None:
    """``a`` and ``b`` equal all the way down, tensors bit for bit (weights, optimizer, RNG, state)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a, key=str) == sorted(b, key=str), f"{where}: keys differ"
        for key in a:
            assert_identical(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{where}: lengths differ"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}/{index}")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_run(whole: Path, resumed: Path) -> None:
    """Bit for bit: every tensor of every checkpoint; and the rows, step files and accounting."""
    names = sorted(p.name for p in (whole / "checkpoints").glob("*.pt"))
    assert sorted(p.name for p in (resumed / "checkpoints").glob("*.pt")) == names
    for name in names:
        a = torch.load(whole / "checkpoints" / name, weights_only=True)
        b = torch.load(resumed / "checkpoints" / name, weights_only=True)
        for state in (a["state"], b["state"]):  # timings: the one thing a resume changes
            state.pop("train_seconds"), state.pop("wall_seconds")
        assert_identical(a, b, name)
    assert rows(resumed) == rows(whole)
    results_a = json.loads((whole / "results.json").read_text())
    results_b = json.loads((resumed / "results.json").read_text())
    for key in ("best_step", "steps", "valid", "test"):
        assert results_b.get(key) == results_a.get(key), key


# ---------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize(("task", "event"), CASES)
def test_a_fault_then_the_same_command_ends_exactly_like_an_uninterrupted_run(
        task: str, event: str, uninterrupted, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, whole = uninterrupted(task)
    hook, at, action, stops_with = EVENTS[event]
    overrides = command(task, folder, event)
    fire = Injector(at, action)
    with monkeypatch.context() as patch:
        injection = hook(patch, fire)
        next(injection)
        with pytest.raises(stops_with):
            train(task, overrides)
        assert fire.fired
    train(task, overrides)  # the same command: it resumes
    assert_same_run(whole, folder / event)


def test_a_signal_inside_a_best_write_still_leaves_the_best_weights_in_best_pt(
        uninterrupted, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: a SIGTERM inside the best.pt write let results.json claim step N while best.pt
    kept older weights. Now the write finishes, last.pt follows, and the run stops after them."""
    folder, _ = uninterrupted("classification")
    overrides = command("classification", folder, "stopped_in_best")
    fire = Injector(1, sigterm)
    with monkeypatch.context() as patch:
        next(in_checkpoint_write("best.pt")(patch, fire))
        with pytest.raises(Terminated):
            train("classification", overrides)
    run = folder / "stopped_in_best" / "checkpoints"
    best = torch.load(run / "best.pt", weights_only=True)
    last = torch.load(run / "last.pt", weights_only=True)
    # Stopped after the evaluate + save group of step 3, not inside it.
    assert best["state"]["best_step"] == last["state"]["step"] == last["state"]["evaluated_step"] == 3
    for key, value in best["model"].items():
        assert torch.equal(value, last["model"][key])


@pytest.mark.slow
def test_seeded_random_signals_all_end_like_the_uninterrupted_run(
        uninterrupted, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The reliability page's counts: N runs per task, each sent SIGTERM at a random optimizer step,
    checkpoint write or evaluation (seeded), resumed until done; every one ends identical."""
    rng = random.Random(22)
    hooks = [(in_optimizer_step(after=True), 8), (in_optimizer_step(after=False), 8),
             (in_checkpoint_write(""), 10), (in_evaluation, 3)]
    counts: dict[str, int] = {}
    stopped: dict[str, int] = {}
    for task in sorted(RECIPES):
        folder, whole = uninterrupted(task)
        for index in range(int(os.environ.get("NLPSEQ_FAULT_RUNS", "5"))):
            hook, most = rng.choice(hooks)
            name = f"random_{index}"
            overrides = command(task, folder, name)
            fire = Injector(rng.randint(1, most), sigterm)
            with monkeypatch.context() as patch:
                next(hook(patch, fire))
                try:
                    train(task, overrides)
                except Terminated:
                    stopped[task] = stopped.get(task, 0) + 1
            train(task, overrides)
            assert_same_run(whole, folder / name)
            counts[task] = counts.get(task, 0) + 1
    print("identical runs per task:", counts, "of which stopped by the signal:", stopped)
