"""Parallel text readers (nlpseq/data/parallel.py) and the translation task's handling of bad pairs:
every structural fault is one DataError naming file and line; empty sides and over-long pairs are
skipped and counted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from nlpseq.data.parallel import pair_fields, parallel_paths, read_pairs
from nlpseq.errors import DataError
from tests.helpers import ROOT


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_prefix_and_suffix_name_the_same_pair(tmp_path: Path) -> None:
    write(tmp_path / "train.fr", "le chat\nle chien\n")
    write(tmp_path / "train.en", "the cat\nthe dog\n")
    expected = [{"source": "le chat", "target": "the cat", "line": 1},
                {"source": "le chien", "target": "the dog", "line": 2}]
    assert list(read_pairs(str(tmp_path / "train"), "parallel", "fr", "en")) == expected
    assert list(read_pairs(str(tmp_path / "train.en"), "parallel", "fr", "en")) == expected
    assert parallel_paths("x/train.fr", "fr", "en") == (Path("x/train.fr"), Path("x/train.en"))


@pytest.mark.parametrize(("fr", "en", "message"), [
    ("a\nb\nc\n", "x\ny\n", r"train\.en:3: train\.en ends after 2 lines but train\.fr has more"),
    ("a\n", "x\ny\n", r"train\.fr:2: train\.fr ends after 1 lines but train\.en has more"),
])
def test_files_of_different_lengths_name_file_and_line(tmp_path: Path, fr: str, en: str,
                                                       message: str) -> None:
    write(tmp_path / "train.fr", fr)
    write(tmp_path / "train.en", en)
    with pytest.raises(DataError, match=message):
        list(read_pairs(str(tmp_path / "train"), "parallel", "fr", "en"))


def test_a_missing_side_is_one_line(tmp_path: Path) -> None:
    write(tmp_path / "train.fr", "a\n")
    with pytest.raises(DataError, match=r"train\.en: file not found \(data.format=parallel reads PREFIX\.fr"):
        list(read_pairs(str(tmp_path / "train"), "parallel", "fr", "en"))


def test_bad_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "train.fr").write_bytes(b"a\n\xff\n")
    write(tmp_path / "train.en", "x\ny\n")
    with pytest.raises(DataError, match=r"train\.fr:2: file is not valid UTF-8"):
        list(read_pairs(str(tmp_path / "train"), "parallel", "fr", "en"))


def test_tsv_needs_exactly_two_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.tsv", "le chat\tthe cat\n\nun\tdeux\ttrois\n")
    rows = read_pairs(str(path), "tsv", "fr", "en")
    assert next(rows) == {"source": "le chat", "target": "the cat", "line": 1}
    with pytest.raises(DataError, match=r"pairs\.tsv:3: expected 2 tab-separated columns \(source, target\), "
                                        "found 3"):
        next(rows)


def test_jsonl_with_fields_or_a_translation_object(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.jsonl", json.dumps({"fr": "le chat", "en": "the cat"}) + "\n"
                 + json.dumps({"translation": {"fr": "le chien", "en": "the dog"}}) + "\n"
                 + json.dumps({"translation": {"de": "der Hund", "en": "the dog"}}) + "\n")
    records = list(read_pairs(str(path), "jsonl", "fr", "en"))
    assert pair_fields(records[0], "fr", "en", str(path)) == ("le chat", "the cat")
    assert pair_fields(records[1], "fr", "en", str(path)) == ("le chien", "the dog")
    with pytest.raises(DataError, match=r"pairs\.jsonl:3: missing field 'fr' \(fields present: de, en\)"):
        pair_fields(records[2], "fr", "en", str(path))


def test_malformed_jsonl_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "pairs.jsonl", '{"fr": "a", "en": "b"}\n{"fr": \n')
    with pytest.raises(DataError, match=r"pairs\.jsonl:2: malformed JSON"):
        list(read_pairs(str(path), "jsonl", "fr", "en"))


def test_the_task_skips_and_counts_empty_sides_and_over_long_pairs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from nlpseq.tasks import load_config
    from nlpseq.tasks.translation import TranslationTask

    fr = ["le chat", "", "le chien", "un " * 60, "le chat noir"] * 4
    en = ["the cat", "the void", "  ", "a " * 60, "the black cat"] * 4
    write(tmp_path / "train.fr", "\n".join(fr) + "\n")
    write(tmp_path / "train.en", "\n".join(en) + "\n")
    config = load_config(ROOT / "recipes" / "translation" / "tiny.yaml",
                         [f"data.train={tmp_path / 'train'}", f"data.valid={tmp_path / 'train'}",
                          "data.max_length=30", f"data.cache_dir={tmp_path / 'cache'}",
                          "tokenizer.kind=word"])
    task = TranslationTask(config, tmp_path / "run")
    (tmp_path / "run").mkdir()
    with caplog.at_level(logging.WARNING):
        task.prepare()
    assert len(task.splits["train"].dataset) == 8  # 20 - 8 empty sides - 4 over-long
    assert "train: skipped 8 examples" in caplog.text
    assert "train.fr:2: empty source side, skipped" in caplog.text
    assert "train.en:3: empty target side, skipped" in caplog.text
    assert "skipped 4 training pairs longer than data.max_length=30 tokens" in caplog.text
    assert len(task.splits["valid"].dataset) == 12  # validation keeps long pairs: every reference counts


def test_hub_translation_rows_from_local_parquet_shaped_like_iwslt2017(tmp_path: Path) -> None:
    from datasets import Dataset, Features, Translation

    from nlpseq.tasks import load_config
    from nlpseq.tasks.translation import TranslationTask

    features = Features({"translation": Translation(languages=["en", "fr"])})
    hub = tmp_path / "iwslt2017"
    hub.mkdir()
    rows = {"train": [("le chat", "the cat"), ("le chien", "the dog")] * 5,
            "validation": [("le chat", "the cat")], "test": [("le chien", "the dog")]}
    for split, pairs in rows.items():
        data = {"translation": [{"fr": fr, "en": en} for fr, en in pairs]}
        Dataset.from_dict(data, features=features).to_parquet(str(hub / f"{split}.parquet"))
    config = load_config(ROOT / "recipes" / "translation" / "tiny.yaml",
                         [f"data.hub={hub}", f"data.cache_dir={tmp_path / 'cache'}", "tokenizer.kind=word"])
    task = TranslationTask(config, tmp_path / "run")
    (tmp_path / "run").mkdir()
    task.prepare()
    assert task.splits["train"].dataset["source"][:2] == ["le chat", "le chien"]
    assert task.splits["valid"].dataset["target"] == ["the cat"]
    assert task.splits["test"].dataset["target"] == ["the dog"]
    assert task.splits["test"].source.endswith("[test]")
