"""The GIMP manual, French and English: extra fr→en training data beside ``lohelp-fr-en``.

Source: Debian's ``gimp-help-en`` and ``gimp-help-fr`` (GFDL-1.2+, ~50 MB each, mostly images),
fetched with ``apt-get download`` or read from ``.deb`` files with ``--from DIR``, opened in Python
(:mod:`nlpseq.corpora.deb`). The pages ``usr/share/gimp/2.0/help/{en,fr}/*.html`` carry no segment
ids, but their block elements (paragraphs, headings, ``dt``, ``td``) come in the same order in both
languages: on pages whose block counts match, the i-th block of one translates the i-th of the other;
pages whose counts differ are dropped whole. Then the same cleaning, split by page and test-overlap
rule as :mod:`nlpseq.corpora.lohelp`.
"""

from __future__ import annotations

import logging
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from nlpseq.corpora import SPLIT_SEED
from nlpseq.corpora.deb import html_pages
from nlpseq.corpora.lohelp import Pair, clean, download_packages, split_by_page, write_split

logger = logging.getLogger("nlpseq.data")

PACKAGES = {"en": "gimp-help-en", "fr": "gimp-help-fr"}
HELP_DIRS = {"en": "usr/share/gimp/2.0/help/en/", "fr": "usr/share/gimp/2.0/help/fr/"}
_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "td"}
_SKIP = {"script", "style"}
_SPACE = re.compile(r"\s+")


class _Blocks(HTMLParser):
    """The text of every block element in document order; text goes to the innermost open block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[list[str]] = []
        self._open: list[tuple[str, list[str]]] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCKS:
            parts: list[str] = []
            self.blocks.append(parts)
            self._open.append((tag, parts))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            # Close up to the matching tag (HTML lets a <p> end implicitly).
            while self._open:
                if self._open.pop()[0] == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self._skip and self._open:
            self._open[-1][1].append(data)


def blocks(html: str) -> list[str]:
    parser = _Blocks()
    parser.feed(html)
    parser.close()
    return [_SPACE.sub(" ", "".join(parts)).strip() for parts in parser.blocks]


def pair_pages(english: dict[str, str], french: dict[str, str]) -> tuple[dict[str, list[Pair]], int]:
    """page -> (fr, en) block pairs on pages with equal block counts; also how many pages mismatched."""
    pages: dict[str, list[Pair]] = {}
    mismatched = 0
    for page in sorted(set(english) & set(french)):
        en, fr = blocks(english[page]), blocks(french[page])
        if len(en) != len(fr):
            mismatched += 1
            continue
        pages[page] = [(f, e) for f, e in zip(fr, en, strict=True) if f and e]
    return pages, mismatched


def _pages(deb: Path, language: str) -> dict[str, str]:
    # GIMP's pages are paired by block order, so a stray bad byte costs one block, not the fetch.
    return html_pages(deb, HELP_DIRS[language], PACKAGES[language], strict=False)


def convert(english_deb: Path, french_deb: Path, out_dir: Path, seed: int = SPLIT_SEED) -> dict[str, int]:
    """Pair, clean and split the two manuals into ``out_dir``; return the counts."""
    pages, mismatched = pair_pages(_pages(english_deb, "en"), _pages(french_deb, "fr"))
    kept, dropped = clean(pages)
    splits, overlap = split_by_page(kept, seed)
    counts = {"pages": len(pages), "pages_mismatched": mismatched,
              **{f"dropped_{k}": v for k, v in dropped.items()}, "dropped_test_overlap": overlap,
              **{name: len(pairs) for name, pairs in splits.items()}}
    write_split(out_dir, splits, counts, f"GIMP manual, French -> English, blocks paired in page order.\n\n"
                f"Source: Debian {english_deb.name} and {french_deb.name} (GFDL-1.2+)")
    logger.info("gimp-fr-en: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts


def fetch(out_dir: Path, from_dir: Path | None = None) -> None:
    if from_dir is not None:
        debs = download_packages(PACKAGES, None, from_dir)
        convert(debs["en"], debs["fr"], out_dir)
        return
    with tempfile.TemporaryDirectory(prefix="nlpseq-gimp-") as scratch:
        debs = download_packages(PACKAGES, Path(scratch), None)
        convert(debs["en"], debs["fr"], out_dir)
