"""Language models into a translation model (model.pretrained_encoder / _backward / pretrained_decoder):
what is copied, value by value, and the one-line refusals."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import yaml

from nlpseq.errors import ConfigError
from nlpseq.models.decoder import DecoderConfig
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.models.language_model import LanguageModel, lm_encoder
from nlpseq.models.seq2seq import Seq2Seq
from nlpseq.tasks import load_config
from nlpseq.tasks.translation import TranslationTask
from nlpseq.tokenizers import SPECIALS, VocabTokenizer, load_tokenizer
from nlpseq.training.checkpoint import load_checkpoint, save_checkpoint
from nlpseq.training.pretrained_seq2seq import (
    BACKWARD_KEY,
    DECODER_KEY,
    ENCODER_KEY,
    load_pretrained_decoder,
    load_pretrained_seq2seq,
    pretrained_tokenizer,
)
from tests.helpers import ROOT

FR_LM = ["le", "chat", "chien", "mange", "voit", "petit", "grand"]
EN_LM = ["the", "cat", "dog", "eats", "sees", "small", "big", "bird"]
# The task's own vocabularies: other orders, words the language models lack ("rouge", "red", "fish").
FR_TASK = ["chien", "rouge", "le", "chat", "voit"]
EN_TASK = ["red", "dog", "the", "fish", "cat", "sees"]
EMBEDDING, HIDDEN = 6, 6


def write_lm_run(folder: Path, words: list[str], rnn_type: str = "lstm", reverse: bool = False,
                 weight_drop: float = 0.0, tie_weights: bool = True, hidden_size: int = HIDDEN,
                 seed: int = 3) -> LanguageModel:
    """A run folder as an lm run leaves it (config.yaml, tokenizer, best.pt), from a seeded model whose
    output bias is made non-zero (a trained one is; a fresh one is zeros, which would prove nothing)."""
    torch.manual_seed(seed)
    model = LanguageModel(len(SPECIALS) + len(words), EmbeddingConfig(embedding_dim=EMBEDDING),
                          lm_encoder(rnn_type=rnn_type, hidden_size=hidden_size, num_layers=2,
                                     weight_drop=weight_drop), tie_weights=tie_weights)
    with torch.no_grad():
        model.output.bias.normal_()
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"task": "lm", "data": {"reverse": reverse}}),
                                        encoding="utf-8")
    VocabTokenizer("word", [*SPECIALS, *words]).save(folder, "tokenizer")
    save_checkpoint(folder / "checkpoints" / "best.pt", {"model": model.state_dict()})
    return model.eval()


def translator(rnn_type: str = "lstm", attention: str = "bahdanau", tie: bool = False, bridge: bool = True,
               hidden_size: int = HIDDEN, num_layers: int = 2, source_words: list[str] = FR_TASK,
               target_words: list[str] = EN_TASK) -> tuple[Seq2Seq, VocabTokenizer, VocabTokenizer]:
    torch.manual_seed(4)
    source = VocabTokenizer("word", [*SPECIALS, *source_words])
    target = VocabTokenizer("word", [*SPECIALS, *target_words])
    model = Seq2Seq(source.vocab_size, target.vocab_size, EmbeddingConfig(embedding_dim=EMBEDDING),
                    EncoderConfig(rnn_type=rnn_type, hidden_size=HIDDEN, num_layers=2, bidirectional=True),
                    DecoderConfig(rnn_type=rnn_type, hidden_size=hidden_size, num_layers=num_layers,
                                  attention=attention, attention_size=5, dropout=0.0, bridge=bridge,
                                  tie_embeddings=tie))
    return model, source, target


def expected_rows(lm_words: list[str], task_words: list[str]) -> dict[int, int]:
    """Specials by id, every shared word by its string; never padding."""
    lm_itos = [*SPECIALS, *lm_words]
    return {1: 1, 2: 2, 3: 3, **{len(SPECIALS) + i: lm_itos.index(word) for i, word in enumerate(task_words)
                                 if word in lm_itos}}


@pytest.mark.parametrize(("rnn_type", "weight_drop", "attention", "tie", "lm_tied", "output"), [
    ("lstm", 0.0, "bahdanau", False, True, "copied"),  # E == H: the LM's tied matrix reads H features
    ("gru", 0.3, "general", True, True, "tied"),  # Luong with input feeding, tied decoder
    ("lstm", 0.3, "general", False, False, "copied"),  # an untied LM's own output matrix
    ("gru", 0.0, "bahdanau", True, False, "tied"),
])
def test_the_decoder_gets_exactly_the_tensors_it_says(tmp_path: Path, rnn_type: str, weight_drop: float,
                                                      attention: str, tie: bool, lm_tied: bool,
                                                      output: str) -> None:
    write_lm_run(tmp_path / "en", EN_LM, rnn_type, weight_drop=weight_drop, tie_weights=lm_tied)
    lm_state = load_checkpoint(tmp_path / "en" / "checkpoints" / "best.pt")["model"]
    model, _, target = translator(rnn_type, attention, tie)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    loaded = load_pretrained_decoder(tmp_path / "en", model.target_embedding, model.decoder, target)
    after = model.state_dict()

    assert loaded.rows == expected_rows(EN_LM, EN_TASK) and loaded.output == output
    lm_matrix, matrix = lm_state["embedding.embedding.weight"], after["target_embedding.embedding.weight"]
    for row in range(target.vocab_size):
        fresh = before["target_embedding.embedding.weight"][row]
        assert torch.equal(matrix[row], lm_matrix[loaded.rows[row]] if row in loaded.rows else fresh)

    raw = "layers.{k}.rnn.weight_hh_raw" if weight_drop else "layers.{k}.rnn.weight_hh_l0"
    inner = "layers.{k}.rnn.rnn." if weight_drop else "layers.{k}.rnn."
    expected = {}
    for k in range(2):
        expected[f"cells.{k}.weight_ih"] = inner.format(k=k) + "weight_ih_l0"
        expected[f"cells.{k}.weight_hh"] = raw.format(k=k)
        expected[f"cells.{k}.bias_ih"] = inner.format(k=k) + "bias_ih_l0"
        expected[f"cells.{k}.bias_hh"] = inner.format(k=k) + "bias_hh_l0"
    assert loaded.tensors == expected
    for name, source in loaded.tensors.items():
        tensor = after[f"decoder.{name}"]
        if name == "cells.0.weight_ih":  # [emb(y); context or input feed]: the context columns are zero
            assert tensor.size(1) > EMBEDDING
            assert torch.equal(tensor[:, :EMBEDDING], lm_state[source]) and not tensor[:, EMBEDDING:].any()
        else:
            assert torch.equal(tensor, lm_state[source])

    # The output layer: bias rows by token always; the matrix is the copied embedding (tied) or the LM's
    # output rows; unmatched rows keep their initialisation.
    sources = list(loaded.rows.values())
    targets = list(loaded.rows)
    bias = after["decoder.output.bias"]
    assert torch.equal(bias[targets], lm_state["output.bias"][sources])
    unmatched = [i for i in range(target.vocab_size) if i not in loaded.rows]
    assert torch.equal(bias[unmatched], before["decoder.output.bias"][unmatched])
    weight = after["decoder.output.weight"]
    if tie:
        assert model.decoder.output.weight is model.target_embedding.embedding.weight
    else:
        assert torch.equal(weight[targets], lm_state["output.weight"][sources])
        assert torch.equal(weight[unmatched], before["decoder.output.weight"][unmatched])

    copied = {"target_embedding.embedding.weight", "decoder.output.bias", "decoder.output.weight",
              *(f"decoder.{name}" for name in loaded.tensors)}
    if tie:
        copied.add("decoder.embedding.embedding.weight")  # the same matrix under the decoder's name
    untouched = [name for name in after if name not in copied and not name.startswith("decoder.embedding.")]
    assert any(name.startswith(("decoder.attention.", "decoder.readout")) for name in untouched)
    assert all(torch.equal(after[name], before[name]) for name in untouched)


def test_an_output_layer_of_another_size_starts_fresh_but_for_its_bias(tmp_path: Path) -> None:
    # A tied LM with hidden 8 over 6-dim embeddings projects 8 -> 6: its output matrix reads 6 features,
    # the untied decoder's readout has 8.
    write_lm_run(tmp_path / "en", EN_LM, hidden_size=8)
    model, _, target = translator(hidden_size=8)
    before = model.decoder.output.weight.detach().clone()
    loaded = load_pretrained_decoder(tmp_path / "en", model.target_embedding, model.decoder, target)
    assert loaded.output == "fresh" and torch.equal(model.decoder.output.weight, before)


@pytest.mark.parametrize(("rnn_type", "attention"),
                         [("lstm", "bahdanau"), ("gru", "general"), ("gru", "bahdanau"), ("lstm", "general")])
def test_the_loaded_decoder_computes_the_language_models_states(tmp_path: Path, rnn_type: str,
                                                                 attention: str) -> None:
    # From a zero state (bridge false), with the context columns at zero, every decoder cell follows the
    # language model's layer on the same words, whatever the attention reads.
    lm = write_lm_run(tmp_path / "en", EN_LM, rnn_type)
    model, _, target = translator(rnn_type, attention, bridge=False)
    load_pretrained_decoder(tmp_path / "en", model.target_embedding, model.decoder, target)
    model.eval()
    words = ["the", "cat", "sees", "the", "dog"]
    lm_ids = torch.tensor([[[*SPECIALS, *EN_LM].index(w) for w in words]])
    task_ids = torch.tensor([[[*SPECIALS, *EN_TASK].index(w) for w in words]])
    with torch.no_grad():
        x = lm.embedding(lm_ids)
        for layer in lm.layers:
            x = layer(x).outputs
        source_ids = torch.tensor([[4, 5, 6]])
        memory, state = model.encode(source_ids, torch.tensor([3]), torch.ones(1, 3, dtype=torch.bool))
        tops = []
        for position in range(len(words)):
            _, state, _ = model.decoder.step(task_ids[:, position], state, memory)
            tops.append(state.hidden[-1])
    assert torch.allclose(torch.stack(tops, dim=1), x, atol=1e-6)


def test_both_encoder_directions_and_the_decoder_from_three_language_models(tmp_path: Path) -> None:
    write_lm_run(tmp_path / "fr", FR_LM, seed=1)
    write_lm_run(tmp_path / "fr_back", FR_LM, reverse=True, seed=2)
    write_lm_run(tmp_path / "en", EN_LM, seed=3)
    states = {name: load_checkpoint(tmp_path / name / "checkpoints" / "best.pt")["model"]
              for name in ("fr", "fr_back", "en")}
    model, source, target = translator()
    runs = {ENCODER_KEY: str(tmp_path / "fr"), BACKWARD_KEY: str(tmp_path / "fr_back"),
            DECODER_KEY: str(tmp_path / "en")}
    loaded = load_pretrained_seq2seq(model, runs, source, target)
    assert loaded.encoder.direction == "forward" and loaded.encoder_backward.direction == "backward"
    assert loaded.encoder_backward.tensors == {name + "_reverse": value
                                               for name, value in loaded.encoder.tensors.items()}
    encoder = model.encoder.rnn
    assert torch.equal(encoder.weight_hh_l0, states["fr"]["layers.0.rnn.weight_hh_l0"])
    assert torch.equal(encoder.weight_hh_l0_reverse, states["fr_back"]["layers.0.rnn.weight_hh_l0"])
    backward_ih = states["fr_back"]["layers.1.rnn.weight_ih_l0"]
    assert torch.equal(encoder.weight_ih_l1_reverse[:, HIDDEN:], backward_ih)
    # One source embedding for both directions: the forward model's rows, not the backward one's.
    rows = expected_rows(FR_LM, FR_TASK)
    assert loaded.encoder.rows == rows
    weight = model.source_embedding.embedding.weight
    assert torch.equal(weight[list(rows)], states["fr"]["embedding.embedding.weight"][list(rows.values())])
    assert torch.equal(model.decoder.cells[1].weight_hh, states["en"]["layers.1.rnn.weight_hh_l0"])


def test_a_backward_model_alone_fills_the_source_embedding(tmp_path: Path) -> None:
    write_lm_run(tmp_path / "fr_back", FR_LM, reverse=True)
    lm_matrix = load_checkpoint(tmp_path / "fr_back" / "checkpoints" / "best.pt")["model"][
        "embedding.embedding.weight"]
    model, source, target = translator()
    loaded = load_pretrained_seq2seq(model, {BACKWARD_KEY: str(tmp_path / "fr_back")}, source, target)
    rows = loaded.encoder_backward.rows
    assert torch.equal(model.source_embedding.embedding.weight[list(rows)], lm_matrix[list(rows.values())])


def test_taking_the_language_models_tokenizer_matches_every_row(tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    write_lm_run(tmp_path / "en", EN_LM)
    run = tmp_path / "run"
    run.mkdir()
    target = pretrained_tokenizer(run, "target", tmp_path / "en", DECODER_KEY)
    assert (run / "target.json").is_file()
    assert [target.piece(i) for i in range(target.vocab_size)] == [*SPECIALS, *EN_LM]
    model, _, _ = translator(target_words=EN_LM)
    with caplog.at_level(logging.INFO, logger="nlpseq.model"):
        loaded = load_pretrained_decoder(tmp_path / "en", model.target_embedding, model.decoder, target)
    assert loaded.rows == {i: i for i in range(1, target.vocab_size)}  # 100%: every row but padding
    rows = len(EN_LM) + 3
    assert f"{DECODER_KEY}: {rows} of {rows} embedding rows matched by token" in caplog.text
    # A resumed run has its copy: the language model's folder is not read again (it may be gone).
    (tmp_path / "en" / "tokenizer.json").unlink()
    again = pretrained_tokenizer(run, "target", tmp_path / "en", DECODER_KEY)
    assert again.vocab_size == load_tokenizer(run, "target").vocab_size == target.vocab_size


def test_a_vocabulary_mismatch_warns_with_the_share_matched(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    write_lm_run(tmp_path / "en", EN_LM)
    model, _, target = translator(target_words=["zz", "yy", "xx", "ww", "vv", "uu", "the"])
    with caplog.at_level(logging.INFO, logger="nlpseq.model"):
        loaded = load_pretrained_decoder(tmp_path / "en", model.target_embedding, model.decoder, target)
    assert loaded.rows == {1: 1, 2: 2, 3: 3, 10: 4}
    assert "only 40% of the target tokens are in the language model's vocabulary" in caplog.text
    assert "tokenizer.from_pretrained=true" in caplog.text


def test_a_mismatching_decoder_is_one_line_naming_the_sizes_and_the_keys(tmp_path: Path) -> None:
    write_lm_run(tmp_path / "en", EN_LM, "lstm")
    model, _, target = translator("gru", hidden_size=8, num_layers=1)
    with pytest.raises(ConfigError) as caught:
        load_pretrained_decoder(tmp_path / "en", model.target_embedding, model.decoder, target)
    assert str(caught.value) == (
        f"model.pretrained_decoder: {tmp_path / 'en'} does not fit this model (rnn_type lstm there, gru "
        "here, hidden_size 6 there, 8 here, num_layers 2 there, 1 here): set model.decoder.rnn_type=lstm "
        "model.decoder.hidden_size=6 model.decoder.num_layers=2 to match the language model")


@pytest.mark.parametrize(("key", "reverse", "message"), [
    (ENCODER_KEY, True, r"reads right to left \(data\.reverse\): name it in "
                        r"model\.pretrained_encoder_backward and a forward language model here$"),
    (BACKWARD_KEY, False, r"reads left to right: name a language model trained with data\.reverse=true$"),
    (DECODER_KEY, True, r"reads right to left \(data\.reverse\) and the decoder writes left to right: use a "
                        r"forward language model$"),
])
def test_a_language_model_reading_the_wrong_way_is_one_line(tmp_path: Path, key: str, reverse: bool,
                                                            message: str) -> None:
    write_lm_run(tmp_path / "lm", FR_LM if key != DECODER_KEY else EN_LM, reverse=reverse)
    model, source, target = translator()
    with pytest.raises(ConfigError, match=rf"^{key}: {tmp_path / 'lm'} {message}") as caught:
        load_pretrained_seq2seq(model, {key: str(tmp_path / "lm")}, source, target)
    assert "\n" not in str(caught.value)


def test_runs_that_cannot_be_used_are_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "tagging").mkdir()
    (tmp_path / "tagging" / "config.yaml").write_text("task: tagging\n", encoding="utf-8")
    cases = {tmp_path / "nowhere": r"does not exist \(train the language model first",
             tmp_path / "tagging": r"is a tagging run; it must be a language model run \(task: lm\)"}
    for key in (ENCODER_KEY, BACKWARD_KEY, DECODER_KEY):
        for run, message in cases.items():
            model, source, target = translator()
            with pytest.raises(ConfigError, match=rf"^{key}: {run} {message}") as caught:
                load_pretrained_seq2seq(model, {key: str(run)}, source, target)
            assert "\n" not in str(caught.value)
        with pytest.raises(ConfigError, match=rf"^{key}: {tmp_path / 'tagging'} is a tagging run"):
            pretrained_tokenizer(tmp_path, "source", tmp_path / "tagging", key)


def test_a_joint_vocabulary_takes_one_language_model_at_most(tmp_path: Path) -> None:
    write_lm_run(tmp_path / "fr", FR_LM)
    write_lm_run(tmp_path / "en", EN_LM)
    tokenizer = VocabTokenizer("word", [*SPECIALS, *FR_TASK, *EN_TASK])
    model = Seq2Seq(tokenizer.vocab_size, tokenizer.vocab_size, EmbeddingConfig(embedding_dim=EMBEDDING),
                    EncoderConfig(hidden_size=HIDDEN, num_layers=2),
                    DecoderConfig(rnn_type="lstm", hidden_size=HIDDEN, num_layers=2), share_embeddings=True)
    with pytest.raises(ConfigError, match=r"^model\.pretrained_decoder: a joint vocabulary .* set "
                                          r"tokenizer\.joint=false$"):
        load_pretrained_seq2seq(model, {ENCODER_KEY: str(tmp_path / "fr"), DECODER_KEY: str(tmp_path / "en")},
                                tokenizer, tokenizer)


def test_the_keys_set_are_the_upstream_keys_and_configs_check_how_they_combine() -> None:
    recipe = ROOT / "recipes" / "translation" / "tiny.yaml"
    assert TranslationTask.upstream_keys(load_config(recipe)) == ()
    config = load_config(recipe, ["model.pretrained_decoder=lm/tiny", "model.pretrained_encoder=runs/fr"])
    assert TranslationTask.upstream_keys(config) == (ENCODER_KEY, DECODER_KEY)
    with pytest.raises(ConfigError, match=r"tiny\.yaml: tokenizer\.from_pretrained: .* set "
                                          r"tokenizer\.joint=false$"):
        load_config(recipe, ["tokenizer.from_pretrained=true", "tokenizer.joint=true"])


def test_the_pretrained_recipes_sizes_fit_its_language_model_recipes(tmp_path: Path) -> None:
    # Each language-model recipe the translation recipe names, built (random weights, a small vocabulary)
    # and saved as its run would be; the translator the recipe builds then loads all three.
    from nlpseq.tasks.language_model import LanguageModelTask

    config = load_config(ROOT / "recipes" / "translation" / "lohelp_fr_en_pretrained.yaml")
    tokenizers = {"source": VocabTokenizer("word", [*SPECIALS, *FR_LM]),
                  "target": VocabTokenizer("word", [*SPECIALS, *EN_LM])}
    for key in TranslationTask.upstream_keys(config):
        field = key.removeprefix("model.")
        recipe = load_config(ROOT / "recipes" / f"{getattr(config.model, field)}.yaml")
        lm_task = LanguageModelTask(recipe, tmp_path / field)
        lm_task.tokenizer = tokenizers["target" if key == DECODER_KEY else "source"]
        lm_task.conditions = []
        folder = tmp_path / field
        folder.mkdir()
        saved = {"task": "lm", "data": {"reverse": recipe.data.reverse}}
        (folder / "config.yaml").write_text(yaml.safe_dump(saved), encoding="utf-8")
        lm_task.tokenizer.save(folder, "tokenizer")
        weights = lm_task.build_model(training=False).state_dict()
        save_checkpoint(folder / "checkpoints" / "best.pt", {"model": weights})
        setattr(config.model, field, str(folder))
    task = TranslationTask(config, tmp_path / "run")
    task.source_tokenizer, task.target_tokenizer = tokenizers["source"], tokenizers["target"]
    model = task.build_model(training=True)
    lm_state = load_checkpoint(tmp_path / "pretrained_decoder" / "checkpoints" / "best.pt")["model"]
    assert torch.equal(model.decoder.cells[1].weight_hh, lm_state["layers.1.rnn.weight_hh_l0"])
    # Tied, with the same tokenizer: every row but padding (kept at zero) is the language model's.
    assert torch.equal(model.decoder.output.weight[1:], lm_state["embedding.embedding.weight"][1:])
