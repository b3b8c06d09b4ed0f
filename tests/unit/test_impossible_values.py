"""Issue 22 item 11: in-range but impossible values stop when the recipe loads, with the bound named;
a diverged language model's perplexity is infinity (null in JSON), never an OverflowError."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from nlpseq.errors import ConfigError
from nlpseq.fileio import json_line
from nlpseq.models.allocation import named_allocation_failure
from nlpseq.tasks import load_config
from nlpseq.tasks.language_model import LanguageModelTask, perplexity
from tests.helpers import ROOT

RECIPES = ROOT / "recipes"


@pytest.mark.parametrize(("recipe", "override", "message"), [
    ("sentiment", "model.encoder.hidden_size=100000000",
     "model.encoder.hidden_size: 100000000 is out of range; allowed: >= 1 and <= 16384"),
    ("sentiment", "model.encoder.num_layers=100000",
     "model.encoder.num_layers: 100000 is out of range; allowed: >= 1 and <= 64"),
    ("sentiment", "model.embedding.embedding_dim=100000000",
     "model.embedding.embedding_dim: 100000000 is out of range; allowed: >= 1 and <= 16384"),
    ("translation", "model.decoder.num_layers=100000",
     "model.decoder.num_layers: 100000 is out of range; allowed: >= 1 and <= 64"),
    ("sentiment", "tokenizer.vocab_size=3000000000",
     "tokenizer.vocab_size: 3000000000 is out of range; allowed: >= 16 and <= 2000000"),
    ("sentiment", "trainer.device=cuda:99999999999999999999",
     "trainer.device: 'cuda:99999999999999999999' is not a device (auto, cpu, cuda, cuda:N, mps)"),
    ("sentiment", "trainer.num_workers=100000",
     "trainer.num_workers: 100000 is out of range; allowed: >= 0 and <= 1024"),
])
def test_impossible_sizes_stop_at_load_naming_the_bound(tmp_path: Path, recipe: str, override: str,
                                                        message: str) -> None:
    path = RECIPES / recipe / "tiny.yaml"
    with pytest.raises(ConfigError) as raised:
        load_config(path, [f"run_dir={tmp_path / 'run'}", override])
    assert str(raised.value) == f"{path}: {message}"


def test_the_bounds_leave_real_sizes_alone(tmp_path: Path) -> None:
    config = load_config(RECIPES / "sentiment" / "tiny.yaml",
                         [f"run_dir={tmp_path / 'run'}", "model.encoder.hidden_size=8192",
                          "model.encoder.num_layers=8", "trainer.device=cuda:3",
                          "tokenizer.vocab_size=1000000"])
    assert (config.model.encoder.hidden_size, config.trainer.device) == (8192, "cuda:3")


def test_a_loss_past_what_exp_holds_is_an_infinite_perplexity_written_as_null(tmp_path: Path) -> None:
    assert perplexity(math.log(20.0)) == pytest.approx(20.0)
    assert perplexity(709.0) < math.inf and perplexity(710.0) == math.inf and perplexity(1e300) == math.inf
    config = load_config(RECIPES / "lm" / "tiny.yaml", [f"run_dir={tmp_path / 'run'}"])
    task = LanguageModelTask(config, tmp_path / "run")
    metrics = task._metrics(800.0 * 10, 10, None)  # a diverging model: 800 nats a token, still finite
    assert metrics["loss"] == 800.0 and metrics["perplexity"] == math.inf
    assert json.loads(json_line(metrics))["perplexity"] is None


def test_a_model_past_the_memory_is_one_error_naming_its_size() -> None:
    with pytest.raises(ConfigError) as raised, named_allocation_failure("model"):
        torch.empty(2**43)  # 35 TB of float32: the CPU allocator refuses at once
    assert str(raised.value).startswith("model: cannot allocate its weights (35,184.4 GB asked for at once)")
    with pytest.raises(RuntimeError, match="not an allocation"), named_allocation_failure():
        raise RuntimeError("not an allocation failure: a bug keeps its traceback")


def test_a_valid_fraction_that_leaves_no_training_data_is_refused() -> None:
    # Needs the nlpseq/data/sources.py edit of issue 22 item 11 (the carve refuses an empty train).
    from collections import Counter

    import datasets

    from nlpseq.data.sources import Split, _carve_valid
    from nlpseq.errors import DataError

    train = Split("train", "train.jsonl", datasets.Dataset.from_list([{"text": str(i)} for i in range(10)]),
                  Counter())
    with pytest.raises(DataError, match=r"^train\.jsonl: data\.valid_fraction=0\.999999 holds out all 10 "):
        _carve_valid(train, 0.999999, 13)
    kept, held = _carve_valid(train, 0.2, 13)
    assert (len(kept.dataset), len(held.dataset)) == (8, 2)
