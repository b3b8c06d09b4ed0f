"""Data loading: local record files, hub-shaped datasets, and the classification task's input checks.

Every bad input must give one error whose message names the file, the line and the problem.
Hub datasets are written as parquet folders in tmp_path and loaded by path (no network).
"""

import json
import logging
from pathlib import Path

import pytest
from datasets import ClassLabel, Dataset, Features, Value

from nlpseq.data.records import read_records
from nlpseq.data.sources import load_splits
from nlpseq.errors import ConfigError, DataError
from nlpseq.tasks import load_config
from nlpseq.tasks.classification import ClassificationTask
from tests.helpers import ROOT

RECIPES = ROOT / "recipes" / "sentiment"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def rows(*pairs: tuple[str, str]) -> list[dict]:
    return [{"text": text, "label": label} for text, label in pairs]


GOOD = rows(("a good film", "pos"), ("a bad film", "neg"), ("great fun", "pos"))


def make_task(tmp_path: Path, *overrides: str, recipe: Path | None = None) -> ClassificationTask:
    config = load_config(recipe, [f"run_dir={tmp_path / 'run'}", *overrides])
    return ClassificationTask(config, config.run_dir)


def local_task(tmp_path: Path, train: Path, valid: Path | None = None, test: Path | None = None,
               options: tuple[str, ...] = ()) -> ClassificationTask:
    """A task on local files (valid defaults to three good JSONL records)."""
    valid = valid or write_jsonl(tmp_path / "valid.jsonl", GOOD)
    files = [f"data.train={train}", f"data.valid={valid}"] + ([f"data.test={test}"] if test else [])
    return make_task(tmp_path, *files, *options)


def column(split, name: str) -> list:
    return list(split.dataset[name])


def prepare_error(task: ClassificationTask, error_type: type = DataError) -> str:
    with pytest.raises(error_type) as info:
        task.prepare()
    return str(info.value)


# ------------------------------------------------------------------------------------ good local data


