"""Warm start (trainer.init_from): a fresh run begins from a trained run's vocabularies and weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import nlpseq
from nlpseq.errors import ConfigError
from nlpseq.tasks import get_task, load_config
from nlpseq.training.checkpoint import load_checkpoint
from nlpseq.training.warmstart import WarmStart
from tests.helpers import ROOT, sentiment_files, sentiment_rows, write_jsonl

RECIPE = ROOT / "recipes" / "sentiment" / "tiny.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("warm")
    run = folder / "base"
    nlpseq.train(RECIPE, [*sentiment_files(folder / "data"), f"run_dir={run}", "trainer.max_epochs=2"],
                 verbose=False)
    return run


def _own_data(folder: Path, labels: tuple[str, ...]) -> list[str]:
    """Someone's own small corpus: the same kind of text, with ``labels`` (cycled over the rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    overrides = []
    for split, (count, seed) in {"train": (60, 7), "valid": (20, 8), "test": (20, 9)}.items():
        rows = sentiment_rows(count, seed)
        for i, row in enumerate(rows):
            if len(labels) > 2 and i % 5 == 0:
                row["label"] = labels[2]
        overrides.append(f"data.{split}={write_jsonl(folder / f'{split}.jsonl', rows)}")
    return overrides


def test_fine_tune_starts_from_the_trained_weights_and_vocabulary(trained: Path, tmp_path: Path) -> None:
    run = tmp_path / "tuned"
    overrides = [*_own_data(tmp_path / "own", ("pos", "neg")), f"run_dir={run}",
                 f"trainer.init_from={trained}", "trainer.max_epochs=1"]
    config = load_config(RECIPE, overrides)
    # The first step begins from the trained weights: a model built and warm-started as train() does
    # equals the trained run's best.pt tensor for tensor.
    task = get_task("classification")(config, run)
    warm = WarmStart.check(config.trainer.init_from, config.task, run)
    warm.copy_vocabularies(run)
    task.prepare()
    model = task.build_model(training=True)
    warm.load_weights(model)
    best = load_checkpoint(trained / "checkpoints" / "best.pt")["model"]
    assert all(torch.equal(tensor, best[name]) for name, tensor in model.state_dict().items())
    # The vocabulary is the trained run's, not one built from the new (smaller) corpus.
    assert (run / "tokenizer.json").read_bytes() == (trained / "tokenizer.json").read_bytes()

    results = nlpseq.train(RECIPE, overrides, verbose=False)
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "warm start: tokenizer 'tokenizer'" in log
    count = len(best)
    assert f"warm start: {count} of {count} tensors" in log
    assert results["test"]["accuracy"] >= 0.9  # the cue words were learnt already
    predictor = nlpseq.load(run)
    assert predictor.predict("the film was great")["label"] == "pos"


def test_a_new_label_set_gets_a_new_output_layer_and_the_log_says_so(trained: Path, tmp_path: Path) -> None:
    run = tmp_path / "three"
    overrides = [*_own_data(tmp_path / "own", ("pos", "neg", "mixed")), f"run_dir={run}",
                 f"trainer.init_from={trained}", "trainer.max_epochs=1"]
    nlpseq.train(RECIPE, overrides, verbose=False)
    log = (run / "train.log").read_text(encoding="utf-8")
    assert "warm start: new shape, trained afresh:" in log
    assert json.loads((run / "labels.json").read_text()) == ["mixed", "neg", "pos"]
    # Resuming the warm-started run does not warm-start again: it continues from its own last.pt.
    nlpseq.train(RECIPE, [*overrides[:-1], "trainer.max_epochs=2"], allow_changes=True, verbose=False)
    assert (run / "train.log").read_text(encoding="utf-8").count("warm start: new shape") == 1


@pytest.mark.parametrize(("make", "message"), [
    (lambda base, tmp: tmp / "nowhere",
     r"trainer\.init_from: .*nowhere is not a run folder \(no config\.yaml\)"),
    (lambda base, tmp: tmp / "run", r"trainer\.init_from: .* is this run's own folder"),
])
def test_a_bad_init_from_is_one_line_naming_the_key(trained: Path, tmp_path: Path, make, message) -> None:
    init = make(trained, tmp_path)
    if init == tmp_path / "run":
        (init / "checkpoints").mkdir(parents=True)
        (init / "config.yaml").write_text((trained / "config.yaml").read_text())
        (init / "checkpoints" / "best.pt").write_bytes((trained / "checkpoints" / "best.pt").read_bytes())
    with pytest.raises(ConfigError, match=message):
        WarmStart.check(init, "classification", tmp_path / "run")


def test_init_from_a_run_of_another_task_is_refused(trained: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^trainer\.init_from: .* is a classification run; this recipe "
                                          r"trains tagging$"):
        WarmStart.check(trained, "tagging", tmp_path / "run")


def test_a_model_of_another_architecture_is_refused(trained: Path, tmp_path: Path) -> None:
    config = load_config(RECIPE, [*sentiment_files(tmp_path / "d"), "model.encoder.hidden_size=8",
                                  "model.embedding.embedding_dim=4", "model.pooling=mean"])
    task = get_task("classification")(config, tmp_path / "other")
    task.prepare()
    model = task.build_model(training=True)
    with pytest.raises(ConfigError, match=r"no weight of .* fits this model"):
        WarmStart(trained).load_weights(model)
