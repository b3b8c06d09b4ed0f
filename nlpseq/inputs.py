"""Input lines for ``predict`` and ``generate``: from a file or stdin, UTF-8 checked with the line
named, one line out per line in (only "\\n" splits a line), read as they arrive so output can stream.

Every line :func:`input_batches` yields is an :class:`InputLine`: a ``str`` that also knows its
1-based number in the whole input, so a task can name the line in a warning or an error ("line 6",
not "line 2 of the third batch") while every other piece of code sees a plain string.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from nlpseq.errors import NlpseqError


class InputLine(str):
    """One input line (a ``str``) with its 1-based ``number`` in the whole file or stream."""

    number: int

    def __new__(cls, text: str, number: int) -> InputLine:
        line = super().__new__(cls, text)
        line.number = number
        return line

    def __getnewargs__(self) -> tuple[str, int]:  # pickle and copy pass the number back to __new__
        return str(self), self.number


def line_number(text: str, position: int) -> int:
    """The number of input line ``text``: its own for an :class:`InputLine`, else ``position`` (the
    caller's 1-based count, e.g. its place in a list a Python caller passed)."""
    return text.number if isinstance(text, InputLine) else position


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


def input_lines(path: str | None) -> Iterator[InputLine]:
    """The lines of a file (``path``) or of stdin (None), numbered, read one at a time.

    A file is read as it goes too, not whole first: a bad byte on line 7 then stops the stream after
    lines 1-6 have been answered, and its error names line 7. Bytes that are not UTF-8 stop it rather
    than being replaced: they mean the input is in another encoding, and tagging mojibake would give
    wrong output without a word."""
    name = path or "<stdin>"
    try:
        stream: BinaryIO = sys.stdin.buffer if path is None else open(path, "rb")
    except OSError as error:
        raise NlpseqError(f"{name}: cannot read input ({error.strerror})") from None
    try:
        # readline splits on b"\n" alone, which never occurs inside a UTF-8 sequence: one raw line is
        # one text line.
        for number, raw in enumerate(iter(stream.readline, b""), 1):
            text = decode_line(raw, name, number)
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield from (InputLine(line, number) for line in text_lines(text))
    except OSError as error:
        raise NlpseqError(f"{name}: cannot read input ({error.strerror})") from None
    finally:
        if path is not None:
            stream.close()


def input_batches(path: str | None, size: int, blocks: bool = False) -> Iterator[list[InputLine]]:
    """Input lines in groups of ``size``, read as they arrive (stdin) so output can stream.

    ``blocks``: the input is blank-line separated blocks (CoNLL: one word a line, a blank line after
    each sentence), and a group never ends inside one: it holds at least ``size`` lines (unless the
    input ends) and stops after a blank line, so a sentence is never cut in two by a batch.
    """
    batch: list[InputLine] = []
    for line in input_lines(path):
        batch.append(line)
        if len(batch) >= size and (not blocks or not line.strip()):
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
