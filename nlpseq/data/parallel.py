"""Readers of parallel text (source and target sentence pairs), with exact error locations.

Formats (``data.format`` of a translation recipe):

* ``parallel``: two aligned plain-text files named by a prefix plus language suffixes, the Joey NMT /
  OpenNMT convention: prefix ``data/x/train`` with languages fr, en reads ``data/x/train.fr`` and
  ``data/x/train.en``, line ``i`` of one translating line ``i`` of the other. A path that already ends
  in one of the two suffixes names the same pair (``data/x/train.fr``).
* ``tsv``: ``source<TAB>target`` per line, no header, no quoting.
* ``jsonl``: one object a line with the two language fields (``{"fr": ..., "en": ...}``) or a
  ``translation`` object holding them (``{"translation": {"fr": ..., "en": ...}}``, the hub's shape).

Every record is ``{"source", "target", "line"}``, or for JSONL the raw object (the task's normaliser
picks the fields, as for hub rows). Structural faults (files of different lengths, a TSV line without
exactly one tab, malformed JSON) raise :class:`~nlpseq.errors.DataError` naming file and line; empty
sides and over-long pairs are the task's to skip and count.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

from nlpseq.data.lines import read_lines
from nlpseq.data.records import read_jsonl
from nlpseq.errors import DataError

PARALLEL_FORMATS = ("parallel", "tsv", "jsonl")


def parallel_paths(prefix: str | Path, source_lang: str, target_lang: str) -> tuple[Path, Path]:
    """The two files of a prefix (``train`` -> ``train.fr``, ``train.en``); a path ending in either
    suffix is taken as its prefix."""
    text = str(prefix)
    for language in (source_lang, target_lang):
        if text.endswith(f".{language}"):
            text = text[: -len(language) - 1]
            break
    return Path(f"{text}.{source_lang}"), Path(f"{text}.{target_lang}")


def read_parallel(prefix: str | Path, source_lang: str, target_lang: str) -> Iterator[dict[str, Any]]:
    """Pairs of lines of ``PREFIX.source_lang`` and ``PREFIX.target_lang``; a file that ends first is a
    DataError naming it and the first line the other file has alone."""
    source_path, target_path = parallel_paths(prefix, source_lang, target_lang)
    for path in (source_path, target_path):
        if not path.is_file():
            raise DataError(f"file not found (data.format=parallel reads PREFIX.{source_lang} and "
                            f"PREFIX.{target_lang})", path)
    pairs = zip_longest(read_lines(source_path), read_lines(target_path))
    for source, target in pairs:
        if source is None or target is None:
            short, long_ = (source_path, target_path) if source is None else (target_path, source_path)
            number = (target or source)[0]
            raise DataError(f"{short.name} ends after {number - 1} lines but {long_.name} has more: the "
                            "files must be aligned line by line", short, number)
        yield {"source": source[1], "target": target[1], "line": source[0]}


def read_tsv_pairs(path: str | Path) -> Iterator[dict[str, Any]]:
    """``source<TAB>target`` lines; anything but exactly two columns is a DataError (blank lines skip)."""
    for number, text in read_lines(path):
        if not text.strip():
            continue
        columns = text.split("\t")
        if len(columns) != 2:
            raise DataError(f"expected 2 tab-separated columns (source, target), found {len(columns)}",
                            path, number)
        yield {"source": columns[0], "target": columns[1], "line": number}


def read_pairs(path: str, format: str, source_lang: str, target_lang: str) -> Iterator[dict[str, Any]]:
    """The raw records of one split in ``format`` (see the module docstring)."""
    if format == "parallel":
        return read_parallel(path, source_lang, target_lang)
    if format == "tsv":
        return read_tsv_pairs(path)
    if format == "jsonl":
        return read_jsonl(Path(path))
    raise DataError(f"unknown parallel format {format!r}; valid: {', '.join(PARALLEL_FORMATS)}", path)


def pair_fields(record: dict[str, Any], source_lang: str, target_lang: str, where: str
                ) -> tuple[Any, Any]:
    """The (source, target) values of a record: ``source``/``target`` keys (plain-text formats), the
    two language fields, or a ``translation`` object holding them (hub / JSONL). A missing field is a
    DataError naming the fields present."""
    if "source" in record and "target" in record:
        return record["source"], record["target"]
    holder = record.get("translation", record)
    if not isinstance(holder, dict):
        raise DataError(f"field 'translation' must be an object with {source_lang!r} and {target_lang!r}, "
                        f"got {type(holder).__name__}", where, record.get("line"))
    missing = [language for language in (source_lang, target_lang) if language not in holder]
    if missing:
        present = ", ".join(k for k in holder if k != "line") or "none"
        raise DataError(f"missing field {missing[0]!r} (fields present: {present}); set data.source_lang "
                        "and data.target_lang", where, record.get("line"))
    return holder[source_lang], holder[target_lang]
