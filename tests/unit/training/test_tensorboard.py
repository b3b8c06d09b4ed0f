"""``trainer.tensorboard``: the rows of metrics.jsonl as TensorBoard scalars, read back with TensorBoard's
own reader; a clear error when the package is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import nlpseq
from nlpseq.errors import ConfigError
from nlpseq.training.tensorboard import scalars
from tests.helpers import sentiment_files


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _expected(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] as the rows say, in the order they were written."""
    found: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key not in ("split", "step") and isinstance(value, int | float):
                found.setdefault(f"{row['split']}/{key}", []).append((row["step"], float(value)))
    return found


def _read_back(run: Path) -> dict[str, list[tuple[int, float]]]:
    """The event files' scalars as TensorBoard itself reads them."""
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    events = event_accumulator.EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]}


def _assert_same(found: dict, expected: dict) -> None:
    assert sorted(found) == sorted(expected)
    for tag, points in expected.items():
        assert [step for step, _ in found[tag]] == [step for step, _ in points], tag
        # TensorBoard stores float32.
        assert [value for _, value in found[tag]] == pytest.approx([v for _, v in points], rel=1e-6), tag


def _train(tmp_path: Path, run: Path, *extra: str) -> None:
    overrides = [*sentiment_files(tmp_path / "data"), f"run_dir={run}", "trainer.log_every=3", *extra]
    nlpseq.train("sentiment/tiny", overrides, verbose=False)


def test_the_event_file_holds_every_number_of_every_metrics_row(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")  # the test extra installs it; CI runs this
    run = tmp_path / "run"
    _train(tmp_path, run, "trainer.tensorboard=true", "trainer.max_epochs=2")
    rows = _rows(run)
    expected = _expected(rows)
    # Training windows and evaluations both, with their own numbers.
    assert {"train/loss", "train/lr", "train/tokens_per_s", "train/epoch", "valid/accuracy",
            "valid/macro_f1"} <= set(expected)
    assert len(expected["train/loss"]) == sum(row["split"] == "train" for row in rows) > 2
    _assert_same(_read_back(run), expected)


def test_turned_on_when_resuming_the_curves_start_at_the_first_row(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    _train(tmp_path, run, "trainer.max_epochs=1")
    assert not (run / "tensorboard").exists()
    overrides = [*sentiment_files(tmp_path / "data"), f"run_dir={run}", "trainer.log_every=3",
                 "trainer.max_epochs=2", "trainer.tensorboard=true"]
    nlpseq.train("sentiment/tiny", overrides, allow_changes=True, verbose=False)
    rows = _rows(run)
    assert rows[0]["step"] < rows[-1]["step"]
    _assert_same(_read_back(run), _expected(rows))


def test_without_the_package_the_run_stops_before_reading_data_naming_the_option_and_extra(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now raises ImportError
    run = tmp_path / "run"
    with pytest.raises(ConfigError) as error:
        nlpseq.train("sentiment/tiny", [f"run_dir={run}", "data.train=missing.jsonl",
                                        "trainer.tensorboard=true"], verbose=False)
    assert str(error.value).startswith("trainer.tensorboard: true needs the tensorboard package: "
                                       'pip install "nlpseq[tensorboard]"')
    # Stopped before the (missing) data was read; the line is in train.log too.
    assert not (run / "config.yaml").exists()
    assert "stopped: trainer.tensorboard: true needs" in (run / "train.log").read_text()


def test_scalars_skip_what_places_a_row_and_what_is_not_a_finite_number() -> None:
    row = {"split": "valid", "step": 7, "epoch": 1, "bleu": 12.5, "decoding": "greedy", "chrf": None,
           "loss": float("nan")}
    assert scalars(row) == {"valid/epoch": 1.0, "valid/bleu": 12.5}
