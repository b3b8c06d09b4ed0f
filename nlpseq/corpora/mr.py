"""MR: Pang & Lee's movie-review sentences with Hutto & Gilbert's (ICWSM 2014) human ratings.

Only the sdist of ``vaderSentiment==3.3.2`` ships them (the wheel lacks ``additional_resources``):
an inner ``hutto_ICWSM_2014.tar.gz`` holds ``movieReviewSnippets_GroundTruth.txt``, a TSV
``id \\t mean_rating \\t text``. The file is UTF-8 with CRLF line ends and no final newline; the
mean rating of about 20 raters lies in [-4, 4]. Sentences are binarised by the sign of the
rating, the 37 rated exactly 0 are dropped, and the rest split 80/10/10 by a seeded shuffle.

Text is kept as the source spells it (``''`` for double quotes, hyphens already turned into
spaces) except that runs of spaces collapse to one: the source replaced each dash by several
spaces, which says nothing a model should learn.
"""

from __future__ import annotations

import io
import logging
import tarfile
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from nlpseq.corpora import SPLIT_SEED, split_80_10_10, write_jsonl
from nlpseq.corpora.download import download_pypi_file
from nlpseq.errors import DataError

logger = logging.getLogger("nlpseq.data")

PROJECT, FILENAME = "vaderSentiment", "vaderSentiment-3.3.2.tar.gz"
SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
MAX_ABS_RATING = 4.0

README = """\
MR movie-review sentences (Pang & Lee 2005) with the mean human ratings of Hutto & Gilbert (2014).

Source: PyPI vaderSentiment==3.3.2 sdist (sha256 {sha256}),
  {inner} -> {member}. Licence: MIT.
Label: "positive" if the mean rating (in [-4, 4]) is > 0, "negative" if < 0; the sentences rated
  exactly 0 are dropped. "rating" keeps the mean rating, "id" the source's 1-based sentence id.
Text: as in the source, runs of spaces collapsed to one.
Split: rows sorted by id, shuffled with random.Random({seed}), then the first 80% -> train.jsonl,
  the next 10% -> valid.jsonl, the last 10% -> test.jsonl.
Counts: {counts}
"""


def download(dest: Path) -> Path:
    """Download the pinned vaderSentiment sdist into ``dest`` as a plain file (pip would run its
    ``setup.py``), its SHA-256 checked before anything reads it; return its path."""
    return download_pypi_file(PROJECT, FILENAME, SHA256, dest)


def read_ground_truth(archive: Path, member: str = MEMBER) -> str:
    """Return ``member`` of the sdist's inner archive (``movieReviewSnippets_GroundTruth.txt`` by
    default; :mod:`nlpseq.corpora.sentiment_ood` reads its siblings), decoded from UTF-8 (a leading
    byte-order mark dropped)."""
    with tarfile.open(archive) as sdist:
        inner_bytes = _read_member(sdist, INNER_ARCHIVE, archive)
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        raw = _read_member(inner, member, f"{archive}!{INNER_ARCHIVE}")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise DataError(f"not UTF-8: {error}", f"{archive}!{member}") from error


def _read_member(archive: tarfile.TarFile, member: str, where: str | Path) -> bytes:
    try:
        stream = archive.extractfile(member)
    except KeyError:
        stream = None
    if stream is None:
        raise DataError(f"no file {member} inside", where)
    return stream.read()


def parse_ground_truth(text: str, source: str = MEMBER, int_ids: bool = True) -> list[dict[str, Any]]:
    """Parse the ground-truth TSV into rows ``{"id": int, "text": str, "rating": float}``.

    Accepts CRLF or LF line ends and skips blank lines. A line that is not
    ``int \\t float \\t text``, a rating outside [-4, 4] or a repeated id raises
    :class:`DataError` naming the line. ``int_ids=False``: ids are kept as strings (the product
    review and editorial files number their snippets ``review_sentence``, e.g. ``1_3``).
    """
    rows: list[dict[str, Any]] = []
    seen: set[int | str] = set()
    for line_no, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        if len(fields) != 3:
            raise DataError(f"expected id<TAB>rating<TAB>text, got {line[:60]!r}", source, line_no)
        try:
            sentence_id, rating = int(fields[0]) if int_ids else fields[0], float(fields[1])
        except ValueError as error:
            raise DataError(f"bad id or rating: {error}", source, line_no) from None
        if not -MAX_ABS_RATING <= rating <= MAX_ABS_RATING:
            raise DataError(f"rating {rating} outside [-4, 4]", source, line_no)
        if sentence_id in seen:
            raise DataError(f"id {sentence_id} repeated", source, line_no)
        seen.add(sentence_id)
        sentence = " ".join(fields[2].split())
        if not sentence:
            raise DataError("empty text", source, line_no)
        rows.append({"id": sentence_id, "text": sentence, "rating": rating})
    return rows


def binarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label rows by the sign of their rating, drop the zeros, and sort them by id.

    Returns rows ``{"id", "text", "label", "rating"}`` (that key order is the JSONL's).
    """
    labelled = [
        {
            "id": row["id"],
            "text": row["text"],
            "label": "positive" if row["rating"] > 0 else "negative",
            "rating": row["rating"],
        }
        for row in rows
        if row["rating"] != 0
    ]
    # Sorting fixes the shuffle's input order whatever order the rows came in.
    return sorted(labelled, key=lambda row: row["id"])


def split(rows: list[dict[str, Any]], seed: int = SPLIT_SEED) -> dict[str, list[dict[str, Any]]]:
    """Binarise ``rows`` and split them 80/10/10 into ``{"train", "valid", "test"}``."""
    train, valid, test = split_80_10_10(binarise(rows), seed)
    return {"train": train, "valid": valid, "test": test}


def convert(archive: Path, out_dir: Path) -> dict[str, Counter[str]]:
    """Write ``train.jsonl valid.jsonl test.jsonl README.txt`` from the sdist ``archive``.

    Returns the label counts of each split.
    """
    rows = parse_ground_truth(read_ground_truth(archive))
    zeros = sum(row["rating"] == 0 for row in rows)
    logger.info("mr: read %d rated sentences, dropping %d rated 0", len(rows), zeros)
    counts: dict[str, Counter[str]] = {}
    for name, part in split(rows).items():
        write_jsonl(out_dir / f"{name}.jsonl", part)
        counts[name] = Counter(row["label"] for row in part)
        logger.info(
            "mr: wrote %s.jsonl: %d sentences (%d positive, %d negative)",
            name,
            len(part),
            counts[name]["positive"],
            counts[name]["negative"],
        )
    summary = "; ".join(
        f"{name} {sum(c.values())} ({c['positive']} positive, {c['negative']} negative)"
        for name, c in counts.items()
    )
    readme = README.format(sha256=SHA256, inner=INNER_ARCHIVE, member=MEMBER, seed=SPLIT_SEED, counts=summary)
    (out_dir / "README.txt").write_text(readme, encoding="utf-8", newline="\n")
    return counts


def fetch(out_dir: Path) -> None:
    """Download the sdist into a scratch folder and convert it into ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="nlpseq-mr-") as scratch:
        convert(download(Path(scratch)), out_dir)
