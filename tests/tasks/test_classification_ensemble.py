"""Classification ensembles (--ensemble): the mean of the members' class probabilities, and its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import nlpseq
from nlpseq.metrics.classification import classification_metrics
from nlpseq.tasks.options import OptionError, flag
from nlpseq.training.checkpoint import load_checkpoint
from tests.helpers import ROOT, run_cli, sentiment_files

TEXTS = ["a good film", "the plot was dull", "", "really superb acting", "boring boring movie"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny sentiment runs on the same data, with different seeds (and tokenizers: word vs char)."""
    folder = tmp_path_factory.mktemp("ensemble")
    data = sentiment_files(folder / "data", train=80, valid=20, test=30)
    made = {}
    for name, extra in (("a", ["trainer.seed=1"]), ("b", ["trainer.seed=2", "tokenizer.kind=char"])):
        made[name] = folder / name
        nlpseq.train(ROOT / "recipes" / "sentiment" / "tiny.yaml",
                     [*data, f"run_dir={made[name]}", f"data.cache_dir={folder / 'cache'}",
                      "trainer.max_steps=6", "trainer.device=cpu", *extra], verbose=False)
    made["test"] = Path(data[2].partition("=")[2])
    return made


def probabilities(results: list[dict]) -> torch.Tensor:
    """The [N, 2] probabilities (neg, pos) of the non-empty inputs' results."""
    return torch.tensor([[r["probabilities"][label] for label in ("neg", "pos")]
                         for r in results if r["label"]])


def test_predict_averages_the_members_probabilities(runs: dict[str, Path]) -> None:
    alone_a = nlpseq.load(runs["a"], device="cpu").predict(TEXTS)
    alone_b = nlpseq.load(runs["b"], device="cpu").predict(TEXTS)
    predictor = nlpseq.load(runs["a"], device="cpu")
    predictor.set_options(ensemble=str(runs["b"]))
    together = predictor.predict(TEXTS)
    assert together[2] == {"label": None, "probability": None}  # an empty line stays empty
    mean = (probabilities(alone_a) + probabilities(alone_b)) / 2
    assert not torch.allclose(probabilities(alone_a), probabilities(alone_b))  # two different models
    torch.testing.assert_close(probabilities(together), mean)
    for result, row in zip([r for r in together if r["label"]], mean, strict=True):
        assert result["label"] == ("neg", "pos")[int(row.argmax())]
        assert result["probability"] == pytest.approx(float(row.max()))
    predictor.set_options()  # options are set as a whole: none given, no ensemble
    torch.testing.assert_close(probabilities(predictor.predict(TEXTS)), probabilities(alone_a))


def test_evaluate_reports_the_ensembles_metrics_and_each_members(runs: dict[str, Path]) -> None:
    predictor = nlpseq.load(runs["a"], device="cpu")
    dataset = predictor.task.load_split("test")
    own = predictor.task.probabilities(predictor.model, dataset)
    other = nlpseq.load(runs["b"], device="cpu")
    theirs = other.task.probabilities(other.model, other.task.load_split("test"))
    predictor.set_options(ensemble=str(runs["b"]))
    metrics = predictor.evaluate("test")
    gold = list(dataset["label_id"])
    expected = classification_metrics(gold, ((own + theirs) / 2).argmax(-1).tolist(), ["neg", "pos"])
    assert metrics["accuracy"] == expected["accuracy"] and metrics["confusion"] == expected["confusion"]
    assert metrics["macro_f1"] == expected["macro_f1"] and metrics["examples"] == 30
    assert metrics["ensemble"]["runs"] == [str(runs["a"]), str(runs["b"])]
    for run, probs in ((runs["a"], own), (runs["b"], theirs)):
        alone = classification_metrics(gold, probs.argmax(-1).tolist(), ["neg", "pos"])
        assert metrics["ensemble"]["members"][str(run)] == {"accuracy": alone["accuracy"],
                                                            "macro_f1": alone["macro_f1"]}


