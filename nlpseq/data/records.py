"""Read local record files (JSONL, CSV, TSV, plain text) line by line, with exact error locations.

Every record carries ``line``, the 1-based line it started on, so that later checks (an unseen label,
an empty text) can still name the place in the file. Nothing here skips silently: malformed lines
raise :class:`~nlpseq.errors.DataError`; the caller decides what may be skipped and counts it.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nlpseq.data.lines import read_lines
from nlpseq.errors import DataError

RECORD_FORMATS = ("jsonl", "csv", "tsv", "text")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    for number, text in read_lines(path):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise DataError(f"malformed JSON: {error.msg} at column {error.colno}", path, number) from None
        except RecursionError:
            raise DataError("JSON nested too deeply", path, number) from None
        except ValueError as error:  # an integer past Python's 4,300 digits
            raise DataError(f"unreadable JSON value: {str(error).split(';')[0]}", path, number) from None
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object, got {type(record).__name__}", path, number)
        if _SURROGATE_ESCAPE.search(text):
            _check_surrogates(record, path, number)
        record["line"] = number
        yield record


# A \uD800-\uDFFF escape: JSON allows it, and a pair of them is one character; a lone one is a
# string no UTF-8 can hold (the ``datasets`` cache fails on it far from the line).
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")


def _check_surrogates(value: Any, path: Path, number: int) -> None:
    """A lone surrogate in any string of a record is a DataError naming the line."""
    pending = [value]
    while pending:  # a loop, not recursion: json.loads already bounded the depth
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise DataError("a string holds a lone surrogate escape (\\ud800-\\udfff without its pair): "
                                "not text UTF-8 can hold", path, number) from None
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def read_delimited(path: Path, delimiter: str) -> Iterator[dict[str, Any]]:
    """CSV (RFC 4180 quoting) or TSV (no quoting: a tab always separates). The first row is the header.

    A row with more or fewer fields than the header is an error, not a row to guess at.
    """
    kind = "TSV" if delimiter == "\t" else "CSV"
    # csv needs an iterator of lines; feed it our decoded lines so bad bytes still name their line,
    # and remember each line's number so a quoted multi-line row reports where it started.
    feed = _LineFeed(read_lines(path, strip_newline=False))
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(feed, delimiter=delimiter, quoting=quoting, strict=True)
    header: list[str] | None = None
    while True:
        consumed = len(feed.numbers)
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # Name the line the bad row starts on: an unclosed quote is only noticed where the file ends.
            start = feed.numbers[consumed] if len(feed.numbers) > consumed else None
            end = feed.numbers[-1] if feed.numbers else None
            runs_on = "" if start in (None, end) else f" (the row runs on to line {end}: an unclosed quote?)"
            raise DataError(f"malformed {kind}: {error}{runs_on}", path, end if start is None else start
                            ) from None
        start_line = feed.numbers[min(consumed, len(feed.numbers) - 1)]
        if not row or all(not cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            continue
        if len(row) != len(header):
            raise DataError(
                f"malformed {kind} row: expected {len(header)} fields (header: {', '.join(header)}), "
                f"found {len(row)}",
                path, start_line,
            )
        record: dict[str, Any] = dict(zip(header, row, strict=True))
        record["line"] = start_line
        yield record


class _LineFeed:
    """Iterator of lines for ``csv.reader`` that records the file line number of each line read."""

    def __init__(self, lines: Iterator[tuple[int, str]]):
        self.lines = lines
        self.numbers: list[int] = []

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        number, text = next(self.lines)
        self.numbers.append(number)
        return text


def read_text(path: Path, field: str = "text") -> Iterator[dict[str, Any]]:
    """One record per line (trailing newline removed); blank lines are kept as empty texts."""
    for number, text in read_lines(path):
        yield {field: text, "line": number}


def read_records(path: str | Path, fmt: str, text_field: str = "text") -> Iterator[dict[str, Any]]:
    """Records of a local file in ``fmt`` (one of RECORD_FORMATS), each with its ``line``."""
    path = Path(path)
    if fmt == "jsonl":
        yield from read_jsonl(path)
    elif fmt == "csv":
        yield from read_delimited(path, ",")
    elif fmt == "tsv":
        yield from read_delimited(path, "\t")
    elif fmt == "text":
        yield from read_text(path, text_field)
    else:
        raise DataError(f"format {fmt!r} is not a record format ({', '.join(RECORD_FORMATS)})", path)
