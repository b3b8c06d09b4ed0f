"""Input lines for ``predict`` and ``generate``: from a file or stdin, UTF-8 checked with the line
named, one line out per line in (only "\\n" splits a line), read as they arrive so output can stream.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from nlpseq.errors import NlpseqError


def text_lines(text: str) -> list[str]:
    """Lines split on "\\n" only (str.splitlines also splits on U+2028, \\x0c, \\x85 ...), a CRLF's
    "\\r" dropped, no empty last line for a final newline: one line out per input line, always."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def decode_line(raw: bytes, name: str, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NlpseqError(f"{name}:{number}: input is not UTF-8 (byte {raw[error.start]:#x})") from None


def input_batches(path: str | None, size: int) -> Iterator[list[str]]:
    """Input lines in groups of ``size``, read as they arrive (stdin) so output can stream."""
    if path is not None:
        lines = read_input(path)
        for start in range(0, len(lines), size):
            yield lines[start:start + size]
        return
    batch: list[str] = []
    for number, raw in enumerate(iter(sys.stdin.buffer.readline, b""), 1):
        text = decode_line(raw, "<stdin>", number)
        if number == 1:
            text = text.removeprefix("\ufeff")
        batch.extend(text_lines(text))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_input(path: str | None) -> list[str]:
    """Raw input lines from a file or stdin; a missing file or non-UTF-8 bytes is a clear error."""
    name = path or "<stdin>"
    try:
        if path is None:
            raw = sys.stdin.buffer.read()
        else:
            raw = Path(path).read_bytes()
    except OSError as error:
        raise NlpseqError(f"{name}: cannot read input ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise NlpseqError(f"{name}:{line}: input is not UTF-8 (byte {raw[error.start]:#x})") from None
    return text_lines(text.removeprefix("\ufeff"))
