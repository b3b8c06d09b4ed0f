"""Input lines for ``predict`` and ``generate``: from a file or stdin, UTF-8 checked with the line
named, one line out per line in (only "\\n" splits a line), read as they arrive so output can stream.

Every line :func:`input_batches` yields is an :class:`InputLine`: a ``str`` that also knows its
1-based number in the whole input, so a task can name the line in a warning or an error ("line 6",
not "line 2 of the third batch") while every other piece of code sees a plain string.
"""

from __future__ import annotations

import io
import select
import sys
from collections.abc import Iterator
from typing import BinaryIO

from nlpseq.errors import NlpseqError

# The longest input line read, in bytes (the server's request cap, ``serve.max_body_bytes``): a line
# is cut off by a task's ``max_length`` long before this, and a bound while reading is what keeps
# ``--input /dev/zero`` or one 50 MB line from taking gigabytes before any cut.
MAX_LINE_BYTES = 1_000_000


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


class _LineReader:
    """Lines of a binary stream, each bounded by :data:`MAX_LINE_BYTES`, read in chunks of whatever has
    arrived (``read1``), so :meth:`waiting` can tell whether the next line is already here or would
    have to be waited for (a FIFO or a pipe whose writer pauses)."""

    def __init__(self, stream: BinaryIO, name: str):
        self.stream, self.name = stream, name
        self.pending = bytearray()  # bytes read but not yet given out as a line
        self.ended = False

    def lines(self) -> Iterator[bytes]:
        """Raw lines, their "\\n" kept: split on b"\\n" alone, which never occurs inside a UTF-8
        sequence, so one raw line is one text line."""
        number = 0
        while True:
            end = self.pending.find(b"\n")
            if end < 0 and not self.ended and len(self.pending) <= MAX_LINE_BYTES + 1:
                chunk = self.stream.read1(1 << 16)
                self.ended = not chunk
                self.pending += chunk
                continue
            if end < 0:
                end = len(self.pending) - 1
            if end < 0:
                return
            number += 1
            # The "\r\n" ending is counted beyond the cap.
            if len(self.pending[:end + 1].rstrip(b"\r\n")) > MAX_LINE_BYTES:
                raise NlpseqError(f"{self.name}:{number}: line is longer than {MAX_LINE_BYTES:,} bytes "
                                  "(the most one input line may be; is this a text file?)")
            raw = bytes(self.pending[:end + 1])
            del self.pending[:end + 1]
            yield raw

    def waiting(self) -> bool:
        """Whether the next line has not arrived yet: none is buffered and the stream has nothing to
        read now (a regular file or an in-memory stream always has)."""
        if b"\n" in self.pending or self.ended:
            return False
        try:
            readable, _, _ = select.select([self.stream.fileno()], [], [], 0)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return False
        return not readable


def _open(path: str | None) -> tuple[BinaryIO, str]:
    name = path or "<stdin>"
    try:
        return (sys.stdin.buffer if path is None else open(path, "rb")), name
    except OSError as error:
        raise NlpseqError(f"{name}: cannot read input ({error.strerror})") from None


def input_lines(path: str | None, reader: _LineReader | None = None) -> Iterator[InputLine]:
    """The lines of a file (``path``) or of stdin (None), numbered, read one at a time, each at most
    :data:`MAX_LINE_BYTES` long (``reader``: the stream's reader, which :func:`input_batches` passes).

    A file is read as it goes too, not whole first: a bad byte on line 7 then stops the stream after
    lines 1-6 have been answered, and its error names line 7. Bytes that are not UTF-8 stop it rather
    than being replaced: they mean the input is in another encoding, and tagging mojibake would give
    wrong output without a word."""
    if reader is None:
        reader = _LineReader(*_open(path))
    name = reader.name
    try:
        for number, raw in enumerate(reader.lines(), 1):
            text = decode_line(raw, name, number)
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield from (InputLine(line, number) for line in text_lines(text))
    except OSError as error:
        raise NlpseqError(f"{name}: cannot read input ({error.strerror})") from None
    finally:
        if path is not None:
            reader.stream.close()


def input_batches(path: str | None, size: int, blocks: bool = False) -> Iterator[list[InputLine]]:
    """Input lines in groups of ``size``, read as they arrive so output can stream: a group also ends
    where the input pauses (a FIFO or pipe whose writer waits for the answers), never holding lines back.

    ``blocks``: the input is blank-line separated blocks (CoNLL: one word a line, a blank line after
    each sentence), and a group never ends inside one: it holds at least ``size`` lines (unless the
    input ends or pauses) and stops after a blank line, so a sentence is never cut in two by a batch.
    """
    reader = _LineReader(*_open(path))
    batch: list[InputLine] = []
    for line in input_lines(path, reader):
        batch.append(line)
        if (len(batch) >= size or reader.waiting()) and (not blocks or not line.strip()):
            yield batch
            batch = []
    if batch:
        yield batch
