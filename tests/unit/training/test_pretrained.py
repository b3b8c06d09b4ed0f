"""model.pretrained: an lm run's embedding rows (by token) and encoder layers copied into a classifier."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

from nlpseq.errors import ConfigError
from nlpseq.models.classifier import SequenceClassifier
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.models.language_model import LanguageModel, lm_encoder
from nlpseq.tokenizers import SPECIALS, VocabTokenizer
from nlpseq.training.checkpoint import load_checkpoint, save_checkpoint
from nlpseq.training.pretrained import load_pretrained, starts_from_pretrained
from tests.helpers import ROOT, run_cli, sentiment_files, sentiment_rows

LM_WORDS = ["the", "film", "was", "good", "bad", "plot", "a", "dull"]
# Another order, two words the language model lacks ("zany", "meh"), and not all of its words.
TASK_WORDS = ["meh", "bad", "the", "zany", "good", "a", "film"]
HIDDEN = 6


def write_lm_run(folder: Path, rnn_type: str = "lstm", weight_drop: float = 0.0, reverse: bool = False,
                 embedding_dim: int = 5, hidden_size: int = HIDDEN) -> LanguageModel:
    """A run folder as an lm run leaves it (config.yaml, tokenizer, best.pt), from a seeded model."""
    torch.manual_seed(3)
    model = LanguageModel(len(SPECIALS) + len(LM_WORDS), EmbeddingConfig(embedding_dim=embedding_dim),
                          lm_encoder(rnn_type=rnn_type, hidden_size=hidden_size, num_layers=2,
                                     weight_drop=weight_drop))
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"task": "lm", "data": {"reverse": reverse}}),
                                        encoding="utf-8")
    VocabTokenizer("word", [*SPECIALS, *LM_WORDS]).save(folder, "tokenizer")
    save_checkpoint(folder / "checkpoints" / "best.pt", {"model": model.state_dict()})
    return model.eval()


def classifier(rnn_type: str = "lstm", bidirectional: bool = True, hidden_size: int = HIDDEN,
               num_layers: int = 2) -> tuple[SequenceClassifier, VocabTokenizer]:
    torch.manual_seed(4)
    tokenizer = VocabTokenizer("word", [*SPECIALS, *TASK_WORDS])
    model = SequenceClassifier(tokenizer.vocab_size, 2, EmbeddingConfig(embedding_dim=5),
                               EncoderConfig(rnn_type=rnn_type, hidden_size=hidden_size,
                                             num_layers=num_layers, bidirectional=bidirectional))
    return model, tokenizer


def load(run: Path, model: SequenceClassifier, tokenizer: VocabTokenizer):
    return load_pretrained(run, model.embedding, model.encoder, tokenizer)


@pytest.mark.parametrize(("rnn_type", "weight_drop", "bidirectional"),
                         [("lstm", 0.0, True), ("gru", 0.0, False), ("lstm", 0.3, False), ("gru", 0.3, True)])
def test_loading_copies_exactly_the_tensors_it_says(tmp_path: Path, rnn_type: str, weight_drop: float,
                                                    bidirectional: bool) -> None:
    write_lm_run(tmp_path / "lm", rnn_type, weight_drop)
    lm_state = load_checkpoint(tmp_path / "lm" / "checkpoints" / "best.pt")["model"]
    model, tokenizer = classifier(rnn_type, bidirectional)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    loaded = load(tmp_path / "lm", model, tokenizer)
    after = model.state_dict()

    # Rows: the specials by id, every shared word by its string, in the LM's order; nothing else.
    lm_itos = [*SPECIALS, *LM_WORDS]
    expected_rows = {1: 1, 2: 2, 3: 3, **{4 + i: lm_itos.index(word) for i, word in enumerate(TASK_WORDS)
                                          if word in lm_itos}}
    assert loaded.rows == expected_rows
    lm_matrix, matrix = lm_state["embedding.embedding.weight"], after["embedding.embedding.weight"]
    for row in range(tokenizer.vocab_size):
        if row in loaded.rows:
            assert torch.equal(matrix[row], lm_matrix[loaded.rows[row]])
        else:  # padding and the words the LM lacks keep their fresh initialisation
            assert torch.equal(matrix[row], before["embedding.embedding.weight"][row])
    assert not matrix[0].any()

    # Encoder: the forward direction of both layers, from the raw matrices under weight drop.
    raw = "layers.{k}.rnn.weight_hh_raw" if weight_drop else "layers.{k}.rnn.weight_hh_l0"
    inner = "layers.{k}.rnn.rnn." if weight_drop else "layers.{k}.rnn."
    expected = {}
    for k in range(2):
        expected[f"rnn.weight_ih_l{k}"] = inner.format(k=k) + "weight_ih_l0"
        expected[f"rnn.weight_hh_l{k}"] = raw.format(k=k)
        expected[f"rnn.bias_ih_l{k}"] = inner.format(k=k) + "bias_ih_l0"
        expected[f"rnn.bias_hh_l{k}"] = inner.format(k=k) + "bias_hh_l0"
    assert loaded.tensors == expected
    for name, source in loaded.tensors.items():
        tensor = after[f"encoder.{name}"]
        if name == "rnn.weight_ih_l1" and bidirectional:  # [forward | backward] inputs of layer 1
            assert torch.equal(tensor[:, :HIDDEN], lm_state[source]) and not tensor[:, HIDDEN:].any()
        else:
            assert torch.equal(tensor, lm_state[source])
    # Everything else (the backward direction, pooling, the output layer) is as it was built.
    untouched = {name for name in after if name != "embedding.embedding.weight"
                 and name.removeprefix("encoder.") not in loaded.tensors}
    assert any(name.endswith("_reverse") for name in untouched) == bidirectional
    assert all(torch.equal(after[name], before[name]) for name in untouched)


@pytest.mark.parametrize("weight_drop", [0.0, 0.3])
def test_the_loaded_direction_computes_the_language_models_states(tmp_path: Path, weight_drop: float) -> None:
    # A two-layer bidirectional encoder: its forward half reproduces a forward LM's top-layer states
    # (the zero columns of layer 1 ignore the fresh backward direction), its backward half a backward
    # LM's, read right to left.
    words = ["the", "film", "a", "good", "bad"]  # in both vocabularies, at different ids
    lm_ids = torch.tensor([[[*SPECIALS, *LM_WORDS].index(word) for word in words]])
    task_ids = torch.tensor([[[*SPECIALS, *TASK_WORDS].index(word) for word in words]])
    for reverse, half in ((False, slice(0, HIDDEN)), (True, slice(HIDDEN, 2 * HIDDEN))):
        run = tmp_path / f"lm_{reverse}"
        lm = write_lm_run(run, "lstm", weight_drop, reverse=reverse)
        model, tokenizer = classifier("lstm", bidirectional=True)
        load(run, model, tokenizer)
        model.eval()
        with torch.no_grad():
            x = lm.embedding(lm_ids.flip(1) if reverse else lm_ids)
            for layer in lm.layers:
                x = layer(x).outputs
            expected = x.flip(1) if reverse else x
            ours = model.encoder(model.embedding(task_ids), torch.tensor([len(words)])).outputs[..., half]
        assert torch.allclose(ours, expected, atol=1e-6)


def test_a_mismatching_shape_is_one_line_naming_the_sizes_and_the_keys(tmp_path: Path) -> None:
    write_lm_run(tmp_path / "lm", "lstm")
    model, tokenizer = classifier("gru", hidden_size=8, num_layers=1)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "lm", model, tokenizer)
    message = str(caught.value)
    assert message == (f"model.pretrained: {tmp_path / 'lm'} does not fit this model (rnn_type lstm there, "
                       "gru here, hidden_size 6 there, 8 here, num_layers 2 there, 1 here): set "
                       "model.encoder.rnn_type=lstm model.encoder.hidden_size=6 model.encoder.num_layers=2 "
                       "to match the language model")


def test_a_backward_language_model_needs_a_bidirectional_encoder(tmp_path: Path) -> None:
    write_lm_run(tmp_path / "lm", reverse=True)
    model, tokenizer = classifier(bidirectional=False)
    with pytest.raises(ConfigError, match=r"^model\.pretrained: .* reads right to left \(data\.reverse\) "
                                          r"and this encoder left to right only: set "
                                          r"model\.encoder\.bidirectional=true"):
        load(tmp_path / "lm", model, tokenizer)


def test_runs_that_cannot_be_used_are_one_line_each(tmp_path: Path) -> None:
    model, tokenizer = classifier()
    write_lm_run(tmp_path / "unevaluated")
    (tmp_path / "unevaluated" / "checkpoints" / "best.pt").unlink()
    (tmp_path / "plain").mkdir()
    cases = {tmp_path / "nowhere": r"does not exist \(train the language model first",
             tmp_path / "plain": r"is not a run folder \(no config\.yaml\)",
             tmp_path / "unevaluated": r"has no checkpoints/best\.pt"}
    for run, message in cases.items():
        with pytest.raises(ConfigError, match=rf"^model\.pretrained: {run} {message}") as caught:
            load(run, model, tokenizer)
        assert "\n" not in str(caught.value)


def test_only_a_new_training_run_loads(tmp_path: Path) -> None:
    assert starts_from_pretrained("lm", tmp_path, training=True)
    assert not starts_from_pretrained(None, tmp_path, training=True)
    assert not starts_from_pretrained("lm", tmp_path, training=False)  # restored: its own checkpoint
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.pt").write_bytes(b"")
    assert not starts_from_pretrained("lm", tmp_path, training=True)  # resumed: its own last.pt


# ------------------------------------------------------------------------- the chain through the CLI
@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny word LM trained for a few steps on the sentiment fixture's text (lowercase, as the
    sentiment recipe's tokenizer is)."""
    folder = tmp_path_factory.mktemp("lm")
    overrides = []
    for split, count, seed in (("train", 200, 11), ("valid", 20, 12), ("test", 20, 13)):
        path = folder / f"{split}.txt"
        path.write_text("".join(row["text"] + "\n" for row in sentiment_rows(count, seed)), encoding="utf-8")
        overrides.append(f"data.{split}={path}")
    run = folder / "run"
    done = run_cli("train", "lm/tiny", *overrides, f"run_dir={run}", "trainer.max_epochs=1",
                   "model.encoder.weight_drop=0.2")
    assert done.returncode == 0, done.stderr
    return run


