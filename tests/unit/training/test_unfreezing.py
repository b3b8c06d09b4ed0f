"""Gradual unfreezing: what trains at each epoch, frozen weights bit-identical, exact on resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nlpseq.config import TrainerConfig
from nlpseq.errors import ConfigError
from nlpseq.models.classifier import SequenceClassifier
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.training.trainer import Trainer
from nlpseq.training.unfreezing import GradualUnfreezing, gradual_unfreezing
from tests.helpers import ListBatches

# Layer groups bottom to top: embedding, encoder layer 0, encoder layer 1, pooling + head.
GROUPS = {
    "embedding": ["embedding.embedding.weight"],
    "layer0": [f"encoder.rnn.{p}_l0{s}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
               for s in ("", "_reverse")],
    "layer1": [f"encoder.rnn.{p}_l1{s}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
               for s in ("", "_reverse")],
    "head": ["pooling.project.weight", "pooling.project.bias", "pooling.query.weight", "head.weight",
             "head.bias"],
}


def _classifier() -> SequenceClassifier:
    torch.manual_seed(0)
    encoder = EncoderConfig(hidden_size=3, num_layers=2, bidirectional=True)
    return SequenceClassifier(12, 2, EmbeddingConfig(embedding_dim=4), encoder, pooling="attention")


def _trainable(model: torch.nn.Module) -> set[str]:
    return {name for name, param in model.named_parameters() if param.requires_grad}


def _names(*groups: str) -> set[str]:
    return {name for group in groups for name in GROUPS[group]}


def test_each_epoch_unfreezes_the_next_group_down() -> None:
    model = _classifier()
    unfreezing = GradualUnfreezing(model.layer_groups())
    expected = [("head",), ("head", "layer1"), ("head", "layer1", "layer0"),
                ("head", "layer1", "layer0", "embedding"), ("head", "layer1", "layer0", "embedding")]
    # In any order: the frozen set depends on the epoch alone (a resumed run may start at any epoch).
    for epoch in (0, 1, 2, 3, 4, 1, 0, 3):
        unfreezing.apply(epoch)
        assert _trainable(model) == _names(*expected[epoch]), epoch


def test_a_frozen_embedding_stays_frozen() -> None:
    model = _classifier()
    model.embedding.embedding.weight.requires_grad_(False)  # what model.embedding.freeze does
    unfreezing = GradualUnfreezing(model.layer_groups())
    unfreezing.apply(5)
    assert _trainable(model) == _names("head", "layer1", "layer0")


def test_the_key_names_itself_for_a_model_without_layer_groups() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.gradual_unfreezing: Linear has no layer groups"):
        gradual_unfreezing(torch.nn.Linear(2, 2), TrainerConfig(gradual_unfreezing=True))
    assert gradual_unfreezing(torch.nn.Linear(2, 2), TrainerConfig()) is None


def _batches() -> ListBatches:
    generator = torch.Generator().manual_seed(3)
    batches = []
    for _ in range(3):
        ids = torch.randint(1, 12, (4, 5), generator=generator)
        lengths = torch.tensor([5, 4, 3, 2])
        mask = torch.arange(5)[None] < lengths[:, None]
        labels = torch.randint(0, 2, (4,), generator=generator)
        batches.append({"input_ids": ids * mask, "lengths": lengths, "mask": mask, "labels": labels,
                        "num_tokens": lengths.sum()})
    return ListBatches(batches)


def _fit(run_dir: Path, max_epochs: int) -> dict[str, torch.Tensor]:
    model = _classifier()
    # A large weight decay: AdamW would shrink a frozen weight whose gradient were merely zero.
    config = TrainerConfig(lr=0.05, weight_decay=0.5, max_epochs=max_epochs, gradual_unfreezing=True,
                           layer_lr_decay=2.6, metric="score", metric_mode="max", progress=False)
    Trainer(model, config, run_dir, _batches(), lambda m: {"score": 0.0}).fit()
    return {name: param.detach().clone() for name, param in model.named_parameters()}


def _changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    return {name for name in before if not torch.equal(before[name], after[name])}


def test_frozen_groups_do_not_move_at_all_and_a_resumed_run_unfreezes_as_a_whole_one(tmp_path: Path) -> None:
    start = {name: param.detach().clone() for name, param in _classifier().named_parameters()}
    epoch0 = _fit(tmp_path / "split", max_epochs=1)
    assert _changed(start, epoch0) == _names("head")  # the rest bit-identical, weight decay and all
    # Resumed from last.pt (end of epoch 0): epoch 1 trains the top encoder layer too.
    epoch1 = _fit(tmp_path / "split", max_epochs=2)
    assert _changed(epoch0, epoch1) == _names("head", "layer1")
    assert _changed(start, epoch1) == _names("head", "layer1")
    whole = _fit(tmp_path / "whole", max_epochs=2)
    assert not _changed(whole, epoch1)


def test_the_tiny_recipe_trains_with_every_ulmfit_setting_through_the_task(tmp_path: Path) -> None:
    import json

    import nlpseq
    from nlpseq.tasks import load_config
    from tests.helpers import sentiment_files

    overrides = [*sentiment_files(tmp_path / "data"), f"run_dir={tmp_path / 'run'}", "trainer.log_every=1",
                 "model.pooling=concat", "trainer.layer_lr_decay=2.6", "trainer.gradual_unfreezing=true",
                 "trainer.schedule=slanted_triangular", "trainer.max_epochs=4"]
    results = nlpseq.train(load_config("recipes/sentiment/tiny.yaml", overrides))
    rows = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    lrs = [row["lr"] for row in rows if row["split"] == "train"]
    # The logged rate is the top group's after each step: up to lr (0.01) at the cut, then down.
    peak = lrs.index(max(lrs))
    assert max(lrs) == pytest.approx(0.01) and 0 < peak < len(lrs) // 4
    assert lrs[-1] < lrs[peak] / 8
    # Learnable data: above chance even with the lower layers frozen for the first epochs.
    assert results["test"]["accuracy"] >= 0.8
