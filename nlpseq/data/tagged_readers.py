"""Readers for token-tagged sentences: CoNLL columns, CoNLL-U, Brown ``word/tag`` and JSONL.

Every reader is a generator of examples::

    {"tokens": ["EU", "rejects", ...], "tags": ["B-ORG", "O", ...], "line": 3}

where ``line`` is the 1-based line of the sentence's first token, so that a later error (an unknown
tag, a sentence too long) can point back into the file. Bad input raises
:class:`~nlpseq.errors.DataError` naming the file and line; nothing is skipped silently, because a
silently dropped sentence shifts every later prediction against its gold file.

Readers are lazy: errors surface while iterating, not when the reader is called. An empty file (no
sentences at all) is an error too, since it almost always means a wrong path or a wrong format.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import datasets

from nlpseq.data.lines import read_lines
from nlpseq.data.records import read_jsonl
from nlpseq.errors import ConfigError, DataError

Example = dict[str, Any]

DOCSTART = "-DOCSTART-"

# CoNLL-U columns are ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC (0-based indices here).
CONLLU_NUM_COLUMNS = 10
CONLLU_FORM_COLUMN = 1
CONLLU_TAG_COLUMNS = {"upos": 3, "xpos": 4}


def _require_sentences(examples: Iterator[Example], path: str | Path) -> Iterator[Example]:
    """Pass examples through, raising a DataError at the end if there were none."""
    count = 0
    for example in examples:
        count += 1
        yield example
    if count == 0:
        raise DataError("no sentences found (empty file, or wrong format?)", path)


def _check_not_empty(value: str, what: str, path: str | Path, line: int) -> None:
    """Reject an empty token or tag, which a stray separator produces."""
    if value == "":
        raise DataError(f"empty {what} (stray separator?)", path, line)


def _column_index_ok(index: int, num_columns: int) -> bool:
    """Whether ``index`` (negative counts from the end, as in Python) names an existing column."""
    return -num_columns <= index < num_columns


def read_conll(
    path: str | Path,
    token_column: int = 0,
    tag_column: int = -1,
    separator: str | None = None,
) -> Iterator[Example]:
    """Read a CoNLL-style column file (e.g. CoNLL-2003 ``word POS chunk NER``).

    Args:
        path: the file, UTF-8.
        token_column: index of the token column; negative indices count from the end.
        tag_column: index of the tag column; the default ``-1`` is the last one (NER in CoNLL-2003).
        separator: the column separator; ``None`` splits on any run of whitespace.

    Blank lines end a sentence (any number of them, anywhere). ``-DOCSTART-`` lines are document
    boundaries, not sentences, and are skipped. Every row must have as many columns as the file's
    first row.
    """
    return _require_sentences(_conll_sentences(path, token_column, tag_column, separator), path)


def _conll_sentences(
    path: str | Path, token_column: int, tag_column: int, separator: str | None
) -> Iterator[Example]:
    num_columns: int | None = None
    first_row_line = 0
    tokens: list[str] = []
    tags: list[str] = []
    start_line = 0
    for line_number, text in read_lines(path):
        words = text.split()
        # -DOCSTART- is spotted whatever the separator: some files write it alone on its line.
        if not words or words[0] == DOCSTART:
            if tokens:
                yield {"tokens": tokens, "tags": tags, "line": start_line}
                tokens, tags = [], []
            continue

        fields = words if separator is None else text.split(separator)
        if num_columns is None:
            num_columns, first_row_line = len(fields), line_number
            for name, index in (("token_column", token_column), ("tag_column", tag_column)):
                if not _column_index_ok(index, num_columns):
                    raise DataError(
                        f"{name}={index} does not exist: rows have {num_columns} column(s)",
                        path,
                        line_number,
                    )
        elif len(fields) != num_columns:
            raise DataError(
                f"row has {len(fields)} column(s) but the file's first row (line {first_row_line})"
                f" has {num_columns}",
                path,
                line_number,
            )
        _check_not_empty(fields[token_column], f"token in column {token_column}", path, line_number)
        _check_not_empty(fields[tag_column], f"tag in column {tag_column}", path, line_number)

        if not tokens:
            start_line = line_number
        tokens.append(fields[token_column])
        tags.append(fields[tag_column])

    if tokens:  # the last sentence need not be followed by a blank line
        yield {"tokens": tokens, "tags": tags, "line": start_line}


def read_conllu(path: str | Path, tag: str = "upos") -> Iterator[Example]:
    """Read a CoNLL-U file (Universal Dependencies), tagging each word with its UPOS or XPOS.

    Args:
        path: the file, UTF-8.
        tag: ``"upos"`` (column 4) or ``"xpos"`` (column 5).

    Comment lines (``#``) are skipped. So are multiword-token ranges (``1-2``), whose parts follow
    as separate words, and empty nodes (``1.1``), which have no surface form: tagging predicts one
    tag per syntactic word.
    """
    if tag not in CONLLU_TAG_COLUMNS:
        raise ConfigError(f"unknown CoNLL-U tag column {tag!r}; valid: {', '.join(CONLLU_TAG_COLUMNS)}")
    return _require_sentences(_conllu_sentences(path, tag), path)


def _conllu_sentences(path: str | Path, tag: str) -> Iterator[Example]:
    tag_index = CONLLU_TAG_COLUMNS[tag]
    tokens: list[str] = []
    tags: list[str] = []
    start_line = 0
    for line_number, text in read_lines(path):
        if text.strip() == "":
            if tokens:
                yield {"tokens": tokens, "tags": tags, "line": start_line}
                tokens, tags = [], []
            continue
        if text.startswith("#"):
            continue

        # CoNLL-U columns are tab-separated; a FORM may contain spaces.
        fields = text.split("\t")
        if len(fields) != CONLLU_NUM_COLUMNS:
            raise DataError(
                f"CoNLL-U row has {len(fields)} tab-separated column(s), expected {CONLLU_NUM_COLUMNS}",
                path,
                line_number,
            )
        word_id = fields[0]
        if "-" in word_id or "." in word_id:
            continue
        if fields[tag_index] == "_":
            raise DataError(
                f"word {word_id} has no {tag} ('_'); choose the other tag column", path, line_number
            )
        _check_not_empty(fields[CONLLU_FORM_COLUMN], f"FORM of word {word_id}", path, line_number)
        _check_not_empty(fields[tag_index], f"{tag} of word {word_id}", path, line_number)

        if not tokens:
            start_line = line_number
        tokens.append(fields[CONLLU_FORM_COLUMN])
        tags.append(fields[tag_index])

    if tokens:
        yield {"tokens": tokens, "tags": tags, "line": start_line}


def read_brown(path: str | Path) -> Iterator[Example]:
    """Read a Brown corpus file: one sentence per non-blank line, tokens ``word/tag``.

    The split is at the *last* ``/`` because words may contain slashes (``1/2/cd``) but tags do not.
    Tags are kept as written (``np-tl``, ``nn$``); mapping them onto base or universal tags is a
    separate step.
    """
    return _require_sentences(_brown_sentences(path), path)


def _brown_sentences(path: str | Path) -> Iterator[Example]:
    for line_number, text in read_lines(path):
        items = text.split()  # also drops the leading tab
        if not items:
            continue
        tokens: list[str] = []
        tags: list[str] = []
        for position, item in enumerate(items, start=1):
            word, slash, word_tag = item.rpartition("/")
            if not slash:
                raise DataError(f"token {position} {item!r} has no '/': expected word/tag", path, line_number)
            if not word or not word_tag:
                raise DataError(
                    f"token {position} {item!r} has an empty word or tag: expected word/tag",
                    path,
                    line_number,
                )
            tokens.append(word)
            tags.append(word_tag)
        yield {"tokens": tokens, "tags": tags, "line": line_number}


def check_tagged_lists(tokens: Any, tags: Any, fields: tuple[str, str], path: str | Path,
                       line: int | None) -> None:
    """One JSON sentence's checks: ``tokens`` and ``tags`` (a record's ``fields``) are equally long,
    non-empty lists of non-blank strings. A ``null``, ``5`` or ``["x", "y"]`` in them is an error, not
    the word ``None``, ``5`` or ``['x', 'y']``; an empty or blank string is a stray separator's word."""
    for field, value in zip(fields, (tokens, tags), strict=True):
        if not isinstance(value, list):
            raise DataError(f"field {field!r} must be a list of strings, got {type(value).__name__}",
                            path, line)
        for position, item in enumerate(value, start=1):
            if not isinstance(item, str):
                raise DataError(f"field {field!r} must be a list of strings: item {position} is "
                                f"{'null' if item is None else type(item).__name__}", path, line)
    if len(tokens) != len(tags):
        raise DataError(f"{fields[0]!r} has {len(tokens)} item(s) but {fields[1]!r} has {len(tags)}",
                        path, line)
    if not tokens:
        # A zero-length sentence would break length-sorted batching and packed RNN input later.
        raise DataError(f"{fields[0]!r} is empty", path, line)
    for position, (token, token_tag) in enumerate(zip(tokens, tags, strict=True), start=1):
        _check_not_empty(token.strip(), f"token at position {position}", path, line)
        _check_not_empty(token_tag.strip(), f"tag at position {position}", path, line)


