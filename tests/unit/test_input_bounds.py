"""Issue 22 item 8: every input read is bounded (line length while reading, generation length) and
streams (a FIFO's lines are answered before its writer closes)."""

from __future__ import annotations

import argparse
import json
import os
import threading
from pathlib import Path

import pytest

from nlpseq import inputs
from nlpseq.cli_run import MAX_NEW_TOKENS, cmd_generate
from nlpseq.data import lines as data_lines
from nlpseq.data.records import read_records
from nlpseq.errors import DataError, NlpseqError
from nlpseq.inputs import input_batches, input_lines


def test_input_from_dev_zero_stops_at_the_line_cap() -> None:
    # Before: read until MemoryError. Now one line error after MAX_LINE_BYTES (1 MB) is read.
    with pytest.raises(NlpseqError, match=r"^/dev/zero:1: line is longer than 1,000,000 bytes"):
        next(input_lines("/dev/zero"))


def test_a_long_line_is_refused_while_reading_and_the_lines_before_it_come_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "MAX_LINE_BYTES", 10)
    source = tmp_path / "in.txt"
    source.write_bytes(b"0123456789\r\nshort\n" + b"x" * 11 + b"\nnever read\n")
    lines = input_lines(str(source))
    assert (next(lines), next(lines)) == ("0123456789", "short")  # exactly the cap is fine, CRLF beyond it
    with pytest.raises(NlpseqError, match=r"in\.txt:3: line is longer than 10 bytes"):
        next(lines)


def test_a_fifo_is_answered_line_by_line_before_its_writer_closes(tmp_path: Path) -> None:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    answered = threading.Event()

    def writer() -> None:
        with open(fifo, "wb") as stream:
            stream.write(b"one\ntwo\n")
            stream.flush()
            answered.wait(10)  # an interactive writer waits for the answers before writing more
            stream.write(b"three\n")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        batches = input_batches(str(fifo), 64)
        assert next(batches) == ["one", "two"]  # a partial batch: the writer paused
        answered.set()
        assert list(batches) == [["three"]]
    finally:
        answered.set()
        thread.join(10)


def test_a_data_file_without_newlines_is_one_error_naming_its_line(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_lines, "MAX_LINE_BYTES", 20)
    source = tmp_path / "train.jsonl"
    source.write_text('{"text": "a"}\n' + "[" * 100, encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.jsonl:2: line is longer than 20 bytes"):
        list(read_records(source, "text"))


def test_evaluate_data_from_dev_zero_stops_at_the_cap() -> None:
    with pytest.raises(DataError, match=r"^/dev/zero:1: line is longer than 16,000,000 bytes"):
        list(read_records("/dev/zero", "jsonl"))


def test_generate_refuses_an_endless_continuation_before_loading_anything() -> None:
    args = argparse.Namespace(prompt="a", input=None, task_options=["max_new_tokens"],
                              max_new_tokens=1_000_000_000, run_dir="no/such/run", device=None, format="text")
    with pytest.raises(NlpseqError, match=rf"--max-new-tokens 1000000000: at most {MAX_NEW_TOKENS:,} tokens"):
        cmd_generate(args)


@pytest.mark.slow  # trains a tiny LM first (seconds)
def test_generate_streams_an_input_file_one_line_per_prompt(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Through the real CLI on a tiny trained LM: the prompts of --input go in batches (here of 2), and
    # every prompt gets its line, in order.
    from nlpseq import cli_run
    from tests.helpers import run_cli
    from tests.tasks.test_language_model import text_files

    run = tmp_path / "run"
    done = run_cli("train", "lm/tiny", f"run_dir={run}", f"data.cache_dir={tmp_path / 'cache'}",
                   "trainer.max_epochs=1", *text_files(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    monkeypatch.setattr(cli_run, "GENERATE_BATCH", 2)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the\nthe cat\n\nthe dog\na\n", encoding="utf-8")
    done = run_cli("generate", str(run), "--input", str(prompts), "--max-new-tokens", "3",
                   "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["prompt"] for row in rows] == ["the", "the cat", "", "the dog", "a"]
