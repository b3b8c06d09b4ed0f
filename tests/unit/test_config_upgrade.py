"""Saved run configs of earlier versions read with today's keys (nlpseq/config_upgrade.py)."""

from __future__ import annotations

import pytest

from nlpseq.config import Config, TokenizerConfig, from_dict
from nlpseq.config_upgrade import upgrade
from nlpseq.errors import ConfigError
from nlpseq.tasks import get_task


def sections(name: str) -> dict[str, type]:
    task = get_task(name)
    return {"data": task.data_config, "model": task.model_config, "tokenizer": task.tokenizer_config}


def test_renamed_moved_keys_and_renamed_values_take_todays_names() -> None:
    old = {"task": "translation", "data": {"joint_vocabulary": True, "source_lang": "fr"},
           "tokenizer": {"kind": "sentencepiece"}, "trainer": {"schedule": "warmup_linear"}}
    new, notes = upgrade(old, Config, sections("translation"))
    assert new == {"task": "translation", "data": {"source_lang": "fr"},
                   "tokenizer": {"kind": "sentencepiece", "joint": True}, "trainer": {"schedule": "linear"}}
    assert notes == ["data.joint_vocabulary -> tokenizer.joint", "trainer.schedule: warmup_linear -> linear"]
    assert old["data"]["joint_vocabulary"] is True  # the caller's values are left alone
    model = {"embedding_dim": 200, "embedding_dropout": 0.1, "embedding": {"embedding_dim": 300}}
    lm, notes = upgrade({"task": "lm", "model": model}, Config, sections("lm"))
    # A key already written the new way wins over the old one.
    assert lm["model"] == {"embedding": {"embedding_dim": 300, "type_dropout": 0.1}}
    assert notes == ["model.embedding_dim -> model.embedding.embedding_dim",
                     "model.embedding_dropout -> model.embedding.type_dropout"]
    today = {"task": "lm", "model": {"embedding": {"embedding_dim": 8}}}
    assert upgrade(today, Config, sections("lm")) == (today, [])


def test_word_level_keys_no_longer_say_split() -> None:
    # "split" names dataset splits only: the LM recipes' old tokenizer.pre_split is read as pretokenized
    # from a saved run, and refused with its new name from a recipe.
    old = {"task": "lm", "tokenizer": {"kind": "word", "pre_split": True}}
    new, notes = upgrade(old, Config, sections("lm"))
    assert new["tokenizer"] == {"kind": "word", "pretokenized": True}
    assert notes == ["tokenizer.pre_split -> tokenizer.pretokenized"]
    with pytest.raises(ConfigError, match=r"^tokenizer\.pre_split is now tokenizer\.pretokenized$"):
        from_dict(TokenizerConfig, {"pre_split": True}, "tokenizer")
