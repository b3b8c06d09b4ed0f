"""The training loop: resume is exact, checkpoints are plain, early stopping and accumulation work."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import nlpseq
from nlpseq.tasks import load_config
from tests.helpers import ListBatches, sentiment_files

TINY = "recipes/sentiment/tiny.yaml"


def _train_losses(run_dir: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r["split"] == "train"}


def _overrides(tmp_path: Path, run: str, *extra: str) -> list[str]:
    # Dropout on, so the RNG state matters; an eval every 4 steps leaves checkpoints to resume from.
    return [*sentiment_files(tmp_path / "data"), f"run_dir={tmp_path / run}", "trainer.log_every=1",
            "trainer.eval_every=4", "model.dropout=0.3", "model.embedding.dropout=0.2",
            "trainer.max_epochs=5", *extra]


@pytest.mark.parametrize("averaging", [(), ("trainer.ema_decay=0.9",),
                                       # Evaluations at 3, 6, 9, ...: the stop at step 9 adds no extra one,
                                       # which could pick another best.pt than the uninterrupted run's.
                                       ("trainer.optimizer=asgd", "trainer.lr=0.5", "trainer.asgd_start=5",
                                        "trainer.eval_every=3")])
def test_resume_gives_the_same_next_steps_as_an_uninterrupted_run(tmp_path: Path, averaging: tuple) -> None:
    whole = nlpseq.train(load_config(TINY, _overrides(tmp_path, "whole", "trainer.max_steps=14", *averaging)))
    nlpseq.train(load_config(TINY, _overrides(tmp_path, "split", "trainer.max_steps=9", *averaging)))
    # Same run folder, more steps (a change that is safe on resume, allowed explicitly): it resumes from
    # checkpoints/last.pt.
    longer = _overrides(tmp_path, "split", "trainer.max_steps=14", *averaging)
    resumed = nlpseq.train(load_config(TINY, longer), allow_changes=True)
    whole_losses, split_losses = _train_losses(tmp_path / "whole"), _train_losses(tmp_path / "split")
    assert sorted(split_losses) == list(range(1, 15))
    for step in range(10, 15):
        assert split_losses[step] == pytest.approx(whole_losses[step], abs=1e-6), step
    a = torch.load(tmp_path / "whole/checkpoints/last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "split/checkpoints/last.pt", weights_only=True)["model"]
    for name in a:
        torch.testing.assert_close(a[name], b[name])
    assert resumed["test"]["accuracy"] == whole["test"]["accuracy"]
    if averaging:
        last = torch.load(tmp_path / "split/checkpoints/last.pt", weights_only=True)
        best = torch.load(tmp_path / "split/checkpoints/best.pt", weights_only=True)
        # best.pt carries the averaged weights it was evaluated with, not the raw ones.
        averaged = {k.removeprefix("module."): v for k, v in last["ema"].items() if k.startswith("module.")}
        if best["state"]["best_step"] == last["state"]["step"]:
            for name, value in best["model"].items():
                torch.testing.assert_close(value, averaged[name])
        assert any(not torch.equal(last["model"][k], averaged[k]) for k in averaged)


def test_run_folder_describes_itself(tmp_path: Path) -> None:
    results = nlpseq.train(load_config(TINY, _overrides(tmp_path, "run")))
    run = tmp_path / "run"
    for name in ("config.yaml", "tokenizer.json", "labels.json", "metrics.jsonl", "results.json",
                 "curves.png", "confusion.png", "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (run / name).is_file(), name
    payload = torch.load(run / "checkpoints/best.pt", weights_only=True)  # plain data only
    assert payload["state"]["best_step"] == results["best_step"]
    saved = json.loads((run / "results.json").read_text())
    assert saved["test"]["accuracy"] == results["test"]["accuracy"]
    assert set(saved) >= {"config_hash", "seed", "versions", "train_tokens_per_s", "padding_share"}
    assert saved["test"]["confusion"] and saved["test"]["per_class"]["pos"]["support"] == 20
    # Learnable data: far above chance even in a few seconds.
    assert results["test"]["accuracy"] >= 0.8
    # A finished run run again does nothing more and reports the same.
    again = nlpseq.train(load_config(TINY, _overrides(tmp_path, "run")))
    assert again["steps"] == results["steps"]


def test_early_stopping_stops_after_patience(tmp_path: Path) -> None:
    # A learning rate too small to change a prediction never improves after the first evaluation:
    # patience 1 stops at the third one.
    nlpseq.train(load_config(TINY, _overrides(tmp_path, "stop", "trainer.lr=1e-12", "trainer.patience=1",
                                              "trainer.max_epochs=50")))
    rows = [json.loads(line) for line in (tmp_path / "stop/metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in rows if r["split"] == "valid"]
    assert len(evaluations) == 3
    assert evaluations[-1]["step"] == 12


def test_a_budget_gone_before_the_first_step_still_ends_with_an_evaluation(tmp_path: Path) -> None:
    # max_minutes=1e-300 is over before training begins: one step, the final evaluation, best.pt and
    # the test split, not "best.pt: checkpoint not found".
    results = nlpseq.train(load_config(TINY, _overrides(tmp_path, "instant", "trainer.max_minutes=1e-300")))
    assert results["steps"] == 1
    assert "accuracy" in results["test"]
    assert (tmp_path / "instant/checkpoints/best.pt").is_file()


def test_max_minutes_stops_training_and_still_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A clock that moves 10 seconds each time it is read. It is read when training starts, on each
    # pass of the epoch loop and at least once after every optimizer step, so 1 minute runs out
    # within 6 steps.
    ticks = iter(range(0, 10**6, 10))
    monkeypatch.setattr("nlpseq.training.budget.now", lambda: float(next(ticks)))
    short = nlpseq.train(load_config(TINY, _overrides(tmp_path, "timed", "trainer.max_minutes=1")))
    assert 1 <= short["steps"] <= 6
    assert "accuracy" in short["test"]  # the test split is still scored, on best.pt
    rows = [json.loads(line) for line in (tmp_path / "timed/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "valid"][-1] == short["steps"]  # a final evaluation
    state = torch.load(tmp_path / "timed/checkpoints/last.pt", weights_only=True)["state"]
    assert state["wall_seconds"] >= 60
    # The same limit again: nothing more to do. A larger one (safe on resume) trains on, with the clock
    # carrying on from the minute already spent; with no limit the run goes on to max_epochs.
    again = nlpseq.train(load_config(TINY, _overrides(tmp_path, "timed", "trainer.max_minutes=1")))
    assert again["steps"] == short["steps"]
    longer = nlpseq.train(load_config(TINY, _overrides(tmp_path, "timed", "trainer.max_minutes=2")),
                          allow_changes=True)
    assert short["steps"] < longer["steps"] <= short["steps"] + 5
    whole = nlpseq.train(load_config(TINY, _overrides(tmp_path, "whole")))
    assert whole["steps"] > longer["steps"]


def test_the_last_step_logs_its_partial_window(tmp_path: Path) -> None:
    results = nlpseq.train(load_config(TINY, _overrides(tmp_path, "partial", "trainer.max_steps=7",
                                                         "trainer.log_every=100")))
    rows = [json.loads(line) for line in (tmp_path / "partial/metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == [7]
    assert results["train_tokens_per_s"] > 0  # time and tokens of all 7 steps counted


@pytest.mark.parametrize("schedule", ["linear", "plateau"])
def test_schedules_and_sgd_run(tmp_path: Path, schedule: str) -> None:
    results = nlpseq.train(load_config(TINY, _overrides(
        tmp_path, schedule, f"trainer.schedule={schedule}", "trainer.warmup_steps=3", "trainer.optimizer=sgd",
        "trainer.lr=0.5", "trainer.max_steps=12")))
    assert results["steps"] == 12
    lrs = [json.loads(line)["lr"] for line in (tmp_path / schedule / "metrics.jsonl").read_text().splitlines()
           if '"train"' in line]
    if schedule == "linear":
        assert lrs[0] == pytest.approx(0.5 * 2 / 3) and lrs[-1] == pytest.approx(0.0)


def test_gradient_accumulation_halves_the_steps(tmp_path: Path) -> None:
    one = nlpseq.train(load_config(TINY, _overrides(tmp_path, "one", "trainer.max_epochs=1")))
    two = nlpseq.train(load_config(TINY, _overrides(tmp_path, "two", "trainer.max_epochs=1",
                                                     "trainer.grad_accum=2")))
    assert two["steps"] == (one["steps"] + 1) // 2


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nlpseq.errors import NlpseqError
    from nlpseq.training.checkpoint import load_checkpoint, save_checkpoint

    path = tmp_path / "last.pt"
    save_checkpoint(path, {"step": 1})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    kept = r"last.pt: cannot write \(disk full\); the previous version is kept"
    with pytest.raises(NlpseqError, match=kept):
        save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path) == {"step": 1}
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


# ------------------------------------------------------------------ the trainer's contract, with toys

class CarryModel(torch.nn.Module):
    """A toy language-model-like regressor whose GRU state carries from one batch to the next.

    The carried state is the model's own (``get_extra_state``), so it is in every checkpoint; a batch
    with ``reset`` starts afresh. The trainer knows nothing of it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rnn = torch.nn.GRU(2, 3, batch_first=True)
        self.out = torch.nn.Linear(3, 1)
        self.dropout = torch.nn.Dropout(0.2)  # so that resuming must also restore the RNG
        self.carried: torch.Tensor | None = None

    def forward(self, batch: dict[str, torch.Tensor]):
        state = None if bool(batch["reset"]) else self.carried
        outputs, state = self.rnn(batch["x"], state)
        self.carried = state.detach()
        predicted = self.out(self.dropout(outputs)).squeeze(-1)
        loss = ((predicted - batch["y"]) ** 2).sum()
        return SimpleNamespace(loss=loss, num_targets=torch.tensor(batch["y"].numel()))

    def get_extra_state(self) -> dict:
        return {"carried": self.carried}

    def set_extra_state(self, state: dict) -> None:
        self.carried = state["carried"]


