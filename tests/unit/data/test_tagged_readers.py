"""Tests for nlpseq.data.tagged_readers on tiny fixtures written to tmp_path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nlpseq.data.tagged_readers import (
    read_brown,
    read_conll,
    read_conllu,
    read_tagged_file,
    read_tagged_jsonl,
    to_dataset,
)
from nlpseq.errors import ConfigError, DataError


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# Blank lines at the start, -DOCSTART- with its blank line, several blank lines in a row, a second
# document, and a last sentence with no blank line after it.
CONLL = """\

-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O


German JJ B-NP B-MISC
call NN I-NP O
-DOCSTART- -X- -X- O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER"""


def test_read_conll_good_file(tmp_path: Path) -> None:
    path = write(tmp_path, "train.txt", CONLL)
    assert list(read_conll(path)) == [
        {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"], "line": 4},
        {"tokens": ["German", "call"], "tags": ["B-MISC", "O"], "line": 8},
        {"tokens": ["Peter", "Blackburn"], "tags": ["B-PER", "I-PER"], "line": 12},
    ]


def test_read_conll_other_columns_and_separator(tmp_path: Path) -> None:
    path = write(tmp_path, "pos.tsv", "EU\tNNP\tB-ORG\r\nrejects\tVBZ\tO\r\n\r\n")
    assert list(read_conll(path, tag_column=1, separator="\t")) == [
        {"tokens": ["EU", "rejects"], "tags": ["NNP", "VBZ"], "line": 1}
    ]


def test_read_conll_wrong_column_count_names_file_line_and_counts(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.txt", "EU NNP B-NP B-ORG\nrejects VBZ O\n")
    with pytest.raises(DataError) as caught:
        list(read_conll(path))
    assert caught.value.path == str(path)
    assert caught.value.line == 2
    assert str(caught.value) == (f"{path}:2: row has 3 column(s) but the file's first row (line 1) has 4")


def test_read_conll_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "two.txt", "EU B-ORG\n")
    with pytest.raises(DataError) as caught:
        list(read_conll(path, tag_column=2))
    assert caught.value.message == "tag_column=2 does not exist: rows have 2 column(s)"
    assert caught.value.line == 1


def test_read_conll_empty_token_from_stray_separator(tmp_path: Path) -> None:
    path = write(tmp_path, "stray.tsv", "EU\tB-ORG\n\tO\n")
    with pytest.raises(DataError, match="empty token in column 0") as caught:
        list(read_conll(path, separator="\t"))
    assert caught.value.line == 2


def test_read_conll_non_utf8_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.txt", "EU B-ORG\n\nCaf\xe9 O\n".encode("latin-1"))
    with pytest.raises(DataError, match=re.escape("not valid UTF-8: cannot decode byte(s) 0xe9")) as caught:
        list(read_conll(path))
    assert caught.value.path == str(path)
    assert caught.value.line == 3


@pytest.mark.parametrize("text", ["", "\n\n  \n", "-DOCSTART- -X- -X- O\n\n"])
def test_read_conll_no_sentences(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "empty.txt", text)
    with pytest.raises(DataError, match="no sentences") as caught:
        list(read_conll(path))
    assert caught.value.path == str(path)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.txt"
    with pytest.raises(DataError, match="cannot read file") as caught:
        list(read_brown(path))
    assert caught.value.path == str(path)


def conllu_row(*fields: str) -> str:
    return "\t".join(fields) + "\n"


# A comment block, a multiword token "don't" = "do" + "n't", and an empty node 3.1 between words.
CONLLU = (
    "# sent_id = 1\n"
    "# text = I don't go\n"
    + conllu_row("1", "I", "I", "PRON", "PRP", "_", "3", "nsubj", "_", "_")
    + conllu_row("2-3", "don't", "_", "_", "_", "_", "_", "_", "_", "_")
    + conllu_row("2", "do", "do", "AUX", "VBP", "_", "4", "aux", "_", "_")
    + conllu_row("3", "n't", "not", "PART", "RB", "_", "4", "advmod", "_", "_")
    + conllu_row("3.1", "go", "go", "VERB", "VB", "_", "_", "_", "4:conj", "_")
    + conllu_row("4", "go", "go", "VERB", "VB", "_", "0", "root", "_", "_")
    + "\n\n"
    + "# sent_id = 2\n"
    + conllu_row("1", "Hi", "hi", "INTJ", "UH", "_", "0", "root", "_", "_")
)


def test_read_conllu_upos_and_xpos(tmp_path: Path) -> None:
    path = write(tmp_path, "ewt.conllu", CONLLU)
    assert list(read_conllu(path)) == [
        {"tokens": ["I", "do", "n't", "go"], "tags": ["PRON", "AUX", "PART", "VERB"], "line": 3},
        {"tokens": ["Hi"], "tags": ["INTJ"], "line": 12},
    ]
    assert [example["tags"] for example in read_conllu(path, tag="xpos")] == [
        ["PRP", "VBP", "RB", "VB"],
        ["UH"],
    ]


def test_read_conllu_needs_ten_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.conllu", "# c\n" + conllu_row("1", "Hi", "hi", "INTJ"))
    with pytest.raises(DataError, match=re.escape("has 4 tab-separated column(s), expected 10")) as caught:
        list(read_conllu(path))
    assert caught.value.line == 2


def test_read_conllu_unknown_tag_column() -> None:
    with pytest.raises(ConfigError, match="valid: upos, xpos"):
        read_conllu("unused.conllu", tag="feats")


BROWN = "\n\tThe/at Fulton/np-tl 1/2/cd ./.\n\n\tIt/pps said/vbd\n"


def test_read_brown_splits_at_last_slash(tmp_path: Path) -> None:
    path = write(tmp_path, "ca01", BROWN)
    assert list(read_brown(path)) == [
        {"tokens": ["The", "Fulton", "1/2", "."], "tags": ["at", "np-tl", "cd", "."], "line": 2},
        {"tokens": ["It", "said"], "tags": ["pps", "vbd"], "line": 4},
    ]


def test_read_brown_token_without_slash(tmp_path: Path) -> None:
    path = write(tmp_path, "ca02", "\tThe/at\n\n\tIt/pps said\n")
    with pytest.raises(DataError, match="token 2 'said' has no '/'") as caught:
        list(read_brown(path))
    assert caught.value.line == 3


def test_read_brown_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no sentences"):
        list(read_brown(write(tmp_path, "ca03", "")))


JSONL = (
    '{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"], "id": 7}\n\n{"tokens": ["Hi"], "tags": ["O"]}\n'
)


def test_read_tagged_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "train.jsonl", JSONL)
    assert list(read_tagged_jsonl(path)) == [
        {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"], "line": 1},
        {"tokens": ["Hi"], "tags": ["O"], "line": 3},
    ]


def test_read_tagged_jsonl_other_field_names(tmp_path: Path) -> None:
    path = write(tmp_path, "pos.jsonl", '{"words": ["Hi"], "pos": ["UH"]}\n')
    assert list(read_tagged_jsonl(path, tokens_field="words", tags_field="pos")) == [
        {"tokens": ["Hi"], "tags": ["UH"], "line": 1}
    ]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"tokens": ["Hi"], "tags": ["O"]', "malformed JSON"),
        ('["Hi"]', "expected a JSON object, got list"),
        ('{"tokens": ["Hi"]}', "missing field 'tags' (fields present: 'tokens')"),
        ('{"tokens": "Hi", "tags": ["O"]}', "field 'tokens' must be a list of strings"),
        ('{"tokens": ["Hi", "there"], "tags": ["O"]}', "'tokens' has 2 item(s) but 'tags' has 1"),
        ('{"tokens": [], "tags": []}', "'tokens' is empty"),
        ('{"tokens": ["Hi", ""], "tags": ["O", "O"]}', "empty token at position 2"),
    ],
)
def test_read_tagged_jsonl_bad_lines(tmp_path: Path, bad_line: str, message: str) -> None:
    path = write(tmp_path, "bad.jsonl", '{"tokens": ["Ok"], "tags": ["O"]}\n' + bad_line + "\n")
    with pytest.raises(DataError, match=re.escape(message)) as caught:
        list(read_tagged_jsonl(path))
    assert caught.value.path == str(path)
    assert caught.value.line == 2


def test_read_tagged_file_dispatches_with_options(tmp_path: Path) -> None:
    path = write(tmp_path, "pos.txt", "EU NNP B-ORG\n")
    assert list(read_tagged_file(path, "conll", tag_column=1)) == [
        {"tokens": ["EU"], "tags": ["NNP"], "line": 1}
    ]
    assert list(read_tagged_file(write(tmp_path, "ca01", BROWN), "brown"))[1]["tokens"] == [
        "It",
        "said",
    ]


def test_read_tagged_file_unknown_format_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid formats: brown, conll, conllu, jsonl"):
        read_tagged_file("x.txt", "iob")


def test_read_tagged_file_unknown_option_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="valid options: token_column, tag_column, separator"):
        read_tagged_file("x.txt", "conll", column=3)


def test_to_dataset(tmp_path: Path) -> None:
    dataset = to_dataset(read_conll(write(tmp_path, "train.txt", CONLL)))
    assert dataset.column_names == ["tokens", "tags", "line"]
    assert len(dataset) == 3
    assert dataset[2] == {"tokens": ["Peter", "Blackburn"], "tags": ["B-PER", "I-PER"], "line": 12}


def test_to_dataset_without_line_column() -> None:
    dataset = to_dataset([{"tokens": ["Hi"], "tags": ["UH"]}])
    assert dataset.column_names == ["tokens", "tags"]
    assert dataset[0] == {"tokens": ["Hi"], "tags": ["UH"]}
