"""data.train_fraction: a seeded, label-stratified share of the training split (nlpseq.data.subsample)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest

from nlpseq.data.subsample import stratified_sample
from nlpseq.errors import ConfigError
from nlpseq.tasks import load_config
from nlpseq.tasks.classification import ClassificationTask
from tests.helpers import ROOT, write_jsonl

# 60 "pos", 30 "neg", 10 "neu", interleaved as a real file would be.
LABELS = [["pos", "pos", "neg", "pos", "neg", "pos", "neu", "pos", "neg", "pos"][i % 10] for i in range(100)]


def test_each_label_keeps_its_share_and_at_least_one() -> None:
    kept = stratified_sample(LABELS, 0.25, seed=13)
    # round(60 * 0.25) = 15, round(30 * 0.25) = 8 (7.5 rounds to even), round(10 * 0.25) = 2
    assert Counter(LABELS[i] for i in kept) == {"pos": 15, "neg": 8, "neu": 2}
    assert kept == sorted(set(kept))  # file order, no repeats
    rare = stratified_sample(LABELS, 0.01, seed=13)  # 0.1 "neu" examples would round to none
    assert Counter(LABELS[i] for i in rare) == {"pos": 1, "neg": 1, "neu": 1}
    assert stratified_sample(LABELS, 1.0, seed=13) == list(range(100))


def test_the_draw_is_fixed_by_the_seed_and_nested_across_fractions() -> None:
    assert stratified_sample(LABELS, 0.3, seed=5) == stratified_sample(list(LABELS), 0.3, seed=5)
    assert stratified_sample(LABELS, 0.3, seed=5) != stratified_sample(LABELS, 0.3, seed=6)
    small, large = set(stratified_sample(LABELS, 0.1, 5)), set(stratified_sample(LABELS, 0.5, 5))
    assert small < large  # one curve's points differ only by the examples added
    # A label's draw does not depend on the others: dropping every "neu" leaves pos/neg's choice alone.
    without = [label for label in LABELS if label != "neu"]
    position = [i for i, label in enumerate(LABELS) if label != "neu"]
    kept = {position[i] for i in stratified_sample(without, 0.3, 5)}
    assert kept == {i for i in stratified_sample(LABELS, 0.3, 5) if LABELS[i] != "neu"}


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_a_fraction_outside_0_to_1_stops_when_the_recipe_loads(fraction: float) -> None:
    with pytest.raises(ConfigError, match=rf"data\.train_fraction: {fraction!r} is out of range; "
                                          r"allowed: > 0 and <= 1"):
        load_config(ROOT / "recipes" / "sentiment" / "tiny.yaml", [f"data.train_fraction={fraction}"])
    with pytest.raises(ValueError, match="fraction must be in"):
        stratified_sample(LABELS, fraction, 1)


def _task(tmp_path: Path, *overrides: str) -> ClassificationTask:
    tmp_path.mkdir(parents=True, exist_ok=True)
    rows = [{"text": f"word{i} film", "label": label} for i, label in enumerate(LABELS)]
    paths = {name: write_jsonl(tmp_path / f"{name}.jsonl", rows[:n]) for name, n in
             (("train", 100), ("valid", 20), ("test", 30))}
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    config = load_config(ROOT / "recipes" / "sentiment" / "tiny.yaml",
                         [*(f"data.{name}={path}" for name, path in paths.items()), f"run_dir={run}",
                          f"data.cache_dir={tmp_path / 'cache'}", *overrides])
    return ClassificationTask(config, run)


def test_prepare_trains_on_the_share_and_leaves_valid_and_test_alone(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    task = _task(tmp_path, "data.train_fraction=0.25", "trainer.seed=7")
    with caplog.at_level(logging.INFO, logger="nlpseq"):
        task.prepare()
    train = task.split("train")
    assert Counter(train["label"]) == {"pos": 15, "neg": 8, "neu": 2}
    assert len(task.split("valid")) == 20 and len(task.split("test")) == 30
    assert "data.train_fraction=0.25: training on 25 of 100 examples" in caplog.text
    assert "seed 7" in caplog.text  # trainer.seed draws it when data.train_fraction_seed is unset
    # The kept rows are the draw's, and the vocabulary comes from them alone.
    assert list(train["line"]) == [i + 1 for i in stratified_sample(LABELS, 0.25, 7)]
    numbered = {word for word in task.tokenizer.itos if word.startswith("word")}
    assert numbered == {f"word{line - 1}" for line in train["line"]}


def test_train_fraction_seed_fixes_the_subset_whatever_the_trainer_seed(tmp_path: Path) -> None:
    first = _task(tmp_path / "a", "data.train_fraction=0.3", "data.train_fraction_seed=3", "trainer.seed=1")
    second = _task(tmp_path / "b", "data.train_fraction=0.3", "data.train_fraction_seed=3", "trainer.seed=2")
    other = _task(tmp_path / "c", "data.train_fraction=0.3", "trainer.seed=1")
    lines = [list(task.read_splits()["train"].dataset["line"]) for task in (first, second, other)]
    assert lines[0] == lines[1] != lines[2]
    assert lines[0] == [i + 1 for i in stratified_sample(LABELS, 0.3, 3)]