def _stream_batches() -> ListBatches:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 18, 2, generator=generator)
    y = x.sum(-1).cumsum(1).tanh()
    # Six BPTT-like windows of 3 steps over 4 columns; the first of each epoch resets the state.
    return ListBatches([{"x": x[:, i:i + 3], "y": y[:, i:i + 3], "reset": torch.tensor(i == 0),
                         "num_tokens": torch.tensor(12)} for i in range(0, 18, 3)])


def _fit_carry(run_dir: Path, max_steps: int) -> CarryModel:
    from nlpseq.config import TrainerConfig
    from nlpseq.training.trainer import Trainer

    torch.manual_seed(1)
    model = CarryModel()
    config = TrainerConfig(lr=0.05, max_epochs=10, max_steps=max_steps, metric="score", metric_mode="max",
                           log_every=1, progress=False)
    Trainer(model, config, run_dir, _stream_batches(), lambda m: {"score": 0.0}).fit()
    return model


def test_a_model_carrying_state_across_batches_resumes_exactly(tmp_path: Path) -> None:
    whole = _fit_carry(tmp_path / "whole", 10)
    _fit_carry(tmp_path / "split", 7)  # stops mid-epoch (epoch 2, window 1 of 6), state carried
    resumed = _fit_carry(tmp_path / "split", 10)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    torch.testing.assert_close(whole.carried, resumed.carried, rtol=0, atol=0)
    assert _train_losses(tmp_path / "whole") == _train_losses(tmp_path / "split")


