"""A format mismatch is said as one (nlpseq/data/sniff.py): the file's look, the recipe's format and
the key to set, through the real `nlpseq train` on tiny recipes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlpseq.data.sniff import format_hint, headerless_hint, sniff_format
from tests.helpers import run_cli, sentiment_rows


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


CONLL = "EU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n"
JSONL = '{"text": "a fine film", "label": "pos"}\n{"text": "dull", "label": "neg"}\n'


@pytest.mark.parametrize(("text", "expected"), [
    (JSONL, "jsonl"),
    (JSONL + '{"text": "bad", "label": }\n', "jsonl"),  # a bad line does not make it CSV
    ("\ufeff" + JSONL, "jsonl"),
    (CONLL, "conll"),
    ("text\tlabel\na fine film\tpos\ndull\tneg\n", "tsv"),
    ('text,label\n"a fine, long film",pos\ndull,neg\n', "csv"),
    ("the cat sat on the mat .\nthe dog barked , twice .\n", None),  # plain text
    ("", None),
])
def test_sniff_format(tmp_path: Path, text: str, expected: str | None) -> None:
    assert sniff_format(_write(tmp_path / "f", text)) == expected


def test_hints_say_nothing_when_the_file_is_what_the_recipe_reads(tmp_path: Path) -> None:
    assert format_hint(_write(tmp_path / "a.jsonl", JSONL), "jsonl") == ""
    tsv = _write(tmp_path / "a.tsv", "text\tlabel\na fine film\tpos\ndull\tneg\n")
    assert format_hint(tsv, "tsv") == "" and headerless_hint(tsv, "tsv") == ""


def _train(recipe: str, tmp_path: Path, *overrides: str) -> str:
    done = run_cli("train", recipe, f"run_dir={tmp_path / 'run'}", *overrides)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_a_csv_file_given_to_a_jsonl_recipe_says_it_looks_like_csv(tmp_path: Path) -> None:
    rows = sentiment_rows(20, 1)
    csv_lines = "".join(f"{r['text']},{r['label']}\n" for r in rows)
    path = _write(tmp_path / "train.jsonl", "text,label\n" + csv_lines)
    line = _train("sentiment/tiny", tmp_path, f"data.train={path}")
    assert line.endswith(f"{path}:1: malformed JSON: Expecting value at column 1; this looks like CSV "
                         "(comma-separated columns); the recipe reads jsonl (set data.format=csv)")
    # Following the advice trains.
    done = run_cli("train", "sentiment/tiny", f"run_dir={tmp_path / 'run2'}", f"data.train={path}",
                   "data.format=csv", "trainer.max_epochs=1")
    assert done.returncode == 0, done.stderr


def test_a_tsv_file_without_a_header_row_is_recognised(tmp_path: Path) -> None:
    rows = sentiment_rows(20, 1)
    path = _write(tmp_path / "train.tsv", "".join(f"{r['text']}\t{r['label']}\n" for r in rows))
    line = _train("sentiment/tiny", tmp_path, f"data.train={path}", "data.format=tsv")
    assert "missing field 'text'" in line
    assert "is read as the header but looks like data: a TSV file needs a first row naming its" in line


def test_a_jsonl_file_given_to_a_conll_run_is_refused_before_it_is_read_as_words(tmp_path: Path) -> None:
    rows = [{"tokens": ["EU", "rejects", "German", "call"], "tags": ["B-ORG", "O", "B-MISC", "O"]}] * 4
    path = _write(tmp_path / "train.txt", "".join(json.dumps(r) + "\n" for r in rows))
    line = _train("tagging/tiny", tmp_path, f"data.train={path}", "data.format=conll")
    assert line.endswith(f"{path}:1: this looks like JSON Lines (one JSON object a line); the recipe reads "
                         "conll (set data.format=jsonl)")


def test_a_conll_file_given_to_a_jsonl_tagging_recipe_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.jsonl", CONLL)
    line = _train("tagging/tiny", tmp_path, f"data.train={path}")
    assert line.endswith("this looks like CoNLL columns (one word a line, a blank line between sentences); "
                         "the recipe reads jsonl (set data.format=conll)")
