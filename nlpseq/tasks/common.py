"""Pieces the classification and tagging tasks share: bucketed batches, label vocabularies,
tokenizers kept in the run folder, gathering predictions across ranks, the tag counts of a run's
start-of-run summary."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import datasets
import torch
from torch.utils.data import DataLoader

from nlpseq import distributed, schemes
from nlpseq.config import Config, TokenizerConfig, TrainerConfig
from nlpseq.data.batching import TokenBudgetBatchSampler, lengths_and_mask, pad
from nlpseq.data.sources import Split
from nlpseq.fileio import write_json
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.tokenizers import PAD_ID, Tokenizer, build_tokenizer, load_tokenizer
from nlpseq.training.run_files import read_bytes, read_labels
from nlpseq.training.summary import ClassCounts, DataSummary

log = logging.getLogger("nlpseq.task")



class BucketedBatches:
    """Length-bucketed batches of a map-style dataset under a token budget.

    Training (``train=True``): shuffled pools, a new order each epoch, every rank an equal share; this
    is the :class:`~nlpseq.training.trainer.TrainingBatches` the trainer iterates. Otherwise: length
    order, every example once (evaluation and prediction).
    """

    def __init__(
        self,
        dataset: datasets.Dataset,
        lengths: Sequence[int],
        collate: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]],
        config: TrainerConfig,
        train: bool,
    ):
        self.sampler = TokenBudgetBatchSampler(
            lengths, config.batch_tokens, config.batch_size, shuffle=train, seed=config.seed,
            pool_batches=config.pool_batches, even_shares=train,
        )
        # A private generator: creating a loader's iterator draws a seed, and drawing it from the global
        # RNG would shift dropout masks, so a resumed run would differ from an uninterrupted one.
        generator = torch.Generator().manual_seed(config.seed)
        self.loader = DataLoader(_Indexed(dataset), batch_sampler=self.sampler, collate_fn=collate,
                                 num_workers=config.num_workers, generator=generator)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.sampler.set_epoch(epoch, skip)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return iter(self.loader)

    def statistics(self) -> dict[str, float]:
        return {"padding_share": round(self.sampler.padding_share(), 4)}


class DatasetSplits:
    """The data side shared by tasks whose prepared splits are rows of a ``datasets.Dataset`` with a
    ``length`` column (classification, tagging, translation): bucketed batches over those rows.

    Mixed in before :class:`~nlpseq.tasks.contract.Task`; the task fills ``splits`` in ``prepare`` and
    provides ``collate``.
    """

    config: Config
    splits: dict[str, Split]
    collate: Callable[[list[dict[str, Any]]], dict[str, torch.Tensor]]

    def batches(self, dataset: datasets.Dataset, train: bool = False) -> BucketedBatches:
        return BucketedBatches(dataset, dataset["length"], self.collate, self.config.trainer, train)

    def training_batches(self) -> BucketedBatches:
        return self.batches(self.splits["train"].dataset, train=True)

    def split(self, name: str) -> datasets.Dataset:
        return self.splits[name].dataset


class _Indexed(torch.utils.data.Dataset):
    """A datasets.Dataset whose items also carry their row index (to re-order gathered predictions)."""

    def __init__(self, dataset: datasets.Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.dataset[index])
        item["index"] = index
        return item

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        # One columnar read per batch instead of one per row: much faster on Arrow tables.
        rows = self.dataset[indices]
        return [{**{k: v[i] for k, v in rows.items()}, "index": index} for i, index in enumerate(indices)]


def id_batch(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """The part of a batch every task shares: padded ``input_ids [B, T]``, ``lengths [B]``,
    ``mask [B, T]``, the rows' dataset ``index [B]`` and ``num_tokens`` (real tokens, for tokens/s)."""
    ids = [row["input_ids"] for row in rows]
    lengths, mask = lengths_and_mask(ids)
    return {"input_ids": pad(ids, PAD_ID), "lengths": lengths, "mask": mask,
            "index": torch.tensor([row["index"] for row in rows]), "num_tokens": lengths.sum()}