def test_a_step_is_normalised_by_all_its_targets_whatever_the_accumulation(tmp_path: Path) -> None:
    """Two micro-batches of 1 and 3 examples accumulated give the same step as one batch of 4: each
    example weighs the same (per-example normalisation), not each micro-batch."""
    from nlpseq.config import TrainerConfig
    from nlpseq.data.batching import lengths_and_mask, pad
    from nlpseq.models.classifier import SequenceClassifier
    from nlpseq.models.embedding import EmbeddingConfig
    from nlpseq.models.encoder import EncoderConfig
    from nlpseq.training.trainer import Trainer

    def batch(rows: list[list[int]], labels: list[int]) -> dict[str, torch.Tensor]:
        lengths, mask = lengths_and_mask(rows)
        return {"input_ids": pad(rows), "lengths": lengths, "mask": mask, "labels": torch.tensor(labels),
                "num_tokens": lengths.sum()}

    rows, labels = [[4, 5, 6], [7, 8], [9, 4, 5, 6], [5]], [0, 1, 1, 0]
    weights = {}
    for name, batches, accumulate in (("one", [batch(rows, labels)], 1),
                                      ("two", [batch(rows[:1], labels[:1]), batch(rows[1:], labels[1:])], 2)):
        torch.manual_seed(0)
        model = SequenceClassifier(10, 2, EmbeddingConfig(embedding_dim=4), EncoderConfig(hidden_size=4),
                                   dropout=0.0)
        config = TrainerConfig(optimizer="sgd", momentum=0.0, lr=1.0, grad_clip=None, max_steps=1,
                               grad_accum=accumulate, metric="score", metric_mode="max", progress=False)
        Trainer(model, config, tmp_path / name, ListBatches(batches), lambda m: {"score": 0.0}).fit()
        weights[name] = model.state_dict()
    for key, value in weights["one"].items():
        torch.testing.assert_close(value, weights["two"][key], msg=key)