def _classifier_command(tmp_path: Path, run: Path, pretrained: Path, epochs: int) -> tuple[str, ...]:
    """`nlpseq train sentiment/tiny` from ``pretrained``: lm/tiny is a two-layer LSTM of hidden size 16
    over 16-dim embeddings, sentiment/tiny a one-layer GRU, so two overrides match them."""
    return ("train", "sentiment/tiny", *sentiment_files(tmp_path / "data"), f"run_dir={run}",
            f"trainer.max_epochs={epochs}", f"model.pretrained={pretrained}", "model.encoder.rnn_type=lstm",
            "model.encoder.num_layers=2")


def test_lm_to_classifier_chain_trains_and_predicts_without_the_lm_folder(lm_run: Path,
                                                                          tmp_path: Path) -> None:
    lm = tmp_path / "lm"
    shutil.copytree(lm_run, lm)
    run = tmp_path / "classifier"
    command = _classifier_command(tmp_path, run, lm, epochs=2)
    done = run_cli(*command)
    assert done.returncode == 0, done.stderr
    log = (run / "train.log").read_text(encoding="utf-8")
    lm_words = len(yaml.safe_load((lm / "tokenizer.json").read_text(encoding="utf-8"))["itos"])
    task_words = len(yaml.safe_load((run / "tokenizer.json").read_text(encoding="utf-8"))["itos"])
    # The same fixture words on both sides: every row matches (the LM's extra filler words are unused).
    rows = task_words - 1  # the padding row is never copied
    assert f"model.pretrained: {rows:,} of {rows:,} embedding rows matched by token" in log
    assert task_words <= lm_words
    assert "2 lstm layer(s) of hidden size 16 into the encoder's forward direction (weight drop's raw " \
           "hidden-to-hidden matrices); its backward direction starts fresh" in log
    assert yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))["model"]["pretrained"] == str(lm)

    # The run no longer needs the language model: it predicts, and the same command resumes, without it.
    shutil.rmtree(lm)
    predicted = run_cli("predict", str(run), stdin="the film was great\nthe plot was dull\n")
    assert predicted.returncode == 0, predicted.stderr
    assert [line.split("\t")[0] for line in predicted.stdout.splitlines()] == ["pos", "neg"]
    again = run_cli(*command)
    assert again.returncode == 0, again.stderr