def test_a_member_with_its_labels_in_another_order_is_aligned(runs: dict[str, Path], tmp_path: Path) -> None:
    # The same model as b with its label vocabulary and output rows swapped: the same predictions.
    swapped = tmp_path / "swapped"
    shutil.copytree(runs["b"], swapped)
    (swapped / "labels.json").write_text(json.dumps(["pos", "neg"]), encoding="utf-8")
    checkpoint = load_checkpoint(swapped / "checkpoints" / "best.pt")
    for key in ("head.weight", "head.bias"):
        checkpoint["model"][key] = checkpoint["model"][key].flip(0)
    torch.save(checkpoint, swapped / "checkpoints" / "best.pt")
    results = []
    for member in (runs["b"], swapped):
        predictor = nlpseq.load(runs["a"], device="cpu")
        predictor.set_options(ensemble=str(member))
        results.append(probabilities(predictor.predict(TEXTS)))
    torch.testing.assert_close(results[0], results[1])


def _lm_run(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(ROOT / "recipes" / "lm" / "tiny.yaml", folder / "config.yaml")
    return folder


@pytest.mark.parametrize(("member", "problem"), [
    (lambda runs, tmp: runs["a"], "is the loaded run itself"),
    (lambda runs, tmp: f"{runs['b']},{runs['b']}", "named twice"),
    (lambda runs, tmp: tmp, "not a run folder (config.yaml is missing)"),
    (lambda runs, tmp: _lm_run(tmp / "lm"), "is a lm run; an ensemble averages classification runs"),
    (lambda runs, tmp: " , ", "names no run folder"),
])
def test_a_member_that_cannot_join_is_one_error_naming_it(runs: dict[str, Path], tmp_path: Path,
                                                          member, problem: str) -> None:
    predictor = nlpseq.load(runs["a"], device="cpu")
    value = str(member(runs, tmp_path))
    with pytest.raises(OptionError, match=r"^ensemble: ") as raised:
        predictor.set_options(ensemble=value)
    assert problem in str(raised.value) and "\n" not in str(raised.value)
    assert raised.value.render(flag).startswith("--ensemble: ")


def test_a_member_of_other_labels_or_untrained_is_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other_labels"
    shutil.copytree(runs["b"], other)
    (other / "labels.json").write_text(json.dumps(["neg", "neutral", "pos"]), encoding="utf-8")
    untrained = tmp_path / "untrained"
    shutil.copytree(runs["b"], untrained)
    (untrained / "checkpoints" / "best.pt").unlink()
    predictor = nlpseq.load(runs["a"], device="cpu")
    with pytest.raises(OptionError) as raised:
        predictor.set_options(ensemble=str(other))
    assert str(raised.value) == (f"ensemble: {other}: predicts the labels neg, neutral, pos; the loaded run "
                                 "neg, pos (an ensemble averages the same labels)")
    with pytest.raises(OptionError, match=rf"^ensemble: {untrained}: has no checkpoints/best\.pt"):
        predictor.set_options(ensemble=str(untrained))


def test_the_command_line_takes_ensemble_for_evaluate_and_predict(runs: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    done = run_cli("evaluate", str(runs["a"]), "--ensemble", str(runs["b"]), "--device", "cpu")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert metrics["ensemble"]["runs"] == [str(runs["a"]), str(runs["b"])]
    predicted = run_cli("predict", str(runs["a"]), "--ensemble", str(runs["b"]), "--device", "cpu",
                        "--format", "jsonl", stdin="a good film\n")
    assert predicted.returncode == 0, predicted.stderr
    predictor = nlpseq.load(runs["a"], device="cpu")
    predictor.set_options(ensemble=str(runs["b"]))
    line = json.loads(predicted.stdout)
    assert line["probabilities"] == pytest.approx(predictor.predict("a good film")["probabilities"])
    refused = run_cli("predict", str(runs["a"]), "--ensemble", str(tmp_path), stdin="good\n")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip() == (f"nlpseq: error: --ensemble: {tmp_path}: not a run folder "
                                      "(config.yaml is missing)")
    helped = run_cli("evaluate", str(runs["a"]), "--help")
    assert "--ensemble RUNS" in helped.stdout
