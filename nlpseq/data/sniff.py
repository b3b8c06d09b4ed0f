"""What a data file looks like, so that a format mismatch is said as one: "this looks like CSV; the
recipe reads jsonl (set data.format=csv)" instead of "malformed JSON" at line 1.

Only the first lines are read (:data:`SAMPLE_LINES`). The guess is used in two ways:

- after a reader failed on a file (:func:`explain`): the error gains the hint when the file looks like
  another format, or, for CSV/TSV with a missing field, when its first row looks like data rather than
  a header (a header-less file);
- before reading (:func:`check_format`), only where the guess cannot be wrong in a harmful way: a file
  whose every sampled line is a JSON object is refused by the CoNLL, CSV and TSV readers, which would
  otherwise read JSON fragments as words or columns without complaint.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nlpseq.errors import DataError

SAMPLE_LINES = 50

NAMES = {
    "jsonl": "JSON Lines (one JSON object a line)",
    "conll": "CoNLL columns (one word a line, a blank line between sentences)",
    "tsv": "TSV (tab-separated columns)",
    "csv": "CSV (comma-separated columns)",
}


def sample(path: str | Path) -> list[str]:
    """The first :data:`SAMPLE_LINES` lines of ``path`` (undecodable bytes replaced, BOM dropped);
    empty when the file cannot be read (the reader then says why)."""
    lines: list[str] = []
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
                if len(lines) >= SAMPLE_LINES:
                    break
    except OSError:
        return []
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    return lines


def sniff_format(path: str | Path) -> str | None:
    """The format the start of ``path`` looks like (a key of :data:`NAMES`), or None (plain text, or
    nothing to tell)."""
    lines = sample(path)
    filled = [line for line in lines if line.strip()]
    if not filled:
        return None
    # Mostly JSON objects is JSON Lines with a bad line or two (the reader names them), never CSV: an
    # object with two fields has a comma on every line.
    if 2 * sum(_is_json_object(line) for line in filled) >= len(filled):
        return "jsonl"
    # CoNLL: sentences of one-word rows separated by blank lines, every row with the same 2+ columns.
    counts = {len(line.split()) for line in filled}
    positions = [number for number, line in enumerate(lines) if line.strip()]
    blank_between = positions[-1] - positions[0] + 1 > len(positions)
    if blank_between and len(counts) == 1 and 2 <= counts.pop() <= 12:
        return "conll"
    if _same_columns(filled, "\t"):
        return "tsv"
    if _same_columns(filled, ","):
        return "csv"
    return None


def _is_json_object(line: str) -> bool:
    if not line.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _rows(lines: list[str], delimiter: str) -> list[list[str]]:
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    try:
        return [row for row in csv.reader(lines, delimiter=delimiter, quoting=quoting) if row]
    except csv.Error:
        return []


def _same_columns(lines: list[str], delimiter: str) -> bool:
    rows = _rows(lines, delimiter)
    return bool(rows) and len({len(row) for row in rows}) == 1 and len(rows[0]) >= 2


def format_hint(path: str | Path, fmt: str) -> str:
    """"this looks like X; the recipe reads FMT (set data.format=X)", or "" when the file does not
    look like another format."""
    found = sniff_format(path)
    if found is None or found == fmt or (found == "conll" and fmt in ("conllu", "text")):
        return ""
    return f"this looks like {NAMES[found]}; the recipe reads {fmt} (set data.format={found})"


def headerless_hint(path: str | Path, fmt: str) -> str:
    """For CSV/TSV: a hint when the first row, read as the header, looks like data (a header-less file:
    a header cell of several words, or one that recurs as a value of its column below)."""
    if fmt not in ("csv", "tsv"):
        return ""
    delimiter = "\t" if fmt == "tsv" else ","
    rows = _rows([line for line in sample(path) if line.strip()], delimiter)
    if len(rows) < 2:
        return ""
    header, body = rows[0], rows[1:]
    values = [{row[i] for row in body if i < len(row)} for i in range(len(header))]
    if not any(len(cell.split()) >= 3 or cell in values[i] for i, cell in enumerate(header)):
        return ""
    shown = ", ".join(repr(cell[:30]) for cell in header)
    return (f"its first row ({shown}) is read as the header but looks like data: a {fmt.upper()} file "
            "needs a first row naming its columns (the field names the recipe reads)")


def explain(error: DataError, path: str, fmt: str) -> DataError:
    """``error`` from reading ``path`` as ``fmt``, with what the file looks like added when it says
    more (unchanged otherwise, and for errors about other files)."""
    if error.path != str(path):
        return error
    hint = format_hint(path, fmt)
    if not hint and error.message.startswith("missing field"):
        hint = headerless_hint(path, fmt)
    return DataError(f"{error.message}; {hint}", error.path, error.line) if hint else error


def check_format(path: str | Path, fmt: str) -> None:
    """Refuse a JSON Lines file given to a column reader (CoNLL, CSV, TSV), which would read it without
    an error into nonsense; every other mismatch is left to the reader, whose error :func:`explain`
    completes."""
    lines = [line for line in sample(path) if line.strip()]
    if fmt in ("conll", "conllu", "csv", "tsv", "brown") and lines and all(map(_is_json_object, lines)):
        raise DataError(f"this looks like {NAMES['jsonl']}; the recipe reads {fmt} (set data.format=jsonl)",
                        path, 1)
