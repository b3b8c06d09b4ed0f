"""Property-based tests: any input is either parsed or refused with nlpseq's own one-line error.

Bounded (a few hundred examples each, no deadline) so the suite stays fast. The generated files mix
the characters that break readers: separators, quotes, brackets, blank lines, CR, BOMs and bytes that
are not UTF-8.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlpseq.data.records import read_records
from nlpseq.data.tagged_readers import read_tagged_file
from nlpseq.errors import NlpseqError
from nlpseq.tasks import load_config

PIECES = st.sampled_from([
    "a", "word", "Zoë", " ", "  ", "\t", "\n", "\n\n", "\r\n", ",", '"', "'", "{", "}", "[", "]", ":", "/",
    "-DOCSTART-", "#", "1", "1-2", "3.1", "_", "B-PER", "I-ORG", "O", "NN", "text", "label", "null",
    '{"text": "a", "label": "pos"}', '{"tokens": ["a"], "tags": ["O"]}', "\ufeff",
])
TEXT = st.lists(PIECES, max_size=40).map("".join)
RAW = st.one_of(TEXT.map(lambda t: t.encode("utf-8")), st.binary(max_size=200),
                st.tuples(TEXT, st.binary(max_size=8)).map(lambda p: p[0].encode("utf-8") + p[1]))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parse_or_refuse(read, raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.txt"
        path.write_bytes(raw)
        try:
            records = list(read(path))
        except NlpseqError as error:
            message = str(error)
            assert message and "\n" not in message, message
            assert str(path) in message, message  # it names the file
            return
        assert all(isinstance(record, dict) for record in records)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv", "text"])
@SETTINGS
@given(raw=RAW)
def test_record_readers_parse_or_refuse(fmt: str, raw: bytes) -> None:
    parse_or_refuse(lambda path: read_records(path, fmt), raw)


@pytest.mark.parametrize("fmt", ["conll", "conllu", "brown"])
@SETTINGS
@given(raw=RAW)
def test_tagged_readers_parse_or_refuse(fmt: str, raw: bytes) -> None:
    parse_or_refuse(lambda path: read_tagged_file(path, fmt), raw)


KEYS = st.sampled_from(["trainer.lr", "trainer.batch_size", "trainer.device", "trainer.grad_clip",
                        "model.encoder.hidden_size", "model.dropout", "data.max_length", "tokenizer.kind",
                        "data.format", "trainer", "model", "run_dir", "task", "trainer.nope", "a.b.c", ""])
VALUES = st.one_of(st.sampled_from(["1", "0", "-1", "1e-3", ".nan", ".inf", "true", "null", "[1, 2]",
                                    "{a: 1}", "'x'", "gru", "cpu", "[", "}", ""]), TEXT)


@SETTINGS
@given(pairs=st.lists(st.tuples(KEYS, VALUES), max_size=4), bare=st.booleans())
def test_overrides_load_or_refuse_with_one_line(pairs: list[tuple[str, str]], bare: bool) -> None:
    overrides = [key if bare and i == 0 else f"{key}={value}" for i, (key, value) in enumerate(pairs)]
    try:
        load_config(None, overrides)
    except NlpseqError as error:
        message = str(error)
        assert message and "\n" not in message, message


@pytest.mark.parametrize("fmt", ["tsv", "jsonl"])
@SETTINGS
@given(raw=RAW)
def test_parallel_readers_parse_or_refuse(fmt: str, raw: bytes) -> None:
    from nlpseq.data.parallel import pair_fields, read_pairs

    def read(path: Path) -> list[dict]:
        return [dict(zip(("source", "target"), pair_fields(record, "fr", "en", str(path)), strict=True))
                for record in read_pairs(str(path), fmt, "fr", "en")]

    parse_or_refuse(read, raw)


@SETTINGS
@given(source=RAW, target=RAW)
def test_aligned_text_files_parse_or_refuse(source: bytes, target: bytes) -> None:
    from nlpseq.data.parallel import read_parallel

    with tempfile.TemporaryDirectory() as folder:
        prefix = Path(folder) / "train"
        Path(f"{prefix}.fr").write_bytes(source)
        Path(f"{prefix}.en").write_bytes(target)
        try:
            rows = list(read_parallel(prefix, "fr", "en"))
        except NlpseqError as error:
            assert str(error) and "\n" not in str(error) and str(prefix) in str(error), str(error)
            return
        assert all(set(row) >= {"source", "target", "line"} for row in rows)
