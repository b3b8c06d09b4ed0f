"""Out-of-domain sentiment test sets: tweets, product-review and newspaper-editorial sentences with
the human ratings of Hutto & Gilbert (ICWSM 2014), to see how a model trained on MR's movie reviews
does on other kinds of text.

They come from the same pinned ``vaderSentiment==3.3.2`` sdist as MR (:mod:`nlpseq.corpora.mr`):
``tweets_GroundTruth.txt``, ``amazonReviewSnippets_GroundTruth.txt`` and
``nytEditorialSnippets_GroundTruth.txt`` beside ``movieReviewSnippets_GroundTruth.txt``, the same
``id \\t mean_rating \\t text`` TSV. They are test sets only: no split is cut, and no training or
pretraining mix reads them (``../shared/DATA.md``), so they stay an honest check.

Labels are MR's ("positive" / "negative" by the sign of the mean rating), but only for sentences the
raters found clearly polar: ``|mean rating| >= 0.5`` on the [-4, 4] scale. MR's sentences come from
positive or negative reviews and are nearly all polar; many editorial and product sentences are
statements of fact rated about 0, whose sign is noise. ``rating`` keeps the mean for other cuts.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from nlpseq.corpora import write_jsonl
from nlpseq.corpora.mr import INNER_ARCHIVE, SHA256, download, parse_ground_truth, read_ground_truth

logger = logging.getLogger("nlpseq.data")

# Output file stem -> the member of the sdist's inner archive.
MEMBERS = {
    "tweets": "hutto_ICWSM_2014/tweets_GroundTruth.txt",
    "amazon": "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
    "nyt": "hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
}
FILES = tuple(f"{stem}.jsonl" for stem in MEMBERS)
MIN_ABS_RATING = 0.5

README = """\
Out-of-domain sentiment test sets with the mean human ratings of Hutto & Gilbert (2014): tweets,
Amazon product-review sentences and New York Times editorial sentences.

Source: PyPI vaderSentiment==3.3.2 sdist (sha256 {sha256}), {inner} ->
  {members}. Licence: MIT.
Label: "positive" if the mean rating (in [-4, 4]) is >= {cut}, "negative" if <= -{cut}; the sentences
  rated in between are dropped (not clearly polar). "rating" keeps the mean rating, "id" the source's.
Text: as in the source, runs of spaces collapsed to one. Test sets only: never trained on.
Counts: {counts}
"""


def polar(rows: list[dict[str, Any]], cut: float = MIN_ABS_RATING) -> list[dict[str, Any]]:
    """Rows ``{"id", "text", "label", "rating"}`` for the clearly polar ones (``|rating| >= cut``), in
    source order."""
    return [{"id": row["id"], "text": row["text"], "label": "positive" if row["rating"] > 0 else "negative",
             "rating": row["rating"]}
            for row in rows if abs(row["rating"]) >= cut]


def convert(archive: Path, out_dir: Path) -> dict[str, Counter[str]]:
    """Write ``tweets.jsonl amazon.jsonl nyt.jsonl README.txt`` from the sdist ``archive``; return each
    file's label counts."""
    counts: dict[str, Counter[str]] = {}
    for stem, member in MEMBERS.items():
        rows = parse_ground_truth(read_ground_truth(archive, member), member, int_ids=False)
        kept = polar(rows)
        write_jsonl(out_dir / f"{stem}.jsonl", kept)
        counts[stem] = Counter(row["label"] for row in kept)
        logger.info("sentiment-ood: %s.jsonl: %d of %d sentences clearly polar (%d positive, %d negative)",
                    stem, len(kept), len(rows), counts[stem]["positive"], counts[stem]["negative"])
    summary = "; ".join(f"{stem} {sum(c.values())} ({c['positive']} positive, {c['negative']} negative)"
                        for stem, c in counts.items())
    readme = README.format(sha256=SHA256, inner=INNER_ARCHIVE, members=", ".join(MEMBERS.values()),
                           cut=MIN_ABS_RATING, counts=summary)
    (out_dir / "README.txt").write_text(readme, encoding="utf-8", newline="\n")
    return counts


def fetch(out_dir: Path) -> None:
    """Download the sdist into a scratch folder and convert it into ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="nlpseq-sentiment-ood-") as scratch:
        convert(download(Path(scratch)), out_dir)