def read_tagged_jsonl(
    path: str | Path, tokens_field: str = "tokens", tags_field: str = "tags"
) -> Iterator[Example]:
    """Read JSON Lines, one object per sentence holding equally long lists of token and tag strings.

    Blank lines are skipped. Other fields of the objects are ignored.
    """
    return _require_sentences(_jsonl_sentences(path, tokens_field, tags_field), path)


def _jsonl_sentences(path: str | Path, tokens_field: str, tags_field: str) -> Iterator[Example]:
    # Parsing (and its errors) is shared with the other JSONL records; the checks below are tagging's.
    for record in read_jsonl(Path(path)):
        line_number = record.pop("line")
        for field in (tokens_field, tags_field):
            if field not in record:
                present = ", ".join(map(repr, record)) or "none"
                raise DataError(
                    f"missing field {field!r} (fields present: {present})",
                    path,
                    line_number,
                )
        tokens, tags = record[tokens_field], record[tags_field]
        check_tagged_lists(tokens, tags, (tokens_field, tags_field), path, line_number)
        yield {"tokens": tokens, "tags": tags, "line": line_number}


# The one place format names are registered; recipes name a format with these keys.
READERS: dict[str, Callable[..., Iterator[Example]]] = {
    "conll": read_conll,
    "conllu": read_conllu,
    "brown": read_brown,
    "jsonl": read_tagged_jsonl,
}


