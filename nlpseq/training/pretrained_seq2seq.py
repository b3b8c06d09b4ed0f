"""Language models copied into a translation model before it trains (Ramachandran et al. 2017,
"Unsupervised pretraining for sequence to sequence learning"): a source-language LM starts the source
embedding and the encoder, a target-language LM the target embedding and the decoder.

The encoder side is :func:`nlpseq.training.pretrained.load_pretrained` as classification uses it
(``model.pretrained_encoder`` -> the forward direction, ``model.pretrained_encoder_backward`` -> the
``_reverse`` direction). The decoder side is here (:func:`load_pretrained_decoder`)::

    language model (best.pt)                    AttentionDecoder
    embedding.embedding.weight[j]           ->  embedding.embedding.weight[i]  (pieces compared, as the
                                                encoder's; a tied output layer is this matrix)
    layers.K.rnn.weight_ih_l0  [G, E]       ->  cells.0.weight_ih[:, :E]       (K = 0; the rest zeroed)
                               [G, H]       ->  cells.K.weight_ih              (K > 0)
    layers.K.rnn.weight_hh_l0, bias_*_l0    ->  cells.K.weight_hh, bias_ih, bias_hh
    output.weight[j]           [V, F]       ->  output.weight[i]   when F is the decoder's readout size
    output.bias[j]                          ->  output.bias[i]

The decoder's first cell reads ``[emb(y); c]``: the previous token's embedding, then the attention
context (Bahdanau) or the previous attentional vector (Luong input feeding). The language model's
matrix fills the embedding columns and the context columns start at ZERO rather than fresh random
values: at the first step every cell then computes exactly the language model's states (with
``bridge: false``, from the same zero state), so the fresh attention cannot scramble what was
pretrained, and since the context is not zero its columns get gradients and learn to read it (the
same choice as :mod:`nlpseq.training.pretrained` for the other direction's columns of a
bidirectional encoder). The attention, readout and bridge layers have no language-model counterpart
and start fresh; so does the output layer where its input size differs from the language model's
(the log says which).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nlpseq import distributed
from nlpseq.errors import ConfigError
from nlpseq.models.decoder import AttentionDecoder
from nlpseq.models.embedding import TokenEmbedding
from nlpseq.models.seq2seq import Seq2Seq
from nlpseq.tokenizers import Tokenizer, load_tokenizer
from nlpseq.training.pretrained import (
    GATES,
    PARTS,
    LanguageModelRun,
    Layer,
    PretrainedLoad,
    copy_rows,
    load_pretrained,
)

log = logging.getLogger("nlpseq.model")

ENCODER_KEY = "model.pretrained_encoder"
BACKWARD_KEY = "model.pretrained_encoder_backward"
DECODER_KEY = "model.pretrained_decoder"
KEYS = (ENCODER_KEY, BACKWARD_KEY, DECODER_KEY)


def pretrained_runs(model_config: Any) -> dict[str, str]:
    """Config key -> language-model run folder (or recipe name) for each of :data:`KEYS` that is set."""
    values = {key: getattr(model_config, key.removeprefix("model.")) for key in KEYS}
    return {key: str(value) for key, value in values.items() if value is not None}


@dataclass
class DecoderLoad:
    """What :func:`load_pretrained_decoder` copied: enough to check every copied value against best.pt."""

    run_dir: Path
    # target token id -> language-model token id, for every embedding row copied (padding never is).
    rows: dict[int, int] = field(default_factory=dict)
    # the decoder's parameter name (relative to the decoder: ``cells.1.weight_hh``) -> its source name;
    # ``cells.0.weight_ih`` holds the source in its first E columns only.
    tensors: dict[str, str] = field(default_factory=dict)
    # How the output layer started: "tied" (it is the target embedding; bias copied), "copied" (weight
    # and bias rows) or "fresh" (bias rows only: the language model's matrix reads another size).
    output: str = "fresh"


@dataclass
class Seq2SeqLoad:
    """What :func:`load_pretrained_seq2seq` copied, per language model (None: that key was not set)."""

    encoder: PretrainedLoad | None = None
    encoder_backward: PretrainedLoad | None = None
    decoder: DecoderLoad | None = None


def load_pretrained_seq2seq(model: Seq2Seq, runs: dict[str, str], source_tokenizer: Tokenizer,
                            target_tokenizer: Tokenizer) -> Seq2SeqLoad:
    """Copy the language models ``runs`` (:func:`pretrained_runs`) into ``model``; ConfigError naming
    the key when one cannot be used, does not fit, or reads the wrong way."""
    loaded = Seq2SeqLoad()
    shared = model.source_embedding is model.target_embedding
    if shared and ENCODER_KEY in runs and DECODER_KEY in runs:
        raise ConfigError(f"{DECODER_KEY}: a joint vocabulary (tokenizer.joint) has one embedding matrix for "
                          f"both sides and {ENCODER_KEY} fills it too: set tokenizer.joint=false")
    if ENCODER_KEY in runs:
        loaded.encoder = load_pretrained(runs[ENCODER_KEY], model.source_embedding, model.encoder,
                                         source_tokenizer, ENCODER_KEY)
        if loaded.encoder.direction != "forward":
            raise ConfigError(f"{ENCODER_KEY}: {runs[ENCODER_KEY]} reads right to left (data.reverse): "
                              f"name it in {BACKWARD_KEY} and a forward language model here")
    if BACKWARD_KEY in runs:
        # One embedding feeds both directions: with a forward model it keeps the forward model's rows
        # (the backward model's land in a throwaway copy, which still checks the sizes and logs the
        # match); alone, the backward model's rows fill it.
        embedding = copy.deepcopy(model.source_embedding) if ENCODER_KEY in runs else model.source_embedding
        loaded.encoder_backward = load_pretrained(runs[BACKWARD_KEY], embedding, model.encoder,
                                                  source_tokenizer, BACKWARD_KEY, ENCODER_KEY in runs)
        if loaded.encoder_backward.direction != "backward":
            raise ConfigError(f"{BACKWARD_KEY}: {runs[BACKWARD_KEY]} reads left to right: name a language "
                              "model trained with data.reverse=true")
        if ENCODER_KEY in runs:
            log.info("%s: the source embedding keeps %s's rows (one embedding feeds both directions)",
                     BACKWARD_KEY, ENCODER_KEY)
    if DECODER_KEY in runs:
        loaded.decoder = load_pretrained_decoder(runs[DECODER_KEY], model.target_embedding, model.decoder,
                                                 target_tokenizer, DECODER_KEY)
    return loaded


@torch.no_grad()
def load_pretrained_decoder(run_dir: str | Path, embedding: TokenEmbedding, decoder: AttentionDecoder,
                            tokenizer: Tokenizer, key: str = DECODER_KEY) -> DecoderLoad:
    """Copy the forward ``lm`` run ``run_dir`` into the target ``embedding`` and ``decoder`` (the module
    docstring has the mapping); log and return what was copied."""
    lm = LanguageModelRun.open(run_dir, key)
    if lm.reverse:
        raise ConfigError(f"{key}: {lm.run_dir} reads right to left (data.reverse) and the decoder writes "
                          "left to right: use a forward language model")
    matrix, layers = lm.embedding_matrix(), lm.layers()
    _check_decoder_shapes(lm, matrix, layers, embedding, decoder, key)
    loaded = DecoderLoad(lm.run_dir)
    loaded.rows = copy_rows(matrix, lm.tokenizer, embedding, tokenizer)
    for index, layer in enumerate(layers):
        cell = decoder.cells[index]
        for part in PARTS:
            target, (source_name, source) = getattr(cell, part), layer[part]
            if part == "weight_ih" and index == 0:
                target.zero_()  # the context / input-feeding columns: see the module docstring
                target = target[:, :source.size(1)]
            target.copy_(source)
            loaded.tensors[f"cells.{index}.{part}"] = source_name
    loaded.output = _copy_output(lm, decoder, loaded.rows)
    vocab = tokenizer.vocab_size - 1
    log.info("%s: %s of %s embedding rows matched by token (from %s)", key, f"{len(loaded.rows):,}",
             f"{vocab:,}", lm.run_dir)
    if len(loaded.rows) < 0.5 * vocab:
        log.warning("%s: only %.0f%% of the target tokens are in the language model's vocabulary; the rest "
                    "start fresh (tokenizer.from_pretrained=true takes the language model's tokenizer)",
                    key, 100 * len(loaded.rows) / max(1, vocab))
    output = {"tied": "tied to the copied embedding, bias copied", "copied": "copied",
              "fresh": "fresh (its input size differs from the language model's), bias copied"}
    log.info("%s: %d %s layer(s) of hidden size %d into the decoder (its first layer's %d context columns "
             "start at zero); output layer %s", key, len(layers), decoder.rnn_type, decoder.hidden_size,
             decoder.cells[0].weight_ih.size(1) - matrix.size(1), output[loaded.output])
    return loaded


def _copy_output(lm: LanguageModelRun, decoder: AttentionDecoder, rows: dict[int, int]) -> str:
    """Copy the output layer's rows of the matched tokens: the bias always (the language model's unigram
    preferences), the matrix when it reads the decoder's readout size; return how it started."""
    output = decoder.output
    targets = torch.tensor(list(rows), device=output.weight.device)
    bias = lm.state.get("output.bias")
    if bias is not None and rows:
        output.bias[targets] = bias[list(rows.values())].to(output.bias)
    if output.weight is decoder.embedding.embedding.weight:
        return "tied"
    weight = lm.state.get("output.weight")
    if weight is None or weight.size(1) != output.weight.size(1) or not rows:
        return "fresh"
    output.weight[targets] = weight[list(rows.values())].to(output.weight)
    return "copied"


