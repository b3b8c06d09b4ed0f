"""The out-of-domain sentiment test sets (tweets, product reviews, editorials) from the vaderSentiment
sdist: converted from a tiny archive built here, never the network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlpseq.corpora import CORPORA, mr, sentiment_ood
from nlpseq.errors import DataError
from tests.unit.corpora.test_corpora import _tar_bytes


def _sdist(path: Path, members: dict[str, str]) -> Path:
    inner = _tar_bytes({name: text.encode("utf-8") for name, text in members.items()})
    path.write_bytes(_tar_bytes({mr.INNER_ARCHIVE: inner}))
    return path


def _files() -> dict[str, str]:
    # As the source writes them: a byte-order mark on one file, CRLF, review_sentence ids.
    return {
        sentiment_ood.MEMBERS["tweets"]: "\ufeff1\t2.7\tSo  lucky.\r\n2\t0.2\tmeh\r\n3\t-1.9\tworst day",
        sentiment_ood.MEMBERS["amazon"]: "1_1\t-0.9\tno picture\r\n1_2\t0.49\tit ships\r\n2_1\t0.5\tworks",
        sentiment_ood.MEMBERS["nyt"]: "1_1\t-0.5\ta grim plan\r\n1_2\t-0.4\tthe council met",
    }


def test_only_clearly_polar_sentences_are_kept_with_mr_labels(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    counts = sentiment_ood.convert(_sdist(tmp_path / "v.tar.gz", _files()), out)
    assert {stem: sum(c.values()) for stem, c in counts.items()} == {"tweets": 2, "amazon": 2, "nyt": 1}
    rows = [json.loads(line) for line in (out / "amazon.jsonl").read_text(encoding="utf-8").splitlines()]
    # 0.49 is inside the neutral band and dropped; 0.5 and -0.9 are kept; ids stay strings.
    assert [(row["id"], row["label"]) for row in rows] == [("1_1", "negative"), ("2_1", "positive")]
    tweets = [json.loads(line) for line in (out / "tweets.jsonl").read_text(encoding="utf-8").splitlines()]
    assert tweets[0] == {"id": "1", "text": "So lucky.", "label": "positive", "rating": 2.7}
    # The labels are the ones an MR model predicts.
    assert {row["label"] for row in tweets} <= {"positive", "negative"}
    assert "tweets 2 (1 positive, 1 negative)" in (out / "README.txt").read_text(encoding="utf-8")
    assert set(CORPORA["sentiment-ood"].files) == {*sentiment_ood.FILES, "README.txt"}


def test_a_missing_member_names_the_archive(tmp_path: Path) -> None:
    files = _files()
    del files[sentiment_ood.MEMBERS["nyt"]]
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match=r"nytEditorialSnippets_GroundTruth\.txt"):
        sentiment_ood.convert(_sdist(tmp_path / "v.tar.gz", files), out)