def test_a_run_of_another_kind_or_none_is_one_line_through_the_cli(lm_run: Path, tmp_path: Path) -> None:
    data = sentiment_files(tmp_path / "data")
    base = ("train", "sentiment/tiny", *data, "trainer.max_epochs=1")
    classification = tmp_path / "sentiment"
    assert run_cli(*base, f"run_dir={classification}").returncode == 0
    for pretrained, message in ((classification, "is a classification run; it must be a language model run"),
                                (tmp_path / "missing", "does not exist")):
        done = run_cli(*base, f"run_dir={tmp_path / 'new'}", f"model.pretrained={pretrained}")
        assert done.returncode != 0
        # The console shows the run's log lines before it; the error itself is its last line, alone.
        errors = [line for line in done.stderr.splitlines() if "model.pretrained" in line]
        assert errors == [done.stderr.strip().splitlines()[-1]] and "Traceback" not in done.stderr
        assert errors[0].startswith(f"nlpseq: error: model.pretrained: {pretrained} {message}")
        assert not (tmp_path / "new" / "config.yaml").exists()  # refused before the run existed


def test_an_incompatible_lm_through_the_cli_names_the_keys(lm_run: Path, tmp_path: Path) -> None:
    done = run_cli("train", "sentiment/tiny", *sentiment_files(tmp_path / "data"),
                   f"run_dir={tmp_path / 'r'}", f"model.pretrained={lm_run}")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1:] == [
        f"nlpseq: error: model.pretrained: {lm_run} does not fit this model (rnn_type lstm there, gru here, "
        "num_layers 2 there, 1 here): set model.encoder.rnn_type=lstm model.encoder.num_layers=2 to match "
        "the language model"]


