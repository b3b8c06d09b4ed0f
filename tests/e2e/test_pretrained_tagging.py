"""The TagLM chain through the real CLI: tiny forward and backward word LMs, then a tiny tagger that reads
their states (model.lm_features), evaluated and predicting after the LM run folders are gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from nlpseq.training.checkpoint import load_checkpoint
from tests.helpers import ROOT, run_cli, write_jsonl
from tests.tasks.test_tagging import ner_rows


@pytest.fixture(scope="module")
def lm_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """lm/tiny trained one epoch left to right and one right to left on the tagging fixture's text."""
    folder = tmp_path_factory.mktemp("lms")
    overrides = []
    for split, count, seed in (("train", 200, 21), ("valid", 20, 22)):
        path = folder / f"{split}.txt"
        path.write_text("".join(" ".join(row["tokens"]) + "\n" for row in ner_rows(count, seed)),
                        encoding="utf-8")
        overrides.append(f"data.{split}={path}")
    runs = {}
    for direction in ("forward", "backward"):
        runs[direction] = folder / direction
        done = run_cli("train", "lm/tiny", *overrides, f"run_dir={runs[direction]}", "trainer.max_epochs=1",
                       f"data.reverse={str(direction == 'backward').lower()}")
        assert done.returncode == 0, done.stderr
    return runs


def tagging_data(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return [f"data.{split}={write_jsonl(folder / f'{split}.jsonl', ner_rows(count, seed))}"
            for split, count, seed in (("train", 150, 1), ("valid", 40, 2), ("test", 40, 3))]


def test_lm_features_chain_trains_evaluates_and_predicts_without_the_lm_folders(lm_runs: dict[str, Path],
                                                                               tmp_path: Path) -> None:
    lms = {direction: tmp_path / direction for direction in lm_runs}
    for direction, run in lm_runs.items():
        shutil.copytree(run, lms[direction])
    run = tmp_path / "tagger"
    done = run_cli("train", "tagging/tiny", *tagging_data(tmp_path / "data"), f"run_dir={run}",
                   "trainer.max_epochs=3", f"model.lm_features.forward={lms['forward']}",
                   f"model.lm_features.backward={lms['backward']}")
    assert done.returncode == 0, done.stderr
    log = (run / "train.log").read_text(encoding="utf-8")
    for direction in lms:
        assert f"model.lm_features.{direction}: 2 lstm layer(s) of hidden size 16 from {lms[direction]} " \
               "(frozen)" in log
        assert (run / f"lm_{direction}_tokenizer.json").is_file() and (run / f"lm_{direction}.json").is_file()
    # Frozen: the tagger's best.pt carries the LM layers exactly as the LM runs trained them.
    tagger_state = load_checkpoint(run / "checkpoints" / "best.pt")["model"]
    for direction in lms:
        lm_state = load_checkpoint(lms[direction] / "checkpoints" / "best.pt")["model"]
        for name in ("embedding.embedding.weight", "layers.1.rnn.weight_hh_l0"):
            assert torch.equal(tagger_state[f"lm_features.{direction}_lm.{name}"], lm_state[name])
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))

    text = "Alice visited Paris .\nwe met Bob Smith in London\n"
    before = run_cli("predict", str(run), stdin=text)
    assert before.returncode == 0, before.stderr
    for folder in lms.values():
        shutil.rmtree(folder)
    evaluated = run_cli("evaluate", str(run))
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout)
    assert metrics["f1"] == pytest.approx(results["test"]["f1"])  # the test F1 training wrote
    after = run_cli("predict", str(run), stdin=text)
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout and len(after.stdout.splitlines()) == 2


def test_a_wrong_lm_run_through_the_cli_is_one_line_naming_the_key(lm_runs: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    data = tagging_data(tmp_path / "data")
    cases = {("forward", lm_runs["backward"]): "reads right to left (data.reverse: true): name it as "
                                               "model.lm_features.backward",
             ("forward", tmp_path / "missing"): "does not exist"}
    for (direction, lm), message in cases.items():
        done = run_cli("train", "tagging/tiny", *data, f"run_dir={tmp_path / 'new'}",
                       f"model.lm_features.{direction}={lm}")
        assert done.returncode != 0 and "Traceback" not in done.stderr
        errors = [line for line in done.stderr.splitlines() if "model.lm_features" in line]
        assert errors == [done.stderr.strip().splitlines()[-1]]  # one line, the last
        assert errors[0].startswith(f"nlpseq: error: model.lm_features.{direction}: {lm} {message}")
        assert not (tmp_path / "new" / "config.yaml").exists()


def test_a_recipe_named_in_lm_features_is_trained_first_then_reused(tmp_path: Path) -> None:
    # The nested key model.lm_features.forward goes through nlpseq.api._train_upstream like
    # model.pretrained: a recipe without a finished run is trained, then its folder replaces the name.
    for split, count, seed in (("train", 100, 31), ("valid", 10, 32)):
        path = tmp_path / f"lm_{split}.txt"
        path.write_text("".join(" ".join(row["tokens"]) + "\n" for row in ner_rows(count, seed)),
                        encoding="utf-8")
    values = yaml.safe_load((ROOT / "recipes" / "lm" / "tiny.yaml").read_text(encoding="utf-8"))
    values["run_dir"] = str(tmp_path / "lm_run")
    values["data"] = {**values["data"], "train": str(tmp_path / "lm_train.txt"),
                      "valid": str(tmp_path / "lm_valid.txt")}
    values["trainer"] = {**values["trainer"], "max_epochs": 1}
    recipe = tmp_path / "my_lm.yaml"
    recipe.write_text(yaml.safe_dump(values), encoding="utf-8")
    run = tmp_path / "tagger"
    command = ("train", "tagging/tiny", *tagging_data(tmp_path / "data"), f"run_dir={run}",
               "trainer.max_epochs=1", f"model.lm_features.forward={recipe}")
    done = run_cli(*command)
    assert done.returncode == 0, done.stderr
    assert "model.lm_features.forward: recipe" in done.stderr and "training it first" in done.stderr
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert saved["model"]["lm_features"]["forward"] == str(tmp_path / "lm_run")
    assert saved["model"]["lm_features"]["backward"] is None
    lm_metrics = (tmp_path / "lm_run" / "metrics.jsonl").read_bytes()
    again = run_cli(*command)  # finished: neither run trains anew
    assert again.returncode == 0, again.stderr
    assert "has finished in" in again.stderr
    assert (tmp_path / "lm_run" / "metrics.jsonl").read_bytes() == lm_metrics


def test_the_auxiliary_loss_trains_through_the_cli_and_its_run_evaluates_from_the_checkpoint(tmp_path: Path
                                                                                              ) -> None:
    run = tmp_path / "aux"
    done = run_cli("train", "tagging/tiny", *tagging_data(tmp_path / "data"), f"run_dir={run}",
                   "trainer.max_epochs=1", "model.aux_lm_weight=0.1", "model.aux_lm_vocab=5")
    assert done.returncode == 0, done.stderr
    classes = load_checkpoint(run / "checkpoints" / "best.pt")["model"]["aux_lm.classes"]
    # Five frequent words have classes 0-4, every other id (padding, <unk>, the rarer words) the shared 5.
    assert sorted(set(classes.tolist())) == [0, 1, 2, 3, 4, 5] and classes[0] == classes[1] == 5
    evaluated = run_cli("evaluate", str(run))
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert json.loads(evaluated.stdout)["f1"] == pytest.approx(results["test"]["f1"])
