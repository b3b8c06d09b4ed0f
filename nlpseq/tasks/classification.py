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
from nlpseq.data.subsample import keep_fraction
from nlpseq.errors import DataError
from nlpseq.metrics.classification import classification_metrics
from nlpseq.models.classifier import ClassifierConfig, SequenceClassifier
from nlpseq.ranges import matching, ranged
from nlpseq.tasks.classification_ensemble import Member, ensemble_report, load_members
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
from nlpseq.tasks.options import CLASSIFICATION_OPTIONS
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
    # Train on this share of the training examples (a learning curve's x), drawn per label so every
    # label keeps its share (and at least one example); valid and test are untouched (a valid split
    # carved off train is carved first, from all of it). The tokenizer is built from the kept examples
    # too: the run sees nothing of the rest. Logged as "training on K of N examples".
    train_fraction: float = ranged(1.0, gt=0, le=1)
    # Seed of that draw (None: trainer.seed, so each seed of a learning curve also draws its own
    # subset; set it to vary only the model's initialisation over one fixed subset).
    train_fraction_seed: int | None = ranged(None, ge=0, lt=2**63)


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
    options = CLASSIFICATION_OPTIONS

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
        # Other runs whose class probabilities evaluate and predict average with this one's (ensemble).
        self.members: list[Member] = []

    def set_options(self, **options: Any) -> None:
        """``ensemble``: comma-separated folders of other classification runs of the same labels, whose
        class probabilities :meth:`evaluate` and :meth:`predict` then average with this run's (see
        :mod:`nlpseq.tasks.classification_ensemble`). Each call sets the whole set: none given, none."""
        unknown = sorted(set(options) - {option.name for option in CLASSIFICATION_OPTIONS})
        if unknown:
            super().set_options(**{name: options[name] for name in unknown})
        ensemble = options.get("ensemble")
        self.members = load_members(ensemble, self) if ensemble is not None else []

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

    def read_splits(self) -> dict[str, Split]:
        """Every split read and checked, not tokenised, train cut to ``data.train_fraction``; writes
        nothing (``bench/learning_curve.py`` counts a run's training examples with it)."""
        data, seed = self.config.data, self.config.trainer.seed
        splits = load_splits(data, self._read, self._normalize, seed)
        if data.train_fraction < 1:
            draw = data.train_fraction_seed if data.train_fraction_seed is not None else seed
            splits["train"] = keep_fraction(splits["train"], data.train_fraction, draw)
        return splits

    def prepare(self) -> None:
        """Load the splits, build (or reload) the tokenizer and labels, tokenise with a cache."""
        self.splits = self.read_splits()
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
    def probabilities(self, model: nn.Module, dataset: datasets.Dataset) -> torch.Tensor:
        """Class probabilities ``[N, C]`` (C in ``labels`` order) of the N rows of a tokenised
        ``dataset``, in row order; every rank under torchrun gets all of them."""
        device = model_device(model)
        local: list[tuple[int, list[float]]] = []
        for batch in self.batches(dataset):
            batch = move({k: v for k, v in batch.items() if k != "labels"}, device)
            local.extend(zip(batch["index"].tolist(), model.predict_proba(batch).tolist(), strict=True))
        rows = gather_by_index(local)
        return torch.tensor(rows) if rows else torch.zeros(0, len(self.labels))

    def _scored(self, model: nn.Module, dataset: datasets.Dataset, texts: list[str] | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The probabilities ``[N, C]`` to decide by, and each model's own: this run's alone, or with
        an ensemble their mean (each member reads ``texts``, else ``dataset``'s texts, its own way)."""
        own = self.probabilities(model, dataset)
        if not self.members:
            return own, [own]
        each = [own, *(member.probabilities(dataset, texts, model_device(model)) for member in self.members)]
        return torch.stack(each).mean(0), each

    def evaluate(self, model: nn.Module, dataset: datasets.Dataset, details: bool = False
                 ) -> dict[str, Any]:
        """Accuracy and macro-F1 (plus per-class scores and the confusion matrix when ``details``;
        with an ensemble also each member's own accuracy and macro-F1, under ``ensemble``)."""
        probs, each = self._scored(model, dataset)
        gold = list(dataset["label_id"])
        metrics = classification_metrics(gold, probs.argmax(-1).tolist(), self.labels)
        if not details:
            return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
        metrics["examples"] = len(gold)
        if self.members:
            metrics["ensemble"] = ensemble_report(self.run_dir, self.members, each, gold, self.labels)
        return metrics

    def predict(self, model: nn.Module, texts: list[str]) -> list[dict[str, Any]]:
        """Label and probability for each raw text (empty texts get ``label: None``); with an ensemble,
        the probabilities are the mean of its members'."""
        results: list[dict[str, Any]] = [{"label": None, "probability": None} for _ in texts]
        filled = [i for i, t in enumerate(texts) if t.strip()]
        if filled:
            kept = [texts[i] for i in filled]
            probs, _ = self._scored(model, self.encode_texts(kept), kept)
            for text_index, row in zip(filled, probs.tolist(), strict=True):
                best = max(range(len(row)), key=row.__getitem__)
                results[text_index] = {"label": self.labels[best], "probability": row[best],
                                       "probabilities": dict(zip(self.labels, row, strict=True))}
        return results

    def encode_texts(self, texts: list[str]) -> datasets.Dataset:
        """Raw texts as a dataset of ``input_ids`` and ``length`` (cut to ``data.max_length``)."""
        ids = [row[: self.config.data.max_length] or [PAD_ID] for row in self.tokenizer.encode(texts)]
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
