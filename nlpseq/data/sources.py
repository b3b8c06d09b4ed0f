"""One loader for named corpora, hub datasets and local files: every split becomes a ``datasets.Dataset``.

The task hands in ``read(path)``, which yields the raw records of one local file in the task's
formats, and ``normalize(record, where) -> dict | None``: it checks one raw record (raising
:class:`DataError` with the place) and returns the fields the task keeps, or None to skip it (the
skips are counted and logged, never silent). Every record keeps ``line`` (file line, or hub row
number) so later errors can point back at it.
"""

from __future__ import annotations

import hashlib
import logging
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import datasets

from nlpseq import distributed
from nlpseq.config import DataConfig
from nlpseq.data.sniff import check_format, explain
from nlpseq.errors import ConfigError, DataError

log = logging.getLogger("nlpseq.data")

SPLITS = ("train", "valid", "test")

Normalize = Callable[[dict[str, Any], str], "dict[str, Any] | None"]
Read = Callable[[str], Iterable[dict[str, Any]]]


@dataclass
class Split:
    """One loaded split: where it came from (for messages) and its normalised records."""

    name: str
    source: str
    dataset: datasets.Dataset
    skipped: Counter[str]


def resolve_corpus(config: DataConfig, fetch: bool = True) -> DataConfig:
    """Fill ``train``/``valid``/``test`` from a named corpus, fetching it first when missing."""
    if config.corpus is None:
        return config
    from nlpseq.corpora import CORPORA, corpus_dir, fetch_corpus, is_fetched

    if config.corpus not in CORPORA:
        raise ConfigError(f"data.corpus: {config.corpus!r} is not one of {', '.join(sorted(CORPORA))}")
    if fetch and not is_fetched(config.corpus):
        log.info("corpus %s is not in the cache: fetching it", config.corpus)
        fetch_corpus(config.corpus)
    folder = corpus_dir(config.corpus)
    # A corpus may ship a split in several formats (shakespeare: train.txt and train.jsonl): a file
    # whose suffix matches data.format wins; a split in one file only is taken as it is.
    wanted = ".txt" if config.format == "text" else f".{config.format}"
    by_stem: dict[str, str] = {}
    for name in CORPORA[config.corpus].files:
        if Path(name).stem not in by_stem or Path(name).suffix == wanted:
            by_stem[Path(name).stem] = str(folder / name)
    filled = {split: getattr(config, split) or by_stem.get(split) for split in SPLITS}
    return replace(config, **filled)


def _iter_hub(config: DataConfig, split_name: str) -> tuple[str, Iterable[dict[str, Any]]]:
    source = f"{config.hub}[{split_name}]"
    try:
        hub = datasets.load_dataset(config.hub, config.hub_config, split=split_name,
                                    cache_dir=config.cache_dir)
    except Exception as error:  # the hub raises many types; the user needs the name and the reason
        raise DataError(f"could not load hub dataset: {type(error).__name__}: {error}", source) from None
    features = hub.features

    def rows() -> Iterable[dict[str, Any]]:
        for index, row in enumerate(hub):
            row = dict(row)
            # Class-label ids become their names, so labels read the same as in local files.
            for name, feature in features.items():
                if isinstance(feature, datasets.ClassLabel):
                    row[name] = feature.int2str(row[name]) if row[name] >= 0 else None
                elif isinstance(getattr(feature, "feature", None), datasets.ClassLabel):
                    # a sequence of class ids (token tags)
                    row[name] = [feature.feature.int2str(i) for i in row[name]]
            row["line"] = index + 1
            yield row

    return source, rows()


def _normalised(records: Iterable[dict[str, Any]], source: str, normalize: Normalize,
                skipped: Counter[str]) -> list[dict[str, Any]]:
    kept = []
    for record in records:
        out = normalize(record, source)
        if out is None:
            skipped[f"{source}"] += 1
            continue
        out["line"] = record.get("line", 0)
        kept.append(out)
    return kept


def _load_one(config: DataConfig, split: str, read: Read, normalize: Normalize) -> Split | None:
    """Split ``split`` of a resolved config, or None when the data has no such split."""
    skipped: Counter[str] = Counter()
    if config.hub is not None:
        hub_split = {"train": config.train_split, "valid": config.valid_split,
                     "test": config.test_split}[split]
        if hub_split is None:
            return None
        source, rows = _iter_hub(config, hub_split)
        records = _normalised(rows, source, normalize, skipped)
    else:
        path = getattr(config, split)
        if path is None:
            return None
        source = str(path)
        if Path(source).is_file():
            check_format(source, config.format)
        try:
            records = _normalised(read(source), source, normalize, skipped)
        except DataError as error:
            # "malformed JSON at line 1" of a CSV file says what the file is, and what to set.
            raise explain(error, source, config.format) from None
    if not records:
        # Hub splits too: an empty split would otherwise fail later with a bare missing-column error.
        raise DataError("no usable examples" + (f" ({sum(skipped.values())} skipped)" if skipped else "")
                        + ("; is the split empty?" if config.hub is not None else "; is the file empty?"),
                        source)
    if skipped:
        log.warning("%s: skipped %d examples (see the warnings above for the first ones)",
                    source, sum(skipped.values()))
    return Split(split, source, datasets.Dataset.from_list(records), skipped)