def gather_by_index(local: list[tuple[int, Any]]) -> list[Any]:
    """Merge (index, value) pairs from every rank into one list in index order, duplicates dropped."""
    merged: dict[int, Any] = {}
    for part in distributed.all_gather_objects(local):
        for index, value in part:
            merged.setdefault(index, value)
    return [merged[i] for i in sorted(merged)]


def save_labels(run_dir: Path, name: str, labels: list[str]) -> None:
    if distributed.is_main():
        write_json(run_dir / f"{name}.json", labels)


def load_labels(run_dir: Path, name: str) -> list[str] | None:
    """A label vocabulary saved in the run folder (None when it is not there yet)."""
    path = run_dir / f"{name}.json"
    return restore_labels(run_dir, name) if path.is_file() else None


def restore_labels(run_dir: Path, name: str) -> list[str]:
    """A run folder's label vocabulary; missing, not a regular file, damaged or holding a label twice is
    one line naming the file (:func:`nlpseq.training.run_files.read_labels`)."""
    return read_labels(run_dir / f"{name}.json")


def prepare_tokenizer(
    run_dir: Path,
    name: str,
    config: TokenizerConfig,
    texts: Callable[[], Iterable[str]] | None = None,
    words: Callable[[], Iterable[list[str]]] | None = None,
) -> Tokenizer:
    """Training: the run folder's tokenizer ``name``, loaded when it exists (a resumed run), else built
    from the training data by rank 0, saved, and loaded by every rank so all agree on ids. Inference
    (``restore``) calls :func:`~nlpseq.tokenizers.load_tokenizer` instead: it never builds or writes."""
    if distributed.is_main() and not (run_dir / f"{name}.json").is_file():
        tokenizer = build_tokenizer(config, texts() if texts else None, words() if words else None)
        tokenizer.save(run_dir, name)
        log.info("built %s tokenizer %r: %d entries", config.kind, name, tokenizer.vocab_size)
    # Every rank passes this barrier exactly once, whatever it saw on disk: ranks that skip a
    # barrier the others enter deadlock at the next collective.
    distributed.barrier()
    return load_tokenizer(run_dir, name)


def tokenizer_key(run_dir: Path, name: str) -> str:
    """A hash of the saved tokenizer files: part of every tokenisation cache key. Only the regular
    files ``NAME.*`` count: a folder or a FIFO of that name is no tokenizer file, and reading a FIFO
    would block (:func:`~nlpseq.tokenizers.load_tokenizer` has read and checked the real ones)."""
    digest = hashlib.sha256()
    for path in sorted(run_dir.glob(f"{name}.*")):
        if path.is_file():
            digest.update(read_bytes(path))
    return digest.hexdigest()[:16]


def training_embedding(config: EmbeddingConfig, training: bool) -> EmbeddingConfig:
    """The embedding config to build with: pretrained vectors are read only when ``training``; a
    restored model gets its trained vectors from the checkpoint (and the vectors file may be gone)."""
    return config if training else replace(config, pretrained=None)


def tag_summary(summary: DataSummary, rows: list[list[str]], scheme: str | None,
                vocabularies: dict[str, int]) -> DataSummary:
    """A tagging task's :meth:`~nlpseq.tasks.contract.Task.describe`: ``summary`` (examples per split)
    in sentences, with ``vocabularies`` and the training counts of entity types (with a tag scheme,
    from the training tags ``rows``) or of tags per token. Only the count rule warns here: a tag or
    type under 1% of the whole is normal (POS's ``SYM`` and ``X``, OntoNotes' ``LAW``)."""
    if scheme is None:
        counts = ClassCounts("tags", Counter(tag for row in rows for tag in row), "tokens", rare_share=0.0)
    else:
        types = Counter(span[0] for row in rows for span in schemes.to_spans(row, scheme))
        counts = ClassCounts("entity types", types, "entities", rare_share=0.0)
    return replace(summary, unit="sentences", vocabularies=vocabularies, classes=[counts])
