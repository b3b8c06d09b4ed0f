"""The classification task's own behaviour: balanced class weights, and a restored model that needs no
training data."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpseq.tasks import load_config
from nlpseq.tasks.classification import ClassificationTask
from tests.helpers import ROOT, write_jsonl


def test_balanced_weights_are_computed_from_train_and_a_restored_model_needs_no_data(tmp_path: Path) -> None:
    # Skewed on purpose: 6 "pos", 2 "neg" -> n / (k * count) = 8 / (2 * 6) and 8 / (2 * 2).
    rows = [{"text": f"good film {i}", "label": "pos"} for i in range(6)]
    rows += [{"text": f"bad film {i}", "label": "neg"} for i in range(2)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    valid = write_jsonl(tmp_path / "valid.jsonl", rows[:1] + rows[-1:])
    run = tmp_path / "run"
    run.mkdir()
    config = load_config(ROOT / "recipes" / "sentiment" / "tiny.yaml",
                         [f"data.train={train}", f"data.valid={valid}", f"run_dir={run}",
                          f"data.cache_dir={tmp_path / 'cache'}", "model.class_weights=balanced"])
    task = ClassificationTask(config, run)
    task.prepare()
    assert task.labels == ["neg", "pos"]
    model = task.build_model(training=True)
    assert model.class_weights.tolist() == pytest.approx([8 / (2 * 2), 8 / (2 * 6)])

    train.unlink()  # inference must not read it
    restored = ClassificationTask(config, run)
    restored.restore()
    inference = restored.build_model(training=False)
    assert inference.class_weights is None  # no loss at inference; not part of the state dict
    inference.load_state_dict(model.state_dict())
    results = restored.predict(inference.eval(), ["good film", "", "bad film " * 3000])
    assert len(results) == 3 and results[1]["label"] is None
    assert {results[0]["label"], results[2]["label"]} <= {"neg", "pos"}