def _check_decoder_shapes(lm: LanguageModelRun, matrix: torch.Tensor, layers: list[Layer],
                          embedding: TokenEmbedding, decoder: AttentionDecoder, key: str) -> None:
    """One ConfigError listing every size in which the language model and the decoder differ."""
    weight_hh = layers[0]["weight_hh"][1]
    hidden = weight_hh.size(1)
    theirs = {"rnn_type": GATES.get(weight_hh.size(0) // hidden, "?"), "hidden_size": hidden,
              "num_layers": len(layers), "embedding_dim": matrix.size(1)}
    ours = {"rnn_type": decoder.rnn_type, "hidden_size": decoder.hidden_size,
            "num_layers": decoder.num_layers, "embedding_dim": embedding.embedding_dim}
    section = {"embedding_dim": "model.embedding"}
    differ = [name for name in theirs if theirs[name] != ours[name]]
    if differ:
        listed = ", ".join(f"{name} {theirs[name]} there, {ours[name]} here" for name in differ)
        fix = " ".join(f"{section.get(name, 'model.decoder')}.{name}={theirs[name]}" for name in differ)
        raise ConfigError(f"{key}: {lm.run_dir} does not fit this model ({listed}): set {fix} to match the "
                          "language model")
    first_input = layers[0]["weight_ih"][1].size(1)
    if first_input != matrix.size(1):
        raise ConfigError(f"{key}: {lm.run_dir}'s first layer reads {first_input} features per token, not "
                          f"its embedding's {matrix.size(1)} (a language model with condition_every_step "
                          "cannot be loaded)")
    if lm.tokenizer.vocab_size != matrix.size(0):
        raise ConfigError(f"{key}: {lm.run_dir}'s tokenizer has {lm.tokenizer.vocab_size} entries and its "
                          f"best.pt embedding {matrix.size(0)} rows (a damaged or mixed run folder)")


def pretrained_tokenizer(run_dir: Path, name: str, lm_dir: str | Path, key: str) -> Tokenizer:
    """Training with ``tokenizer.from_pretrained``: the run folder's tokenizer ``name``, copied by rank 0
    from the language model run ``lm_dir`` (named by ``key``) on a fresh start; a resumed run has its
    copy already and never reads ``lm_dir`` (which may be gone)."""
    if distributed.is_main() and not (run_dir / f"{name}.json").is_file():
        lm = LanguageModelRun.open(lm_dir, key)  # a folder of the wrong kind stops here, naming key
        lm.tokenizer.save(run_dir, name)
        log.info("%s: tokenizer %r taken from %s: %d entries", key, name, lm.run_dir, lm.tokenizer.vocab_size)
    distributed.barrier()  # every rank passes exactly once (see nlpseq.tasks.common.prepare_tokenizer)
    return load_tokenizer(run_dir, name)