def load_splits(config: DataConfig, read: Read, normalize: Normalize, seed: int = 13,
                carve_valid: bool = True) -> dict[str, Split]:
    """Load train/valid/test (test may be absent); carve valid off train when there is none."""
    config = resolve_corpus(config)
    splits = {name: split for name in SPLITS
              if (split := _load_one(config, name, read, normalize)) is not None}
    if "train" not in splits:
        raise ConfigError("data: no training data; set data.corpus, data.hub or data.train")
    if "valid" not in splits and carve_valid:
        splits["train"], splits["valid"] = _carve_valid(splits["train"], config.valid_fraction, seed)
    return splits


def load_split(config: DataConfig, read: Read, normalize: Normalize, name: str, seed: int = 13) -> Split:
    """Split ``name`` of the recipe's data alone, to evaluate a trained run: no other split is read,
    except the training file when the validation split was carved off it."""
    resolved = resolve_corpus(config)
    split = _load_one(resolved, name, read, normalize)
    if split is not None:
        return split
    if name == "valid":
        return load_splits(config, read, normalize, seed)["valid"]
    raise DataError(f"the recipe's data has no {name!r} split")


def load_file(config: DataConfig, read: Read, normalize: Normalize, path: str) -> Split:
    """One local file read like the recipe's data (its format and field names), e.g. for evaluation."""
    data = replace(config, corpus=None, hub=None, train=path, valid=None, test=None)
    return load_splits(data, read, normalize, carve_valid=False)["train"]


def _carve_valid(train: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Split a seeded ``fraction`` of train off as validation data (order-independent of hardware)."""
    n = len(train.dataset)
    if not 0 < fraction < 1:
        raise ConfigError(f"data.valid_fraction must be between 0 and 1 (exclusive), got {fraction}")
    if n < 2:
        raise DataError(f"only {n} training example(s): too few to hold some out for validation",
                        train.source)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cut = max(1, round(n * fraction))
    if cut >= n:  # an empty training split fails far away (a datasets column error), or trains on nothing
        raise DataError(f"data.valid_fraction={fraction} holds out all {n} training examples, leaving none "
                        "to train on; lower it or give data.valid", train.source)
    valid_ids, train_ids = sorted(order[:cut]), sorted(order[cut:])
    log.info("no validation split: using %d of %d training examples (seed %d)", cut, n, seed)
    return (
        Split("train", train.source, train.dataset.select(train_ids), train.skipped),
        Split("valid", f"{train.source} (held out)", train.dataset.select(valid_ids), Counter()),
    )


def cached_map(dataset: datasets.Dataset, function: Callable[[dict[str, list]], dict[str, list]],
               key: str, cache_dir: str | Path | None, remove_columns: list[str] | None = None
               ) -> datasets.Dataset:
    """``dataset.map(function, batched=True)``, cached on disk under a key the caller makes unique.

    ``key`` must change whenever the input or the function's behaviour changes (the tasks hash the
    records, the tokenizer files and the options into it), so a stale cache is never read.
    """
    if cache_dir is None:
        # Beside the corpora by default: $NLPSEQ_DATA/.cache (git-ignored with the data).
        from nlpseq.corpora import data_root

        cache_dir = data_root() / ".cache"
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"data.cache_dir: cannot create {cache_dir} ({error.strerror or error})") from None
    digest = hashlib.sha256(f"{dataset._fingerprint}|{key}".encode()).hexdigest()[:20]

    if not sys.stderr.isatty():
        # Progress bars only on a terminal: in a log file their redraws make one endless line.
        datasets.disable_progress_bars()

    cache_file = cache_dir / f"map-{digest}.arrow"

    def run() -> datasets.Dataset:
        try:
            return dataset.map(function, batched=True, remove_columns=remove_columns,
                               cache_file_name=str(cache_file), load_from_cache_file=True,
                               new_fingerprint=digest)
        except OSError as error:  # a full disk, a read-only cache folder: one line naming the file
            raise DataError(f"cannot write the tokenisation cache ({error.strerror or error}; is the disk "
                            "full? data.cache_dir sets where it goes)", cache_file) from None

    # Under torchrun, rank 0 writes the cache file and the other ranks then read it, rather than all
    # ranks racing to write the same file.
    if distributed.is_main():
        mapped = run()
        distributed.barrier()
        return mapped
    distributed.barrier()
    return run()
