"""Saved run configs of earlier versions read with today's keys (nlpseq/config_upgrade.py)."""

from __future__ import annotations

from nlpseq.config import Config
from nlpseq.config_upgrade import upgrade
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
