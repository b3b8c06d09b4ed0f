"""Each GPU-sized recipe (``NAME_gpu.yaml``) is its CPU recipe with another trainer section: the same
data, tokenizer and model, so what starts from one can start from the other, and the upstream runs it
names are the GPU variants of the CPU recipe's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nlpseq.tasks import load_config
from tests.helpers import ROOT

GPU_RECIPES = sorted((ROOT / "recipes").glob("*/*_gpu.yaml"))


def _as_gpu(value: Any) -> Any:
    """A CPU recipe's value with every recipe name it holds turned into that recipe's GPU variant."""
    if isinstance(value, dict):
        return {key: _as_gpu(item) for key, item in value.items()}
    if isinstance(value, str) and (ROOT / "recipes" / f"{value}_gpu.yaml").is_file():
        return f"{value}_gpu"
    return value


def test_there_are_gpu_variants_of_the_pretraining_recipes() -> None:
    names = {path.stem for path in GPU_RECIPES}
    assert {"pretrain_en_word_lstm_gpu", "pretrain_en_word_lstm_backward_gpu",
            "pretrain_fr_subword_lstm_gpu", "pretrain_en_subword_lstm_gpu"} <= names


@pytest.mark.parametrize("path", GPU_RECIPES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_a_gpu_recipe_is_its_cpu_twin_but_for_the_trainer(path: Path) -> None:
    cpu_path = path.with_name(path.name.removesuffix("_gpu.yaml") + ".yaml")
    gpu = yaml.safe_load(path.read_text(encoding="utf-8"))
    cpu = _as_gpu(yaml.safe_load(cpu_path.read_text(encoding="utf-8")))
    assert gpu["run_dir"] == cpu["run_dir"] + "_gpu"
    assert gpu["trainer"]["device"] == "cuda"
    trainer_cpu, trainer_gpu = cpu.pop("trainer"), gpu.pop("trainer")
    cpu.pop("run_dir"), gpu.pop("run_dir")
    assert gpu == cpu
    # Upstream recipe names in the trainer section (a warm start's init_from) move to GPU twins too.
    if "init_from" in trainer_cpu:
        assert trainer_gpu["init_from"] == trainer_cpu["init_from"]
    load_config(path)  # and it loads
