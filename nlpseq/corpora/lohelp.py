"""LibreOffice help, French and English, as parallel text for fr→en translation.

Source: Debian's ``libreoffice-help-en-us`` and ``libreoffice-help-fr`` (MPL-2.0), fetched with
``apt-get download`` (never installed), or read from ``.deb`` files a person already has
(``nlpseq data fetch lohelp-fr-en --from DIR``). The version is not pinned: Debian's security updates
replace it, so the counts below may move a little between fetches; the README written beside the data
records the package files read.

Every help page ``usr/share/libreoffice/help/{en-US,fr}/text/**.html`` carries its paragraphs and
headings with ids identical in both languages (``<p id="par_id3154943">``, ``<h2 id="hd_id...">``):
pairing segments by (page, id) is an exact alignment, no sentence aligner needed. Then, in order:

1. collapse whitespace; drop pairs whose sides are identical (untranslated names, formulas) or empty,
   and pairs with more than 100 words (or none) on a side; keep the first of duplicate pairs;
2. split BY PAGE (seeded shuffle of the sorted page list, ~90/5/5), so near-identical segments of one
   page never sit on both sides of the split;
3. remove train and valid pairs whose English side also occurs in test.

Output: ``train|valid|test.{fr,en}``, one segment a line, aligned by line, plus ``README.txt``.
"""

from __future__ import annotations

import logging
import random
import re
import shutil
import tempfile
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from nlpseq.corpora import SPLIT_SEED
from nlpseq.corpora.deb import html_pages
from nlpseq.corpora.download import run_command
from nlpseq.errors import NlpseqError

logger = logging.getLogger("nlpseq.data")

PACKAGES = {"en": "libreoffice-help-en-us", "fr": "libreoffice-help-fr"}
HELP_DIRS = {"en": "usr/share/libreoffice/help/en-US/text/", "fr": "usr/share/libreoffice/help/fr/text/"}
MAX_WORDS = 100
FILES = ("train.fr", "train.en", "valid.fr", "valid.en", "test.fr", "test.en", "README.txt")
_SEGMENT_ID = re.compile(r"^(par|hd)_id")
_SEGMENT_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6"}
_SKIP_TAGS = {"script", "style"}
_SPACE = re.compile(r"\s+")

Pair = tuple[str, str]  # (french, english)


class _Segments(HTMLParser):
    """Collect the text of every ``p``/``h*`` element whose id is a ``par_id``/``hd_id``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.segments: list[tuple[str, list[str]]] = []
        self._open: list[tuple[str, list[str]]] = []  # (tag, text parts) of open segments
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "br":
            self.handle_data(" ")
        elif tag in _SEGMENT_TAGS:
            ident = dict(attrs).get("id") or ""
            if _SEGMENT_ID.match(ident):
                parts: list[str] = []
                self.segments.append((ident, parts))
                self._open.append((tag, parts))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif self._open and tag == self._open[-1][0]:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            for _, parts in self._open:
                parts.append(data)


def segments(html: str) -> dict[tuple[str, int], str]:
    """``(id, occurrence) -> text`` of one page (an id repeated within a page pairs by its order)."""
    parser = _Segments()
    parser.feed(html)
    parser.close()
    found: dict[tuple[str, int], str] = {}
    seen: dict[str, int] = {}
    for ident, parts in parser.segments:
        occurrence = seen.get(ident, 0)
        seen[ident] = occurrence + 1
        found[(ident, occurrence)] = _SPACE.sub(" ", "".join(parts)).strip()
    return found


def pair_pages(english: dict[str, str], french: dict[str, str]) -> dict[str, list[Pair]]:
    """page -> its (fr, en) segment pairs, matched by (page, id); pages in one language only are dropped."""
    pages: dict[str, list[Pair]] = {}
    for page in sorted(set(english) & set(french)):
        en, fr = segments(english[page]), segments(french[page])
        pages[page] = [(fr[key], en[key]) for key in en if key in fr]
    return pages


def clean(pages: dict[str, list[Pair]]) -> tuple[dict[str, list[Pair]], dict[str, int]]:
    """Drop identical, empty, too-long and duplicate pairs (first occurrence in page order kept)."""
    dropped = {"identical": 0, "length": 0, "duplicate": 0}
    seen: set[Pair] = set()
    kept: dict[str, list[Pair]] = {}
    for page, pairs in pages.items():
        for fr, en in pairs:
            if fr == en:
                dropped["identical"] += 1
            elif not (1 <= len(fr.split()) <= MAX_WORDS and 1 <= len(en.split()) <= MAX_WORDS):
                dropped["length"] += 1
            elif (fr, en) in seen:
                dropped["duplicate"] += 1
            else:
                seen.add((fr, en))
                kept.setdefault(page, []).append((fr, en))
    return kept, dropped


def split_by_page(pages: dict[str, list[Pair]], seed: int = SPLIT_SEED
                  ) -> tuple[dict[str, list[Pair]], int]:
    """Seeded ~90/5/5 split of the pages; then train/valid pairs whose English is in test are removed.

    Returns the splits and how many pairs the test-overlap rule removed.
    """
    order = sorted(pages)
    random.Random(seed).shuffle(order)
    held_out = max(1, round(len(order) * 0.05)) if len(order) >= 3 else 0
    cut = {"test": order[:held_out], "valid": order[held_out:2 * held_out], "train": order[2 * held_out:]}
    splits = {name: [pair for page in sorted(names) for pair in pages[page]] for name, names in cut.items()}
    test_english = {en for _, en in splits["test"]}
    removed = 0
    for name in ("train", "valid"):
        before = len(splits[name])
        splits[name] = [(fr, en) for fr, en in splits[name] if en not in test_english]
        removed += before - len(splits[name])
    return splits, removed


def _help_pages(deb: Path, language: str) -> dict[str, str]:
    return html_pages(deb, HELP_DIRS[language], PACKAGES[language])


def convert(english_deb: Path, french_deb: Path, out_dir: Path, seed: int = SPLIT_SEED) -> dict[str, int]:
    """Pair, clean and split the two packages' help pages into ``out_dir``; return the counts."""
    english, french = _help_pages(english_deb, "en"), _help_pages(french_deb, "fr")
    pages = pair_pages(english, french)
    raw_pairs = sum(len(pairs) for pairs in pages.values())
    kept, dropped = clean(pages)
    splits, overlap = split_by_page(kept, seed)
    counts = {"pages": len(pages), "segment_pairs": raw_pairs,
              **{f"dropped_{k}": v for k, v in dropped.items()}, "dropped_test_overlap": overlap,
              **{name: len(pairs) for name, pairs in splits.items()}}
    write_split(out_dir, splits, counts,
                "LibreOffice help, French -> English, paired by (page, segment id).\n\n"
                f"Source: Debian {english_deb.name} and {french_deb.name} (MPL-2.0)")
    logger.info("lohelp-fr-en: %d pages, %d segment pairs; dropped %d identical, %d by length, %d duplicate, "
                "%d train/valid pairs whose English is in test; train %d, valid %d, test %d pairs",
                counts["pages"], raw_pairs, dropped["identical"], dropped["length"], dropped["duplicate"],
                overlap, counts["train"], counts["valid"], counts["test"])
    return counts


