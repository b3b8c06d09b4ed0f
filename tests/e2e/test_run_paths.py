"""A run folder works from any directory: its config.yaml keeps local paths absolute."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from nlpseq.config_paths import path_keys, resolve_paths
from nlpseq.tasks import load_config
from tests.helpers import ROOT, run_cli, sentiment_files

RECIPE = ROOT / "recipes" / "sentiment" / "tiny.yaml"


def test_config_yaml_keeps_absolute_data_paths_and_evaluate_works_from_elsewhere(tmp_path: Path) -> None:
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    sentiment_files(work / "data")
    elsewhere.mkdir()
    relative = ["data.train=data/train.jsonl", "data.valid=data/valid.jsonl", "data.test=data/test.jsonl"]
    trained = run_cli("train", str(RECIPE), *relative, "run_dir=run", "trainer.max_epochs=1", cwd=work)
    assert trained.returncode == 0, trained.stderr
    saved = yaml.safe_load((work / "run" / "config.yaml").read_text(encoding="utf-8"))
    assert saved["data"]["train"] == str((work / "data" / "train.jsonl").resolve())
    assert saved["run_dir"] == "run"  # the run folder is where it is, not a path to resolve
    # The same command again, with the same relative paths, is the same run (it resumes).
    again = run_cli("train", str(RECIPE), *relative, "run_dir=run", "trainer.max_epochs=1", cwd=work)
    assert again.returncode == 0, again.stderr
    scored = run_cli("evaluate", str(work / "run"), cwd=elsewhere)
    assert scored.returncode == 0, scored.stderr
    results = json.loads((work / "run" / "results.json").read_text(encoding="utf-8"))
    assert abs(json.loads(scored.stdout)["accuracy"] - results["test"]["accuracy"]) < 1e-6


def test_saved_configs_of_earlier_versions_are_compared_with_their_paths_resolved(tmp_path: Path) -> None:
    config = load_config(RECIPE, ["data.train=a.jsonl", "model.embedding.pretrained=~/vectors.txt"])
    keys = path_keys(config)
    assert {"data.train", "data.valid", "data.test", "data.cache_dir", "tokenizer.vocab_file",
            "trainer.init_from", "model.embedding.pretrained"} <= set(keys)
    old = {"data": {"train": "a.jsonl", "test": None},
           "model": {"embedding": {"pretrained": "~/vectors.txt"}}}
    resolved = resolve_paths(old, keys, base=tmp_path)
    assert resolved["data"] == {"train": str(tmp_path / "a.jsonl"), "test": None}
    assert resolved["model"]["embedding"]["pretrained"] == str(Path("~/vectors.txt").expanduser())
    assert old["data"]["train"] == "a.jsonl"  # the caller's values are left alone