def test_a_recipe_named_in_model_pretrained_is_trained_first_then_reused(tmp_path: Path) -> None:
    # One command runs the chain: the LM recipe has no run yet, so it is trained (as `nlpseq train
    # RECIPE` would), then the classifier starts from it; run again, neither trains anew.
    for split, count, seed in (("train", 200, 11), ("valid", 20, 12)):
        path = tmp_path / f"lm_{split}.txt"
        path.write_text("".join(row["text"] + "\n" for row in sentiment_rows(count, seed)), encoding="utf-8")
    lm_recipe = tmp_path / "my_lm.yaml"
    values = yaml.safe_load((ROOT / "recipes" / "lm" / "tiny.yaml").read_text(encoding="utf-8"))
    values["run_dir"] = str(tmp_path / "lm_run")
    values["data"] = {**(values.get("data") or {}), "train": str(tmp_path / "lm_train.txt"),
                      "valid": str(tmp_path / "lm_valid.txt")}
    values["trainer"] = {**values["trainer"], "max_epochs": 1}
    lm_recipe.write_text(yaml.safe_dump(values), encoding="utf-8")
    run = tmp_path / "classifier"
    command = _classifier_command(tmp_path, run, lm_recipe, epochs=1)
    done = run_cli(*command)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "lm_run" / "results.json").is_file()
    assert "has no finished run in" in done.stderr and "training it first" in done.stderr
    saved = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    assert saved["model"]["pretrained"] == str(tmp_path / "lm_run")
    assert "embedding rows matched by token" in (run / "train.log").read_text(encoding="utf-8")
    lm_metrics = (tmp_path / "lm_run" / "metrics.jsonl").read_bytes()
    again = run_cli(*command)
    assert again.returncode == 0, again.stderr
    assert "has finished in" in again.stderr
    assert (tmp_path / "lm_run" / "metrics.jsonl").read_bytes() == lm_metrics  # not trained again


def test_a_missing_pretrained_run_is_said_before_any_data_is_read(tmp_path: Path) -> None:
    # The data files do not exist either: the first thing said is the missing language model, so a
    # long tokenisation is never spent on a run that would stop at its model.
    done = run_cli("train", "sentiment/tiny", f"data.train={tmp_path / 'no_train.jsonl'}",
                   f"data.valid={tmp_path / 'no_valid.jsonl'}", f"run_dir={tmp_path / 'run'}",
                   f"model.pretrained={tmp_path / 'no_lm'}")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        f"nlpseq: error: model.pretrained: {tmp_path / 'no_lm'} does not exist (neither a run folder nor a "
        "recipe name; nlpseq recipes lists the recipes)")
    assert "no_train.jsonl" not in done.stderr