def read_tagged_file(path: str | Path, format: str, **options: Any) -> Iterator[Example]:
    """Read ``path`` with the reader registered for ``format``, passing ``options`` on to it.

    Unknown formats and options are config mistakes, so they raise ConfigError naming the valid
    choices, before the file is opened.
    """
    if format not in READERS:
        raise ConfigError(
            f"unknown tagged-file format {format!r}; valid formats: {', '.join(sorted(READERS))}"
        )
    reader = READERS[format]
    valid_options = [name for name in inspect.signature(reader).parameters if name != "path"]
    unknown = sorted(set(options) - set(valid_options))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for format {format!r};"
            f" valid options: {', '.join(valid_options) or 'none'}"
        )
    return reader(path, **options)


def to_dataset(examples: Iterable[Example]) -> datasets.Dataset:
    """Collect examples into a ``datasets.Dataset`` with columns tokens, tags (and line if present).

    Features are given explicitly so that the column types do not depend on what the first rows
    happen to contain.
    """
    rows = list(examples)
    features = {
        "tokens": datasets.List(datasets.Value("string")),
        "tags": datasets.List(datasets.Value("string")),
    }
    if rows and "line" in rows[0]:
        features["line"] = datasets.Value("int64")
    return datasets.Dataset.from_list(rows, features=datasets.Features(features))