def write_split(out_dir: Path, splits: dict[str, list[Pair]], counts: dict[str, int], header: str) -> None:
    """``NAME.fr``/``NAME.en`` per split (aligned by line) and a README with ``header`` and the counts."""
    for name, pairs in splits.items():
        for side, language in ((0, "fr"), (1, "en")):
            _write_lines(out_dir / f"{name}.{language}", (pair[side] for pair in pairs))
    lines = "\n".join(f"  {key}: {value}" for key, value in counts.items())
    (out_dir / "README.txt").write_text(
        f"{header}, read by nlpseq (nlpseq/corpora/); split by page, seed {SPLIT_SEED}, ~90/5/5; "
        f"train/valid pairs whose English side is in test removed.\n\nCounts:\n{lines}\n",
        encoding="utf-8", newline="\n")


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        for line in lines:
            stream.write(line + "\n")


def find_debs(folder: Path, packages: dict[str, str] = PACKAGES) -> dict[str, Path]:
    """The two packages' ``.deb`` files in ``folder`` (the newest name when there are several)."""
    found = {}
    for language, package in packages.items():
        candidates = sorted(Path(folder).glob(f"{package}_*.deb"))
        if not candidates:
            raise NlpseqError(f"{folder}: no {package}_*.deb here; put {packages['en']} and "
                              f"{packages['fr']} .deb files in it")
        found[language] = candidates[-1]
    return found


def download(dest: Path, packages: dict[str, str] = PACKAGES, corpus: str = "lohelp-fr-en"
             ) -> dict[str, Path]:
    """``apt-get download`` both packages into ``dest`` (nothing installed, no maintainer scripts run)."""
    hint = (f"fetch the Debian packages {packages['en']} and {packages['fr']} (e.g. `apt-get download "
            f"{packages['en']} {packages['fr']}` on a Debian/Ubuntu machine) and run "
            f"`nlpseq data fetch {corpus} --from DIR`")
    if shutil.which("apt-get") is None:
        raise NlpseqError(f"{corpus}: apt-get is not available here; {hint}")
    try:
        run_command(["apt-get", "download", packages["en"], packages["fr"]], cwd=dest)
    except NlpseqError as error:
        reason = str(error).splitlines()[-1]
        raise NlpseqError(f"{corpus}: apt-get download failed ({reason}); run `apt-get update` "
                          f"first, or {hint}") from None
    return find_debs(dest, packages)


def download_packages(packages: dict[str, str], dest: Path | None, from_dir: Path | None,
                      corpus: str = "gimp-fr-en") -> dict[str, Path]:
    """The two ``.deb`` files: found in ``from_dir`` when given, else downloaded into ``dest``."""
    if from_dir is not None:
        return find_debs(from_dir, packages)
    assert dest is not None
    return download(dest, packages, corpus)


def fetch(out_dir: Path, from_dir: Path | None = None) -> None:
    """Convert the packages from ``from_dir``, or downloaded into a scratch folder, into ``out_dir``."""
    if from_dir is not None:
        debs = find_debs(from_dir)
        convert(debs["en"], debs["fr"], out_dir)
        return
    with tempfile.TemporaryDirectory(prefix="nlpseq-lohelp-") as scratch:
        debs = download(Path(scratch))
        convert(debs["en"], debs["fr"], out_dir)
