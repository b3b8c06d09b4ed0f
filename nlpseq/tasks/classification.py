"""Many-to-one task: sentence classification (sentiment and other text labels)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import datasets
import torch
from torch import nn

from nlpseq.config import Config, DataConfig
from nlpseq.data.records import read_records
from nlpseq.data.sources import Split, cached_map, load_file, load_split, load_splits
from nlpseq.errors import DataError
from nlpseq.metrics.classification import classification_metrics
from nlpseq.models.classifier import ClassifierConfig, SequenceClassifier
from nlpseq.ranges import matching
from nlpseq.tasks.common import (
    DatasetSplits,
    gather_by_index,
    id_batch,
    load_labels,
    prepare_tokenizer,
    restore_labels,
    save_labels,
    tokenizer_key,
    training_embedding,
)
from nlpseq.tasks.contract import ClassCounts, DataSummary, Task, model_device
from nlpseq.tokenizers import PAD_ID, load_tokenizer
from nlpseq.training.device import move
from nlpseq.training.pretrained import load_pretrained, starts_from_pretrained

log = logging.getLogger("nlpseq.task")


@dataclass
class ClassificationDataConfig(DataConfig):
    """The ``data`` section of a classification recipe: the shared keys plus where text and label are.

    Plain ``text`` files have no labels, so the local formats are the labelled record formats.
    """

    # Local files: jsonl (one object a line), csv (quoted) or tsv (no quoting), each with a header row.
    format: str = matching("jsonl", r"jsonl|csv|tsv",
                           "a labelled format (jsonl, csv or tsv); plain text has no labels")
    # The field (JSONL, hub) or header column (CSV, TSV) holding the text.
    text_field: str = "text"
    # The field or header column holding the label (a string or an integer id).
    label_field: str = "label"
    # Hub datasets often store labels as class ids; these names replace them (in id order).
    label_names: list[str] | None = None


class ClassificationTask(DatasetSplits, Task):
    """Loads text/label data, owns the tokenizer and label vocabulary, builds and scores the model.

    A run folder holds ``tokenizer.*`` and ``labels.json``; :meth:`restore` restores the task
    without any data for prediction.
    """

    name = "classification"
    data_config = ClassificationDataConfig
    model_config = ClassifierConfig
    metrics: ClassVar[dict[str, Literal["max", "min"]]] = {"accuracy": "max", "macro_f1": "max"}
    default_metric = "accuracy"

    @classmethod
    def upstream_keys(cls, config: Config) -> tuple[str, ...]:
        """``model.pretrained``: a language model's run folder, or a recipe name trained first."""
        return ("model.pretrained",) if config.model.pretrained is not None else ()

    def __init__(self, config: Config, run_dir: str | Path):
        super().__init__(config, run_dir)
        self.splits: dict[str, Split] = {}
        self.tokenizer: Any = None
        self.labels: list[str] = []
        self._warned = 0

    # ---------------------------------------------------------------------------------- data
    def _normalize(self, record: dict[str, Any], source: str) -> dict[str, Any] | None:
        data = self.config.data
        line = record.get("line")
        if data.label_field in record and record[data.label_field] is None:
            raise DataError("example has no label (a hub class id of -1 marks unlabelled examples, as in "
                            "GLUE test splits: point data.test_split at a labelled split)", source, line)
        for name in (data.text_field, data.label_field):
            if name not in record or record[name] is None:
                fields = ", ".join(k for k in record if k != "line")
                raise DataError(f"missing field {name!r} (fields present: {fields}); set "
                                f"data.{'text' if name == data.text_field else 'label'}_field", source, line)
        text = record[data.text_field]
        if not isinstance(text, str):
            raise DataError(f"field {data.text_field!r} must be a string, got {type(text).__name__}",
                            source, line)
        label = record[data.label_field]
        if isinstance(label, bool) or not isinstance(label, str | int):
            raise DataError(f"field {data.label_field!r} must be a string or integer, got {label!r}",
                            source, line)
        if data.label_names is not None and isinstance(label, int):
            if not 0 <= label < len(data.label_names):
                raise DataError(f"label id {label} is outside data.label_names", source, line)
            label = data.label_names[label]
        if not text.strip():
            if self._warned < 5:
                log.warning("%s:%s: empty text, skipped", source, line)
            self._warned += 1
            return None
        return {"text": text, "label": str(label)}

    def _read(self, path: str) -> Iterable[dict[str, Any]]:
        return read_records(path, self.config.data.format)

    def prepare(self) -> None:
        """Load the splits, build (or reload) the tokenizer and labels, tokenise with a cache."""
        self.splits = load_splits(self.config.data, self._read, self._normalize, self.config.trainer.seed)
        train = self.splits["train"].dataset
        self.tokenizer = prepare_tokenizer(self.run_dir, "tokenizer", self.config.tokenizer,
                                           texts=lambda: iter(train["text"]))
        self.labels = load_labels(self.run_dir, "labels") or sorted(set(train["label"]))
        save_labels(self.run_dir, "labels", self.labels)
        for split in self.splits.values():
            self._check_labels(split)
            split.dataset = self.tokenize(split.dataset, split.source)

    def describe(self) -> DataSummary:
        """Examples per split, the tokenizer and label set sizes, and each label's training count."""
        summary = super().describe()
        summary.vocabularies = {"tokenizer": self.tokenizer.vocab_size, "labels": len(self.labels)}
        summary.classes = [ClassCounts("labels", Counter(self.splits["train"].dataset["label"]))]
        return summary

    def _check_labels(self, split: Split) -> None:
        known = set(self.labels)
        for label, line in zip(split.dataset["label"], split.dataset["line"], strict=True):
            if label not in known:
                raise DataError(f"label {label!r} never occurs in the training data "
                                f"(known: {', '.join(self.labels)})", split.source, line)

    def tokenize(self, dataset: datasets.Dataset, source: str = "input") -> datasets.Dataset:
        """Add ``input_ids`` and ``length`` (cached on disk per data + tokenizer + options).

        A text longer than ``data.max_length`` tokens keeps its first ``max_length`` tokens (a
        sentiment label rarely hangs on the tail of a long review); how many were cut is logged.
        """
        tokenizer, max_length = self.tokenizer, self.config.data.max_length
        label_ids = {label: i for i, label in enumerate(self.labels)}

        def encode(batch: dict[str, list]) -> dict[str, list]:
            full = tokenizer.encode(batch["text"])
            ids = [row[:max_length] or [PAD_ID] for row in full]
            return {"input_ids": ids, "length": [len(row) for row in ids],
                    "truncated": [len(row) > max_length for row in full],
                    "label_id": [label_ids.get(label, -1) for label in batch["label"]]}

        key = f"{tokenizer_key(self.run_dir, 'tokenizer')}|{max_length}|{self.labels}|truncated"
        encoded = cached_map(dataset, encode, key, self.config.data.cache_dir)
        cut = sum(encoded["truncated"])
        if cut:
            log.warning("%s: %d of %d texts are longer than data.max_length=%d tokens and keep their first "
                        "%d", source, cut, len(encoded), max_length, max_length)
        return encoded

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = id_batch(rows)
        if all(row.get("label_id", -1) >= 0 for row in rows):
            batch["labels"] = torch.tensor([row["label_id"] for row in rows])
        return batch

    # ---------------------------------------------------------------------------------- model
    def build_model(self, training: bool) -> nn.Module:
        cfg: ClassifierConfig = self.config.model
        weights = cfg.class_weights
        if weights == "balanced":
            # n_samples / (n_classes * count) from the training labels (scikit-learn's "balanced").
            # A restored model needs no loss weights (they are not in its state dict), so inference
            # reads no training data for them.
            weights = self.balanced_weights() if training else None
        model = SequenceClassifier(
            self.tokenizer.vocab_size, len(self.labels),
            embedding=training_embedding(cfg.embedding, training), encoder=cfg.encoder,
            pooling=cfg.pooling, dropout=cfg.dropout, class_weights=weights,
            vocabulary=getattr(self.tokenizer, "itos", None) if cfg.embedding.pretrained else None,
        )
        if starts_from_pretrained(cfg.pretrained, self.run_dir, training):
            # After embedding.pretrained's vectors: a language model's row wins where both have a token.
            load_pretrained(cfg.pretrained, model.embedding, model.encoder, self.tokenizer)
        return model

    def balanced_weights(self) -> list[float]:
        """One loss weight per label (in ``labels`` order), ``n_samples / (n_classes * count)`` over
        the prepared training split; needs :meth:`prepare`."""
        if "train" not in self.splits:
            raise RuntimeError("balanced class weights come from the training split: call prepare() first")
        counts = Counter(self.splits["train"].dataset["label"])
        total = sum(counts.values())
        # Every label occurs in train (the vocabulary is built from it), so no count is zero.
        return [total / (len(self.labels) * counts[label]) for label in self.labels]

    # ---------------------------------------------------------------------------------- scoring
    @torch.no_grad()
    def evaluate(self, model: nn.Module, dataset: datasets.Dataset, details: bool = False
                 ) -> dict[str, Any]:
        """Accuracy and macro-F1 (plus per-class scores and the confusion matrix when ``details``)."""
        device = model_device(model)
        local: list[tuple[int, tuple[int, int]]] = []
        for batch in self.batches(dataset):
            batch = move(batch, device)
            predicted = model.predict_proba(batch).argmax(-1)
            for index, gold, pred in zip(batch["index"].tolist(), batch["labels"].tolist(),
                                         predicted.tolist(), strict=True):
                local.append((index, (gold, pred)))
        pairs = gather_by_index(local)
        metrics = classification_metrics([g for g, _ in pairs], [p for _, p in pairs], self.labels)
        if not details:
            return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
        metrics["examples"] = len(pairs)
        return metrics

    @torch.no_grad()
    def predict(self, model: nn.Module, texts: list[str]) -> list[dict[str, Any]]:
        """Label and probability for each raw text (empty texts get ``label: None``)."""
        device = model_device(model)
        rows = [{"text": t, "label": self.labels[0]} for t in texts if t.strip()]
        results: list[dict[str, Any]] = [{"label": None, "probability": None} for _ in texts]
        if rows:
            dataset = self._encode_rows(rows)
            probs_by_index: dict[int, list[float]] = {}
            for batch in self.batches(dataset):
                batch = move({k: v for k, v in batch.items() if k != "labels"}, device)
                for index, probs in zip(batch["index"].tolist(), model.predict_proba(batch).tolist(),
                                        strict=True):
                    probs_by_index[index] = probs
            filled = [i for i, t in enumerate(texts) if t.strip()]
            for row_index, text_index in enumerate(filled):
                probs = probs_by_index[row_index]
                best = max(range(len(probs)), key=probs.__getitem__)
                results[text_index] = {"label": self.labels[best], "probability": probs[best],
                                       "probabilities": dict(zip(self.labels, probs, strict=True))}
        return results

    def _encode_rows(self, rows: list[dict[str, Any]]) -> datasets.Dataset:
        ids = [row[: self.config.data.max_length] or [PAD_ID]
               for row in self.tokenizer.encode([r["text"] for r in rows])]
        return datasets.Dataset.from_dict({"input_ids": ids, "length": [len(r) for r in ids]})

    def format_prediction(self, result: dict[str, Any]) -> str:
        """``label<TAB>probability``; an empty input line gives an empty line."""
        if result["label"] is None:
            return ""
        return f"{result['label']}\t{result['probability']:.4f}"

    def load_file(self, path: str) -> datasets.Dataset:
        """A labelled file in the recipe's format and field names, checked and tokenised."""
        split = load_file(self.config.data, self._read, self._normalize, path)
        self._check_labels(split)
        return self.tokenize(split.dataset, split.source)

    def restore(self) -> None:
        """Reload tokenizer and labels from the run folder (no data needed, nothing written)."""
        self.tokenizer = load_tokenizer(self.run_dir, "tokenizer")
        self.labels = restore_labels(self.run_dir, "labels")

    def load_split(self, name: str) -> datasets.Dataset:
        """Split ``name`` of the recipe's data alone, checked and tokenised (after :meth:`restore`)."""
        split = load_split(self.config.data, self._read, self._normalize, name, self.config.trainer.seed)
        self._check_labels(split)
        return self.tokenize(split.dataset, split.source)

    def report(self, results: dict[str, Any]) -> None:
        """Draw the test (else valid) confusion matrix as ``confusion.png``."""
        from nlpseq.training.plots import plot_confusion

        split = results.get("test") or results.get("valid")
        if split:
            plot_confusion(split["confusion"], self.labels, self.run_dir / "confusion.png")
