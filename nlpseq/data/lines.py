"""Line-by-line UTF-8 reading that names the line of any bad byte."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from nlpseq.errors import DataError

# The longest line a data file may have, in bytes: far above any sentence, review or document line,
# and a bound while reading, so ``--data /dev/zero`` or a file without newlines is one error, not a
# read until memory runs out.
MAX_LINE_BYTES = 16_000_000


def read_lines(path: str | Path, strip_newline: bool = True) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 file (line endings stripped unless
    ``strip_newline`` is False, as the csv module needs them for quoted multi-line fields).

    The file is split into lines as bytes and each line is decoded on its own: decoding the whole
    stream would report a bad byte somewhere in a buffered chunk, not on the line that holds it.
    Splitting on ``b"\\n"`` is safe in UTF-8, where that byte never occurs inside a character.
    """
    try:
        with open(path, "rb") as file:
            lines = iter(lambda: file.readline(MAX_LINE_BYTES + 2), b"")  # "\r\n" beyond the cap
            for line_number, raw in enumerate(lines, start=1):
                if len(raw) > MAX_LINE_BYTES and len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
                    raise DataError(f"line is longer than {MAX_LINE_BYTES:,} bytes (the most a data line may "
                                    "be; is this a text file?)", path, line_number)
                # A BOM (some Windows editors write one) would otherwise stick to the first token.
                encoding = "utf-8-sig" if line_number == 1 else "utf-8"
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as error:
                    bad = " ".join(f"0x{byte:02x}" for byte in raw[error.start : error.end])
                    raise DataError(
                        f"file is not valid UTF-8: cannot decode byte(s) {bad} at byte"
                        f" {error.start + 1} of the line (re-encode the file as UTF-8)",
                        path,
                        line_number,
                    ) from None
                yield line_number, text.rstrip("\r\n") if strip_newline else text
    except OSError as error:
        # Missing file, a directory, no permission: a user mistake, so one line, not a traceback.
        raise DataError(f"cannot read file: {error.strerror or error}", path) from None
