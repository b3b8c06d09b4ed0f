"""Input lines for predict: numbered in the whole input, streamed, batches that never cut a block."""

from __future__ import annotations

import io
import json
import pickle
import sys
from pathlib import Path

import pytest

from nlpseq.errors import NlpseqError
from nlpseq.inputs import InputLine, input_batches, input_lines, line_number


def test_lines_know_their_number_and_are_plain_strings_to_everyone_else(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes("\ufeffone\r\ntwo\n\nfour".encode())
    lines = list(input_lines(str(source)))
    assert lines == ["one", "two", "", "four"]  # BOM and CRLF's "\r" dropped, no final newline needed
    assert [line.number for line in lines] == [1, 2, 3, 4]
    assert json.dumps(lines[0]) == '"one"' and lines[0].upper() == "ONE"
    assert line_number(lines[3], 99) == 4
    assert line_number("a plain str", 99) == 99  # a Python caller's string: its place in the list
    copied = pickle.loads(pickle.dumps(lines[1]))  # e.g. on its way to a DataLoader worker
    assert (copied, copied.number, type(copied)) == ("two", 2, InputLine)


def test_batches_carry_absolute_line_numbers(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("".join(f"line {n}\n" for n in range(1, 8)), encoding="utf-8")
    batches = list(input_batches(str(source), 3))
    assert [[line.number for line in batch] for batch in batches] == [[1, 2, 3], [4, 5, 6], [7]]
    assert batches[2] == ["line 7"]


def test_a_bad_byte_late_in_a_file_stops_there_after_the_lines_before_it(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"".join(b"ok %d\n" % n for n in range(1, 7)) + b"bad \xff\nok 8\n")
    batches = input_batches(str(source), 2)
    # The file streams: the batches before the bad line come out before it is read.
    assert [[line.number for line in next(batches)] for _ in range(3)] == [[1, 2], [3, 4], [5, 6]]
    with pytest.raises(NlpseqError) as raised:
        next(batches)
    assert str(raised.value) == f"{source}:7: input is not UTF-8 (byte 0xff)"


def test_stdin_lines_are_numbered_too(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"a\nb\nc\n\xfe\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    lines = input_lines(None)
    assert [(line, line.number) for line in (next(lines), next(lines), next(lines))] == [
        ("a", 1), ("b", 2), ("c", 3)]
    with pytest.raises(NlpseqError, match=r"^<stdin>:4: input is not UTF-8 \(byte 0xfe\)$"):
        next(lines)


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NlpseqError, match=r"missing\.txt: cannot read input"):
        list(input_lines(str(tmp_path / "missing.txt")))


def test_blocks_end_a_batch_only_after_a_blank_line(tmp_path: Path) -> None:
    source = tmp_path / "in.conll"
    source.write_text("a\nb\nc\n\nd\n\ne\nf\ng\nh\n\ni\n", encoding="utf-8")
    batches = list(input_batches(str(source), 2, blocks=True))
    assert batches == [["a", "b", "c", ""], ["d", ""], ["e", "f", "g", "h", ""], ["i"]]
    # Without blocks the same size cuts sentences.
    assert next(input_batches(str(source), 2)) == ["a", "b"]
    assert all(isinstance(line, InputLine) for batch in batches for line in batch)