class Linear1(torch.nn.Module):
    """loss = w . x summed over a batch's rows: the gradient of a step is known in advance."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))

    def forward(self, batch: dict[str, torch.Tensor]):
        return SimpleNamespace(loss=(batch["x"] @ self.w).sum(), num_targets=torch.tensor(len(batch["x"])))


def _fit_asgd(run_dir: Path, scores: list[float], **config) -> dict:
    from nlpseq.config import TrainerConfig
    from nlpseq.training.trainer import Trainer

    x = torch.tensor([[1.0, 2.0, -1.0]])
    settings = {"optimizer": "asgd", "momentum": 0.0, "lr": 1.0, "grad_clip": None, "metric": "score",
                "metric_mode": "max", "progress": False, "max_epochs": 1, "eval_every": 1, **config}
    evaluations = iter(scores)

    def evaluate(model: torch.nn.Module) -> dict[str, float]:
        return {"score": next(evaluations)}

    batches = ListBatches([{"x": x, "num_tokens": torch.tensor(1)}] * 5)
    Trainer(Linear1(), TrainerConfig(**settings), run_dir, batches, evaluate).fit()
    return torch.load(run_dir / "checkpoints/last.pt", weights_only=True)


def test_asgd_averages_the_weights_of_every_step_from_asgd_start(tmp_path: Path) -> None:
    # Plain SGD with lr 1 on a constant gradient x: after step t the weights are -t x. Averaging from
    # step 3 on (asgd_start=2) keeps the mean of steps 3, 4, 5: -4 x.
    last = _fit_asgd(tmp_path, [1.0] * 5, asgd_start=2)
    x = torch.tensor([1.0, 2.0, -1.0])
    torch.testing.assert_close(last["model"]["w"], -5 * x)
    torch.testing.assert_close(last["ema"]["module.w"], -4 * x)
    assert last["state"]["asgd_since"] == 3 and int(last["ema"]["n_averaged"]) == 3


def test_asgd_starts_averaging_when_validation_stops_improving(tmp_path: Path) -> None:
    # The score improves at steps 1 and 2 only; with asgd_nonmono 2 averaging begins at the second
    # evaluation without improvement (step 4's), so step 5's weights are the first averaged.
    last = _fit_asgd(tmp_path, [1.0, 2.0, 1.5, 1.0, 0.5], asgd_nonmono=2)
    assert last["state"]["asgd_since"] == 4
    x = torch.tensor([1.0, 2.0, -1.0])
    torch.testing.assert_close(last["ema"]["module.w"], -5 * x)  # only step 5 was averaged in
    assert int(last["ema"]["n_averaged"]) == 1


def test_asgd_and_ema_together_are_refused() -> None:
    from nlpseq.config import TrainerConfig
    from nlpseq.errors import ConfigError

    with pytest.raises(ConfigError, match="choose one"):
        TrainerConfig(optimizer="asgd", ema_decay=0.9)