def test_jsonl_train_valid_test(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", GOOD)
    test = write_jsonl(tmp_path / "test.jsonl", rows(("fun", "pos")))
    task = local_task(tmp_path, train, None, test)
    task.prepare()
    assert sorted(task.splits) == ["test", "train", "valid"]
    assert column(task.splits["train"], "text") == ["a good film", "a bad film", "great fun"]
    assert column(task.splits["train"], "line") == [1, 2, 3]
    assert column(task.splits["train"], "label_id") == [1, 0, 1]
    assert task.splits["train"].source == str(train)
    assert task.labels == ["neg", "pos"]
    assert json.loads((tmp_path / "run" / "labels.json").read_text()) == ["neg", "pos"]
    assert len(task.splits["test"].dataset) == 1


def test_integer_labels_are_kept_as_strings_or_named(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", rows(("a", 0), ("b", 1), ("c", 1)))
    valid = write_jsonl(tmp_path / "valid.jsonl", rows(("d", 1)))
    task = local_task(tmp_path, train, valid)
    task.prepare()
    assert task.labels == ["0", "1"]
    named = local_task(tmp_path / "named", train, valid, options=("data.label_names=[neg,pos]",))
    named.prepare()
    assert named.labels == ["neg", "pos"]
    assert column(named.splits["train"], "label") == ["neg", "pos", "pos"]


def test_empty_texts_are_skipped_counted_and_logged(tmp_path, caplog):
    train = write_jsonl(tmp_path / "train.jsonl",
                        rows(("a good film", "pos"), ("", "neg"), ("bad", "neg"), ("  \t", "pos"),
                             ("ok", "pos")))
    task = local_task(tmp_path, train)
    with caplog.at_level(logging.WARNING):
        task.prepare()
    assert column(task.splits["train"], "text") == ["a good film", "bad", "ok"]
    assert column(task.splits["train"], "line") == [1, 3, 5]
    assert task.splits["train"].skipped == {str(train): 2}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{train}:2: empty text, skipped" in warnings
    assert f"{train}:4: empty text, skipped" in warnings
    assert f"{train}: skipped 2 examples (see the warnings above for the first ones)" in warnings


def test_only_empty_texts_is_an_error(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", rows(("", "pos"), (" ", "neg")))
    message = prepare_error(local_task(tmp_path, train))
    assert message == f"{train}: no usable examples (2 skipped); is the file empty?"


def test_csv_quoted_commas_and_multiline_fields(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\n"good, really good",pos\n"line one\nline two",neg\nplain,pos\n',
                    encoding="utf-8")
    records = list(read_records(path, "csv"))
    assert records == [
        {"text": "good, really good", "label": "pos", "line": 2},
        {"text": "line one\nline two", "label": "neg", "line": 3},
        {"text": "plain", "label": "pos", "line": 5},
    ]


def test_csv_bad_row_after_a_multiline_field_names_its_own_line(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text('text,label\n"good, really good",pos\n"line one\nline two",neg\nplain,pos\nbad,row,x\n',
                     encoding="utf-8")
    valid = tmp_path / "valid.csv"
    valid.write_text("text,label\nfine,pos\n", encoding="utf-8")
    message = prepare_error(local_task(tmp_path, train, valid, options=("data.format=csv",)))
    assert message == f"{train}:6: malformed CSV row: expected 2 fields (header: text, label), found 3"


def test_csv_unclosed_quote_names_the_line_where_the_row_starts(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\nok,pos\n"never closed,pos\nnext,neg\nmore,pos\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        list(read_records(path, "csv"))
    assert str(info.value) == (f"{path}:3: malformed CSV: unexpected end of data "
                               "(the row runs on to line 5: an unclosed quote?)")


def test_csv_bad_quoting_inside_a_line(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\nok,pos\n"a"b,pos\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        list(read_records(path, "csv"))
    assert str(info.value) == f"{path}:3: malformed CSV: ',' expected after '\"'"


def test_csv_row_with_an_extra_field(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,label\ngood,pos\ngood,pos,extra\n", encoding="utf-8")
    message = prepare_error(local_task(tmp_path, train, train, options=("data.format=csv",)))
    assert message == f"{train}:3: malformed CSV row: expected 2 fields (header: text, label), found 3"


def test_csv_with_a_byte_order_mark(tmp_path):
    # Excel writes a BOM; it must not stick to the first header name.
    path = tmp_path / "train.csv"
    path.write_bytes("\ufefftext,label\nhi,pos\n".encode())
    assert list(read_records(path, "csv")) == [{"text": "hi", "label": "pos", "line": 2}]
    path = tmp_path / "train.jsonl"
    path.write_bytes('\ufeff{"text": "hi", "label": "pos"}\n'.encode())
    assert list(read_records(path, "jsonl")) == [{"text": "hi", "label": "pos", "line": 1}]


def test_tsv_row_with_a_missing_field(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\nonly text here\ngood\tpos\n", encoding="utf-8")
    message = prepare_error(local_task(tmp_path, train, train, options=("data.format=tsv",)))
    assert message == f"{train}:2: malformed TSV row: expected 2 fields (header: text, label), found 1"


def test_tsv_keeps_quotes_verbatim(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('text\tlabel\nhe said "hi\tpos\n"quoted" start\tneg\n', encoding="utf-8")
    assert list(read_records(path, "tsv")) == [
        {"text": 'he said "hi', "label": "pos", "line": 2},
        {"text": '"quoted" start', "label": "neg", "line": 3},
    ]


def test_text_format_is_one_record_per_line(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("first line\n\nthird, with \"quotes\"\tand a tab\r\nlast", encoding="utf-8")
    assert list(read_records(path, "text")) == [
        {"text": "first line", "line": 1},
        {"text": "", "line": 2},
        {"text": 'third, with "quotes"\tand a tab', "line": 3},
        {"text": "last", "line": 4},
    ]
    assert next(read_records(path, "text", text_field="sentence")) == {"sentence": "first line", "line": 1}


# ------------------------------------------------------------------------------------ bad local data


def test_malformed_jsonl_line(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a", "label": "pos"}\n'
                     '{"text": "b", "label": "neg"}\n'
                     '{"text": "c", "label": }\n', encoding="utf-8")
    message = prepare_error(local_task(tmp_path, train))
    assert message == f"{train}:3: malformed JSON: Expecting value at column 24"


def test_jsonl_line_that_is_not_an_object(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a", "label": "pos"}\n["b", "neg"]\n', encoding="utf-8")
    assert prepare_error(local_task(tmp_path, train)) == f"{train}:2: expected a JSON object, got list"


def test_missing_text_field(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [GOOD[0], {"review": "b", "label": "neg"}])
    message = prepare_error(local_task(tmp_path, train))
    assert message == f"{train}:2: missing field 'text' (fields present: review, label); set data.text_field"


def test_missing_label_field(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [GOOD[0], GOOD[1], {"text": "c"}])
    message = prepare_error(local_task(tmp_path, train))
    assert message == f"{train}:3: missing field 'label' (fields present: text); set data.label_field"


def test_wrong_value_types(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [GOOD[0], {"text": 5, "label": "neg"}])
    assert prepare_error(local_task(tmp_path, train)) == f"{train}:2: field 'text' must be a string, got int"
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": True}])
    assert prepare_error(local_task(tmp_path, train)) == (
        f"{train}:1: field 'label' must be a string or integer, got True")


def test_label_id_outside_label_names(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", rows(("a", 0), ("b", 2)))
    message = prepare_error(local_task(tmp_path, train, None, options=("data.label_names=[neg,pos]",)))
    assert message == f"{train}:2: label id 2 is outside data.label_names"


def test_non_utf8_bytes(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_bytes(b'{"text": "a", "label": "pos"}\n{"text": "caf\xe9", "label": "pos"}\n')
    message = prepare_error(local_task(tmp_path, train))
    assert message == (f"{train}:2: file is not valid UTF-8: cannot decode byte(s) 0xe9 at byte 14 of "
                       "the line (re-encode the file as UTF-8)")


def test_empty_file(tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("", encoding="utf-8")
    assert prepare_error(local_task(tmp_path, train)) == f"{train}: no usable examples; is the file empty?"


def test_missing_file(tmp_path):
    train = tmp_path / "nope.jsonl"
    expected = f"{train}: cannot read file: No such file or directory"
    assert prepare_error(local_task(tmp_path, train)) == expected


def test_unseen_label_in_valid_names_the_valid_file_and_line(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", GOOD)
    valid = write_jsonl(tmp_path / "valid.jsonl", rows(("fine", "pos"), ("meh", "neutral")))
    message = prepare_error(local_task(tmp_path, train, valid))
    assert message == f"{valid}:2: label 'neutral' never occurs in the training data (known: neg, pos)"


def test_unseen_label_in_test_names_the_test_file_and_line(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", GOOD)
    test = write_jsonl(tmp_path / "test.jsonl", rows(("fine", "pos"), ("ok", "neg"), ("huh", "mixed")))
    message = prepare_error(local_task(tmp_path, train, None, test))
    assert message == f"{test}:3: label 'mixed' never occurs in the training data (known: neg, pos)"


def test_no_training_data_is_a_config_error(tmp_path):
    valid = write_jsonl(tmp_path / "valid.jsonl", GOOD)
    message = prepare_error(make_task(tmp_path, f"data.valid={valid}"), ConfigError)
    assert message == "data: no training data; set data.corpus, data.hub or data.train"


def test_valid_is_carved_from_local_train_when_absent(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", rows(*[(f"text {i}", "pos" if i % 2 else "neg")
                                                          for i in range(30)]))
    splits = load_splits(load_config(None, [f"data.train={train}", "data.valid_fraction=0.2"]).data,
                         lambda path: read_records(path, "jsonl"),
                         lambda record, source: {k: record[k] for k in ("text", "label")}, seed=5)
    assert len(splits["train"].dataset) == 24 and len(splits["valid"].dataset) == 6
    assert splits["valid"].source == f"{train} (held out)"
    lines = column(splits["train"], "line") + column(splits["valid"], "line")
    assert sorted(lines) == list(range(1, 31))


# ------------------------------------------------------------------------------------ hub-shaped data

IMDB_FEATURES = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
SST2_FEATURES = Features({"sentence": Value("string"), "label": ClassLabel(names=["negative", "positive"]),
                          "idx": Value("int32")})


def imdb_folder(tmp_path: Path) -> Path:
    """IMDB's shape: text + ClassLabel(neg, pos), splits train and test only."""
    folder = tmp_path / "imdb"
    folder.mkdir()
    train = {"text": [f"review number {i} was {'great' if i % 2 else 'awful'}" for i in range(20)],
             "label": [i % 2 for i in range(20)]}
    test = {"text": ["a great film", "an awful film", "great", "awful"], "label": [1, 0, 1, 0]}
    Dataset.from_dict(train, features=IMDB_FEATURES).to_parquet(str(folder / "train.parquet"))
    Dataset.from_dict(test, features=IMDB_FEATURES).to_parquet(str(folder / "test.parquet"))
    return folder


def sst2_folder(tmp_path: Path) -> Path:
    """GLUE SST-2's shape: sentence + ClassLabel(negative, positive) + idx; test labels are -1."""
    folder = tmp_path / "sst2"
    folder.mkdir()
    splits = {
        "train": [(f"sentence {i} is {'lovely' if i % 3 else 'dull'}", int(i % 3 != 0)) for i in range(20)],
        "validation": [("lovely", 1), ("dull", 0), ("so lovely", 1)],
        "test": [("unlabelled", -1), ("also unlabelled", -1)],
    }
    for name, pairs in splits.items():
        data = {"sentence": [s for s, _ in pairs], "label": [y for _, y in pairs],
                "idx": list(range(len(pairs)))}
        Dataset.from_dict(data, features=SST2_FEATURES).to_parquet(str(folder / f"{name}.parquet"))
    return folder


def test_hub_class_labels_become_names_and_valid_is_carved(tmp_path):
    folder = imdb_folder(tmp_path)
    hub = [f"data.hub={folder}", "data.valid_split=null", f"data.cache_dir={tmp_path / 'hf'}"]
    task = make_task(tmp_path, *hub)
    task.prepare()
    train, valid, test = (task.splits[name] for name in ("train", "valid", "test"))
    assert task.labels == ["neg", "pos"]
    assert set(column(train, "label")) == {"neg", "pos"}
    assert column(test, "label") == ["pos", "neg", "pos", "neg"]
    assert column(test, "text") == ["a great film", "an awful film", "great", "awful"]
    assert task.splits["test"].source == f"{folder}[test]"
    # 10% of 20 training rows held out; together they are exactly the hub's train split.
    assert (len(train.dataset), len(valid.dataset)) == (18, 2)
    assert sorted(column(train, "line") + column(valid, "line")) == list(range(1, 21))
    texts = column(train, "text") + column(valid, "text")
    labels = column(train, "label") + column(valid, "label")
    assert all(text.endswith("great") == (label == "pos") for text, label in zip(texts, labels, strict=True))

    again = make_task(tmp_path / "again", *hub)
    again.prepare()
    assert column(again.splits["valid"], "line") == column(valid, "line")
    other_seed = make_task(tmp_path / "other", *hub, "trainer.seed=1")
    other_seed.prepare()
    assert column(other_seed.splits["valid"], "line") != column(valid, "line")


def test_hub_shaped_like_glue_sst2(tmp_path):
    folder = sst2_folder(tmp_path)
    task = make_task(tmp_path, f"data.hub={folder}", "data.text_field=sentence", "data.test_split=null",
                     f"data.cache_dir={tmp_path / 'hf'}")
    task.prepare()
    assert sorted(task.splits) == ["train", "valid"]
    assert task.labels == ["negative", "positive"]
    valid = task.splits["valid"]
    assert column(valid, "text") == ["lovely", "dull", "so lovely"]
    assert column(valid, "label") == ["positive", "negative", "positive"]
    assert column(valid, "line") == [1, 2, 3]
    assert len(task.splits["train"].dataset) == 20


def test_missing_hub_split_names_the_dataset_and_split(tmp_path):
    folder = imdb_folder(tmp_path)
    task = make_task(tmp_path, f"data.hub={folder}", f"data.cache_dir={tmp_path / 'hf'}")  # no validation
    message = prepare_error(task)
    assert message.startswith(f"{folder}[validation]: could not load hub dataset: ")


def test_hub_split_with_no_usable_examples(tmp_path):
    folder = imdb_folder(tmp_path)
    empty = {"text": ["", "  "], "label": [0, 1]}
    Dataset.from_dict(empty, features=IMDB_FEATURES).to_parquet(str(folder / "validation.parquet"))
    task = make_task(tmp_path, f"data.hub={folder}", f"data.cache_dir={tmp_path / 'hf'}")
    message = prepare_error(task)
    assert message == f"{folder}[validation]: no usable examples (2 skipped); is the split empty?"


def test_hub_field_names_are_checked(tmp_path):
    folder = sst2_folder(tmp_path)
    task = make_task(tmp_path, f"data.hub={folder}", "data.test_split=null",
                     f"data.cache_dir={tmp_path / 'hf'}")
    message = prepare_error(task)  # text_field is still "text"
    assert message == (f"{folder}[train]:1: missing field 'text' (fields present: sentence, label, idx); "
                       "set data.text_field")


def test_imdb_recipe_reads_imdb_shaped_data(tmp_path):
    folder = imdb_folder(tmp_path)
    task = make_task(tmp_path, f"data.hub={folder}", f"data.cache_dir={tmp_path / 'hf'}",
                     recipe=RECIPES / "imdb_bilstm.yaml")
    task.prepare()
    sizes = {name: len(split.dataset) for name, split in task.splits.items()}
    assert sizes == {"train": 18, "valid": 2, "test": 4}
    assert task.labels == ["neg", "pos"]


def test_sst2_recipe_reads_glue_shaped_data(tmp_path):
    folder = sst2_folder(tmp_path)
    task = make_task(tmp_path, f"data.hub={folder}", f"data.cache_dir={tmp_path / 'hf'}",
                     recipe=RECIPES / "sst2_bilstm.yaml")
    task.prepare()
    sizes = {name: len(split.dataset) for name, split in task.splits.items()}
    assert sizes == {"train": 19, "valid": 1, "test": 3}  # 5% of train held out; GLUE validation is test
    assert task.labels == ["negative", "positive"]
    assert column(task.splits["test"], "text") == ["lovely", "dull", "so lovely"]
