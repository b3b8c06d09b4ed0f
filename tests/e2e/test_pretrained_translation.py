"""The pretrain -> translate chain through the real command line: a tiny French language model (and its
backward twin) and a tiny English one, then a translator starting from all three with their
tokenizers, evaluated after the language models' folders are gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from nlpseq.tokenizers import load_tokenizer
from tests.helpers import run_cli
from tests.tasks.test_translation import toy_pairs, write_prefix

# lm/tiny is a two-layer LSTM of hidden size 16 over 16-dim embeddings; translation/tiny's sizes differ,
# so these overrides make the translator's embedding, encoder and decoder the language models' shape.
SIZES = ("model.embedding.embedding_dim=16", "model.encoder.rnn_type=lstm", "model.encoder.hidden_size=16",
         "model.encoder.num_layers=2", "model.decoder.rnn_type=lstm", "model.decoder.hidden_size=16",
         "model.decoder.num_layers=2")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("pairs")
    return {name: write_prefix(folder / name, toy_pairs(n, seed))
            for name, n, seed in (("train", 300, 1), ("valid", 30, 2), ("test", 30, 3))}


@pytest.fixture(scope="module")
def lm_runs(corpus: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Language models trained for one epoch on one side of the pairs, with sentencepiece tokenizers
    (translation's kind): fr (forward), fr_backward (data.reverse) and en."""
    folder = tmp_path_factory.mktemp("lms")
    runs = {}
    models = (("fr", "fr", ()), ("fr_backward", "fr", ("data.reverse=true",)), ("en", "en", ()))
    for name, lang, extra in models:
        splits = [f"data.{split}={corpus[split]}.{lang}" for split in ("train", "valid")]
        runs[name] = folder / name
        done = run_cli("train", "lm/tiny", *splits, f"run_dir={runs[name]}", "trainer.max_epochs=1",
                       "tokenizer.kind=sentencepiece", "tokenizer.pretokenized=false",
                       "tokenizer.vocab_size=40",
                       f"data.cache_dir={folder / 'cache'}", *extra)
        assert done.returncode == 0, done.stderr
    return runs


def test_language_models_to_translator_chain_evaluates_without_the_lm_folders(
        corpus: dict[str, str], lm_runs: dict[str, Path], tmp_path: Path) -> None:
    lms = {}
    for name, run in lm_runs.items():
        lms[name] = tmp_path / name
        shutil.copytree(run, lms[name])
    run = tmp_path / "translator"
    command = ("train", "translation/tiny", *(f"data.{k}={v}" for k, v in corpus.items()), f"run_dir={run}",
               f"data.cache_dir={tmp_path / 'cache'}", "trainer.max_epochs=2", *SIZES,
               f"model.pretrained_encoder={lms['fr']}",
               f"model.pretrained_encoder_backward={lms['fr_backward']}",
               f"model.pretrained_decoder={lms['en']}", "tokenizer.from_pretrained=true")
    done = run_cli(*command)
    assert done.returncode == 0, done.stderr
    log = (run / "train.log").read_text(encoding="utf-8")

    # Each side took its language model's tokenizer (copied into the run folder), so every row matches.
    sides = (("source", "fr", "model.pretrained_encoder"), ("target", "en", "model.pretrained_decoder"))
    for side, lm, key in sides:
        assert (run / f"{side}.model").read_bytes() == (lms[lm] / "tokenizer.model").read_bytes()
        assert f"{key}: tokenizer {side!r} taken from {lms[lm]}" in log
        rows = load_tokenizer(run, side).vocab_size - 1  # the padding row is never copied
        assert f"{key}: {rows:,} of {rows:,} embedding rows matched by token" in log
    layers = "2 lstm layer(s) of hidden size 16 into the"
    assert f"model.pretrained_encoder: {layers} encoder's forward direction;" in log
    assert f"model.pretrained_encoder_backward: {layers} encoder's backward direction" in log
    # Bahdanau: [emb(y); context], the context being the 2 x 16 states of the bidirectional encoder.
    assert (f"model.pretrained_decoder: {layers} decoder (its first layer's 32 context columns start at "
            "zero); output layer copied") in log
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["model"]
    assert saved["pretrained_decoder"] == str(lms["en"])

    # The finished run needs none of the language models: evaluate reads its own folder only.
    for folder in lms.values():
        shutil.rmtree(folder)
    evaluated = run_cli("evaluate", str(run), "--beam-size", "1")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["greedy"]["examples"] == 30
    # Nor does the same command, resuming: its tokenizers and weights are the run's own by now.
    again = run_cli(*command)
    assert again.returncode == 0, again.stderr


def test_an_unusable_language_model_is_one_line_through_the_cli(
        corpus: dict[str, str], lm_runs: dict[str, Path], tmp_path: Path) -> None:
    base = ("train", "translation/tiny", *(f"data.{k}={v}" for k, v in corpus.items()),
            f"data.cache_dir={tmp_path / 'cache'}", f"run_dir={tmp_path / 'new'}")
    cases = ((("model.pretrained_decoder=" + str(tmp_path / "missing"),), "does not exist"),
             ((f"model.pretrained_decoder={lm_runs['en']}",), "does not fit this model"),
             ((*SIZES, f"model.pretrained_encoder={lm_runs['fr_backward']}"), "reads right to left"))
    for overrides, message in cases:
        done = run_cli(*base, *overrides)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("nlpseq: error: model.pretrained_") and message in last, last
        assert not (tmp_path / "new" / "config.yaml").exists()  # refused before the run existed
