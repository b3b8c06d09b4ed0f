"""The LibreOffice help corpus (nlpseq/corpora/lohelp.py, deb.py) on tiny fake .deb files built here."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from nlpseq.corpora import lohelp
from nlpseq.corpora.deb import read_members
from nlpseq.errors import DataError, NlpseqError


def ar_archive(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def data_tar(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return buffer.getvalue()


def make_deb(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    path.write_bytes(ar_archive({"debian-binary": b"2.0\n", "control.tar.xz": data_tar({}),
                                 "data.tar.xz": data_tar(files, links)}))
    return path


def page(title: str, segments: list[tuple[str, str]]) -> bytes:
    body = "".join(f'<p id="{ident}" class="paragraph">{text}</p>\n' for ident, text in segments)
    return (f"<html><head><script>var x = 1;</script></head><body><h1 id=\"hd_id1\">{title}"
            f"</h1>{body}</body></html>").encode()


def help_debs(folder: Path, pages: int = 40) -> dict[str, Path]:
    english, french = {}, {}
    for number in range(pages):
        name = f"text/scalc/01/{number:04d}.html"
        english[f"./usr/share/libreoffice/help/en-US/{name}"] = page(f"Title {number}", [
            ("par_id10", f"Click  <span>Format</span> -\n Cells {number}."), ("par_id11", "LibreOffice"),
            ("par_id12", "Choose Tools - Options."), ("par_id13", "Only in English.")])
        french[f"./usr/share/libreoffice/help/fr/{name}"] = page(f"Titre {number}", [
            ("par_id10", f"Cliquez sur Format - Cellules {number}."), ("par_id11", "LibreOffice"),
            ("par_id12", "Choisissez Outils - Options.")])
    return {"en": make_deb(folder / "libreoffice-help-en-us_7.4_all.deb", english),
            "fr": make_deb(folder / "libreoffice-help-fr_7.4_all.deb", french)}


def test_pairs_by_page_and_id_cleans_and_splits_by_page(tmp_path: Path) -> None:
    debs = help_debs(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    counts = lohelp.convert(debs["en"], debs["fr"], out)
    # Per page: h1 + par_id10 + par_id11 + par_id12 pair (par_id13 has no French); par_id11 is identical
    # on both sides; "Choose Tools - Options." repeats on every page (a duplicate after the first).
    assert counts["pages"] == 40 and counts["segment_pairs"] == 160
    assert counts["dropped_identical"] == 40 and counts["dropped_duplicate"] == 39
    assert (counts["test"], counts["valid"]) == (4, 4)  # 2 pages each: 5% of 40
    assert counts["train"] + counts["valid"] + counts["test"] + counts["dropped_test_overlap"] == 81
    train_en = (out / "train.en").read_text(encoding="utf-8").splitlines()
    train_fr = (out / "train.fr").read_text(encoding="utf-8").splitlines()
    assert len(train_en) == len(train_fr) == counts["train"]
    pairs = dict(zip(train_en, train_fr, strict=True))
    assert "Click Format - Cells 7." in pairs or "Click Format - Cells 7." in (out / "test.en").read_text() \
        or "Click Format - Cells 7." in (out / "valid.en").read_text()
    for en, fr in pairs.items():  # whitespace collapsed, markup gone, sides aligned
        assert "  " not in en and "<" not in en
        assert en.split()[-1] == fr.split()[-1] or en.startswith("Choose")
    test_en = set((out / "test.en").read_text(encoding="utf-8").splitlines())
    assert not test_en & set(train_en)
    assert (out / "README.txt").is_file()


def test_unsafe_members_are_refused_before_reading(tmp_path: Path) -> None:
    escape = "./usr/share/libreoffice/help/en-US/../../../../etc/x.html"
    evil = make_deb(tmp_path / "evil.deb", {escape: b"x"})
    with pytest.raises(DataError, match=r"unsafe member path"):
        read_members(evil, lambda name: name.startswith("usr/share/libreoffice/help/"))
    link = "./usr/share/libreoffice/help/en-US/text/a.html"
    linked = make_deb(tmp_path / "link.deb", {}, {link: "/etc/passwd"})
    with pytest.raises(DataError, match=r"refusing link member"):
        read_members(linked, lambda name: name.startswith("usr/share/libreoffice/help/"))
    (tmp_path / "not.deb").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match="not a Debian package"):
        read_members(tmp_path / "not.deb", lambda name: True)


def test_fetch_from_a_folder_and_clear_errors_without_apt(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from nlpseq.corpora import fetch_corpus

    (tmp_path / "debs").mkdir()
    help_debs(tmp_path / "debs")
    folder = fetch_corpus("lohelp-fr-en", root=tmp_path / "data", from_dir=tmp_path / "debs")
    assert (folder / "train.fr").is_file() and (folder / "test.en").is_file()
    with pytest.raises(NlpseqError, match=r"no libreoffice-help-en-us_\*\.deb here"):
        lohelp.find_debs(tmp_path)
    monkeypatch.setattr(lohelp.shutil, "which", lambda name: None)
    with pytest.raises(NlpseqError, match=r"apt-get is not available here; fetch the Debian packages "
                                          r"libreoffice-help-en-us and libreoffice-help-fr .* --from DIR"):
        lohelp.download(tmp_path)
    with pytest.raises(NlpseqError, match=r"--from: mr comes from a registry archive"):
        fetch_corpus("mr", root=tmp_path / "data", from_dir=tmp_path / "debs")


def test_gimp_pairs_blocks_in_order_on_pages_whose_counts_match(tmp_path: Path) -> None:
    from nlpseq.corpora import gimp

    def manual(language: str, words: dict[str, str]) -> bytes:
        return (f"<html><body><h1>{words['title']}</h1><p>{words['open']}<p>{words['close']}"
                f"<table><tr><td>{words['cell']}</td></tr></table></body></html>").encode()

    english, french = {}, {}
    for number in range(40):
        english[f"./usr/share/gimp/2.0/help/en/page{number}.html"] = manual("en", {
            "title": f"Layers {number}", "open": "Open the image.", "close": f"Close it {number}.",
            "cell": "Ctrl"})
        french[f"./usr/share/gimp/2.0/help/fr/page{number}.html"] = manual("fr", {
            "title": f"Calques {number}", "open": "Ouvrez l'image.", "close": f"Fermez-la {number}.",
            "cell": "Ctrl"})
    english["./usr/share/gimp/2.0/help/en/extra.html"] = b"<p>One</p><p>Two</p>"
    french["./usr/share/gimp/2.0/help/fr/extra.html"] = b"<p>Un</p>"  # counts differ: page dropped
    en = make_deb(tmp_path / "gimp-help-en_2.10_all.deb", english)
    fr = make_deb(tmp_path / "gimp-help-fr_2.10_all.deb", french)
    out = tmp_path / "out"
    out.mkdir()
    counts = gimp.convert(en, fr, out)
    assert counts["pages"] == 40 and counts["pages_mismatched"] == 1
    # "Ctrl" is the same in both languages; "Open the image." repeats on every page.
    assert counts["dropped_identical"] == 40 and counts["dropped_duplicate"] == 39
    pairs = dict(zip((out / "train.en").read_text().splitlines(), (out / "train.fr").read_text().splitlines(),
                     strict=True))
    assert all(en.split()[-1].rstrip(".") == fr.split()[-1].rstrip(".") for en, fr in pairs.items()
               if en[-2].isdigit())
