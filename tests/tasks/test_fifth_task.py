"""A fifth task, written here and registered with one line: nothing in nlpseq may need an edit for it.

The task is text-pair classification ("same" when two short word strings share their first word, else
"different"), built from nlpseq's blocks the way classification.py is: the word tokenizer kept in the
run folder, TokenEmbedding + RNNEncoder + Pooling (one siamese encoder for both texts), DatasetSplits'
bucketed batches, the shared data sources and label helpers. It is trained, evaluated and used for
prediction through the command line (in-process, so the registry's monkeypatch is seen) and through
``nlpseq.api``.

Importable as ``tests.tasks.test_fifth_task`` (``pythonpath = ["."]``): pytest imports it under its
own name too, so the module keeps no state at import.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import datasets
import pytest
import torch
from torch import nn

from nlpseq.config import Config, DataConfig
from nlpseq.data.batching import lengths_and_mask, pad
from nlpseq.data.records import read_records
from nlpseq.data.sources import Split, load_file, load_split, load_splits
from nlpseq.errors import DataError
from nlpseq.metrics.classification import classification_metrics
from nlpseq.models.embedding import EmbeddingConfig, TokenEmbedding
from nlpseq.models.encoder import EncoderConfig, RNNEncoder
from nlpseq.models.pooling import Pooling
from nlpseq.ranges import ranged
from nlpseq.tasks import TASKS
from nlpseq.tasks.common import (
    DatasetSplits,
    gather_by_index,
    load_labels,
    prepare_tokenizer,
    restore_labels,
    save_labels,
)
from nlpseq.tasks.contract import Task, model_device
from nlpseq.tasks.options import OptionError
from nlpseq.tokenizers import PAD_ID, load_tokenizer
from tests.helpers import run_cli, write_jsonl

FIRST = ["red", "blue", "green", "black", "white", "grey"]
REST = ["cat", "dog", "car", "tree", "house", "bird", "fish", "road", "lamp", "door"]


# ------------------------------------------------------------------------------------------ the task
@dataclass
class PairDataConfig(DataConfig):
    """The ``data`` section: JSONL rows with two texts and a label."""

    format: str = "jsonl"
    a_field: str = "a"
    b_field: str = "b"
    label_field: str = "label"


@dataclass
class PairModelConfig:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    pooling: Literal["last", "mean", "max", "attention"] = "last"
    hidden_size: int = ranged(32, ge=1)


@dataclass
class PairOutput:
    logits: torch.Tensor
    loss: torch.Tensor | None = None
    num_targets: torch.Tensor | None = None


class PairClassifier(nn.Module):
    """Both texts through one embedding + encoder + pooling; [u, v, u*v, |u-v|] -> MLP -> classes."""

    def __init__(self, vocab_size: int, num_classes: int, config: PairModelConfig):
        super().__init__()
        self.embedding = TokenEmbedding(vocab_size, **asdict(config.embedding))
        self.encoder = RNNEncoder(config.embedding.embedding_dim, **asdict(config.encoder))
        self.pooling = Pooling(config.pooling, self.encoder.output_size)
        size = self.encoder.output_size
        self.head = nn.Sequential(nn.Linear(4 * size, config.hidden_size), nn.Tanh(),
                                  nn.Linear(config.hidden_size, num_classes))

    def _side(self, batch: dict[str, torch.Tensor], side: str) -> torch.Tensor:
        encoded = self.encoder(self.embedding(batch[f"{side}_ids"]), batch[f"{side}_lengths"])
        return self.pooling(encoded, batch[f"{side}_mask"])

    def forward(self, batch: dict[str, torch.Tensor]) -> PairOutput:
        u, v = self._side(batch, "a"), self._side(batch, "b")
        logits = self.head(torch.cat([u, v, u * v, (u - v).abs()], dim=-1))
        if "labels" not in batch:
            return PairOutput(logits)
        loss = nn.functional.cross_entropy(logits.float(), batch["labels"], reduction="sum")
        return PairOutput(logits, loss, torch.tensor(logits.size(0), device=logits.device))


class PairTask(DatasetSplits, Task):
    """Text-pair classification; ``predict`` takes ``"text a<TAB>text b"`` lines."""

    name = "pair"
    data_config = PairDataConfig
    model_config = PairModelConfig
    metrics: ClassVar[dict[str, Literal["max", "min"]]] = {"accuracy": "max", "macro_f1": "max"}
    default_metric = "accuracy"

    def __init__(self, config: Config, run_dir: str | Path):
        super().__init__(config, run_dir)
        self.splits: dict[str, Split] = {}
        self.tokenizer: Any = None
        self.labels: list[str] = []

    # data
    def _normalize(self, record: dict[str, Any], source: str) -> dict[str, Any] | None:
        data = self.config.data
        for name in (data.a_field, data.b_field, data.label_field):
            if not isinstance(record.get(name), str):
                raise DataError(f"field {name!r} must be a string", source, record.get("line"))
        return {"a": record[data.a_field], "b": record[data.b_field], "label": record[data.label_field]}

    def _read(self, path: str) -> Iterable[dict[str, Any]]:
        return read_records(path, self.config.data.format)

    def prepare(self) -> None:
        self.splits = load_splits(self.config.data, self._read, self._normalize, self.config.trainer.seed)
        train = self.splits["train"].dataset
        self.tokenizer = prepare_tokenizer(self.run_dir, "tokenizer", self.config.tokenizer,
                                           texts=lambda: iter([*train["a"], *train["b"]]))
        self.labels = load_labels(self.run_dir, "labels") or sorted(set(train["label"]))
        save_labels(self.run_dir, "labels", self.labels)
        for split in self.splits.values():
            split.dataset = self._encode(split.dataset, split.source)

    def restore(self) -> None:
        self.tokenizer = load_tokenizer(self.run_dir, "tokenizer")
        self.labels = restore_labels(self.run_dir, "labels")

    def _encode(self, dataset: datasets.Dataset, source: str) -> datasets.Dataset:
        known = {label: i for i, label in enumerate(self.labels)}
        for label, line in zip(list(dataset["label"]), list(dataset["line"]), strict=True):
            if label not in known:
                raise DataError(f"label {label!r} never occurs in the training data", source, line)
        labels = [known[x] for x in list(dataset["label"])]
        return self._encode_rows(list(dataset["a"]), list(dataset["b"]), labels)

    def _encode_rows(self, a: list[str], b: list[str], label_ids: list[int]) -> datasets.Dataset:
        cut = self.config.data.max_length
        a_ids = [row[:cut] or [PAD_ID] for row in self.tokenizer.encode(a)]
        b_ids = [row[:cut] or [PAD_ID] for row in self.tokenizer.encode(b)]
        return datasets.Dataset.from_dict({
            "a_ids": a_ids, "b_ids": b_ids, "label_id": label_ids,
            "length": [max(len(x), len(y)) for x, y in zip(a_ids, b_ids, strict=True)]})

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch: dict[str, torch.Tensor] = {"index": torch.tensor([row["index"] for row in rows])}
        tokens = 0
        for side in ("a", "b"):
            ids = [row[f"{side}_ids"] for row in rows]
            lengths, mask = lengths_and_mask(ids)
            batch.update({f"{side}_ids": pad(ids, PAD_ID), f"{side}_lengths": lengths, f"{side}_mask": mask})
            tokens += int(lengths.sum())
        batch["num_tokens"] = torch.tensor(tokens)
        if all(row["label_id"] >= 0 for row in rows):
            batch["labels"] = torch.tensor([row["label_id"] for row in rows])
        return batch

    def load_file(self, path: str) -> datasets.Dataset:
        split = load_file(self.config.data, self._read, self._normalize, path)
        return self._encode(split.dataset, split.source)

    def load_split(self, name: str) -> datasets.Dataset:
        split = load_split(self.config.data, self._read, self._normalize, name, self.config.trainer.seed)
        return self._encode(split.dataset, split.source)

    # model and scoring
    def build_model(self, training: bool) -> nn.Module:
        return PairClassifier(self.tokenizer.vocab_size, len(self.labels), self.config.model)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, dataset: datasets.Dataset, details: bool = False) -> dict[str, Any]:
        device = model_device(model)
        model.eval()
        local = []
        for batch in self.batches(dataset):
            batch = {k: v.to(device) for k, v in batch.items()}
            predicted = model(batch).logits.argmax(-1)
            local += [(i, (g, p)) for i, g, p in zip(batch["index"].tolist(), batch["labels"].tolist(),
                                                      predicted.tolist(), strict=True)]
        pairs = gather_by_index(local)
        metrics = classification_metrics([g for g, _ in pairs], [p for _, p in pairs], self.labels)
        if not details:
            return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
        return metrics

    @torch.no_grad()
    def predict(self, model: nn.Module, texts: list[str]) -> list[dict[str, Any]]:
        """One result per ``a<TAB>b`` line; a line without both texts gets ``label: None``."""
        device = model_device(model)
        model.eval()
        parts = [text.split("\t", 1) for text in texts]
        filled = [i for i, p in enumerate(parts) if len(p) == 2 and p[0].strip() and p[1].strip()]
        results: list[dict[str, Any]] = [{"label": None, "probability": None} for _ in texts]
        if filled:
            dataset = self._encode_rows([parts[i][0] for i in filled], [parts[i][1] for i in filled],
                                        [-1] * len(filled))
            for batch in self.batches(dataset):
                batch = {k: v.to(device) for k, v in batch.items()}
                probs = model(batch).logits.float().softmax(-1)
                for row, p in zip(batch["index"].tolist(), probs.tolist(), strict=True):
                    best = max(range(len(p)), key=p.__getitem__)
                    results[filled[row]] = {"label": self.labels[best], "probability": p[best]}
        return results

    def format_prediction(self, result: dict[str, Any]) -> str:
        return "" if result["label"] is None else f"{result['label']}\t{result['probability']:.4f}"


# ------------------------------------------------------------------------------------------ fixtures
def pair_rows(count: int, seed: int) -> list[dict[str, str]]:
    """Half "same" (both strings start with one colour word), half "different"."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        first = rng.choice(FIRST)
        second = first if i % 2 == 0 else rng.choice([w for w in FIRST if w != first])
        a = " ".join([first, *rng.sample(REST, rng.randint(1, 3))])
        b = " ".join([second, *rng.sample(REST, rng.randint(1, 3))])
        rows.append({"a": a, "b": b, "label": "same" if i % 2 == 0 else "different"})
    return rows


RECIPE = """\
task: pair
data:
  format: jsonl
tokenizer:
  kind: word
model:
  embedding:
    embedding_dim: 16
  encoder:
    rnn_type: gru
    hidden_size: 16
  pooling: last
  hidden_size: 32
trainer:
  lr: 0.01
  max_epochs: 3
  batch_size: 16
  batch_tokens: 512
  progress: false
  log_every: 10
  device: cpu
"""


@pytest.fixture()
def pair_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    """The task registered (one line), a recipe file and its data overrides."""
    monkeypatch.setitem(TASKS, "pair", "tests.tasks.test_fifth_task:PairTask")
    data = tmp_path / "data"
    data.mkdir()
    overrides = [f"data.{split}={write_jsonl(data / f'{split}.jsonl', pair_rows(n, seed))}"
                 for split, n, seed in (("train", 400, 1), ("valid", 60, 2), ("test", 60, 3))]
    overrides.append(f"data.cache_dir={tmp_path / 'cache'}")
    recipe = tmp_path / "pair.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    return recipe, overrides


LEARNT = 0.8  # chance is 0.5 (balanced labels)


def test_a_fifth_task_trains_evaluates_and_predicts_through_the_cli(pair_recipe, tmp_path: Path) -> None:
    recipe, overrides = pair_recipe
    run = tmp_path / "run_cli"
    trained = run_cli("train", str(recipe), *overrides, f"run_dir={run}")
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["task"] == "pair"
    assert summary["test"]["accuracy"] >= LEARNT, summary

    evaluated = run_cli("evaluate", str(run), "--split", "test", "--device", "cpu")
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(results["test"]["accuracy"])

    lines = "red cat dog\tred tree\nblue car\tgreen fish\n\n"
    predicted = run_cli("predict", str(run), "--format", "jsonl", "--device", "cpu", stdin=lines)
    assert predicted.returncode == 0, predicted.stderr
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["same", "different", None]

    helped = run_cli("predict", str(run), "--help")
    assert helped.returncode == 0, helped.stderr
    assert "A pair run takes no options." in helped.stdout
    refused = run_cli("predict", str(run), "--beam-size", "3", stdin="a\tb\n")
    assert refused.returncode == 2 and "--beam-size: not an option of a pair run" in refused.stderr


def test_a_fifth_task_trains_evaluates_and_predicts_through_the_api(pair_recipe, tmp_path: Path) -> None:
    import nlpseq

    recipe, overrides = pair_recipe
    run = tmp_path / "run_api"
    results = nlpseq.train(recipe, [*overrides, f"run_dir={run}"])
    assert results["test"]["accuracy"] >= LEARNT, results["test"]

    predictor = nlpseq.load(run, device="cpu")
    assert predictor.evaluate("test")["accuracy"] == pytest.approx(results["test"]["accuracy"])
    assert predictor.predict("white lamp\twhite door road")["label"] == "same"
    assert [r["label"] for r in predictor.predict(["grey cat\tblack cat", "no tab here"])] == \
        ["different", None]
    with pytest.raises(OptionError, match="beam_size: not an option of a pair run"):
        predictor.set_options(beam_size=2)
