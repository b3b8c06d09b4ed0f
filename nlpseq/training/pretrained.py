"""A trained language model's embedding and encoder copied into another task's model
(``model.pretrained: RUN_DIR``, the pretrain-then-fine-tune recipe of Dai & Le 2015 and ULMFiT).

Task-agnostic: :func:`load_pretrained` takes the task model's :class:`TokenEmbedding` and
:class:`RNNEncoder`, the task's tokenizer and an ``lm`` run folder (its ``config.yaml``,
``tokenizer.*`` and ``checkpoints/best.pt``), copies what fits and says what it copied. A task calls it
from ``build_model`` when :func:`starts_from_pretrained` says so. What maps onto what::

    language model (best.pt)                        task model
    embedding.embedding.weight[j]               ->  embedding.embedding.weight[i]  when the two tokenizers
                                                    spell ids i and j the same (pieces compared)
    layers.K.rnn.weight_ih_l0                   ->  encoder.rnn.weight_ih_lK
    layers.K.rnn.weight_hh_l0                   ->  encoder.rnn.weight_hh_lK
      (with weight drop: layers.K.rnn.weight_hh_raw, and layers.K.rnn.rnn.* for the rest)
    layers.K.rnn.bias_ih_l0, bias_hh_l0         ->  encoder.rnn.bias_ih_lK, bias_hh_lK

The language model stacks one-layer RNNs (for its locked dropout and weight drop), the task's encoder
is one fused multi-layer RNN: layer K goes onto layer K, so both must agree on rnn_type, hidden_size,
num_layers and the embedding size (anything else is one ConfigError naming the sizes and the keys to
set). A language model reads left to right (or, trained with ``data.reverse: true``, right to left), so
it fills one direction of a bidirectional encoder and the other starts fresh. Layer K > 0 of a
bidirectional encoder reads both directions of layer K - 1 (``[forward; backward]``, 2H columns) where
the language model's layer read H: the filled direction takes the language model's matrix in the H
columns of its own direction and zeros in the other H, so at the first step it computes exactly the
language model's states, and the zeros learn to read the other direction in fine-tuning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nlpseq.config_files import read_yaml
from nlpseq.errors import ConfigError, NlpseqError
from nlpseq.models.embedding import TokenEmbedding
from nlpseq.models.encoder import RNNEncoder
from nlpseq.tokenizers import PAD_ID, SPECIALS, Tokenizer, load_tokenizer
from nlpseq.training import run_files

log = logging.getLogger("nlpseq.model")

KEY = "model.pretrained"
PARTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
# The language model's parameter names (nlpseq/models/language_model.py): one-layer RNNs in
# ``layers``; a WeightDrop wrapper moves the RNN one level down and keeps the trained
# hidden-to-hidden matrix as ``weight_hh_raw`` (the RNN's own slot holds only a dropped copy).
_LAYER_RE = re.compile(r"layers\.(\d+)\.rnn\.(?:rnn\.)?(weight_ih|weight_hh|bias_ih|bias_hh)_l0")
_RAW_RE = re.compile(r"layers\.(\d+)\.rnn\.weight_hh_raw")
_EMBEDDING_NAMES = ("embedding.embedding.weight", "embedding.weight")  # the latter: older checkpoints
GATES = {4: "lstm", 3: "gru"}  # rows of weight_hh per hidden unit

# One language-model layer: part (``weight_ih`` ...) -> (its name in best.pt, the tensor).
Layer = dict[str, tuple[str, torch.Tensor]]


@dataclass
class LanguageModelRun:
    """A checked ``lm`` run folder: its tokenizer, its best weights and the direction it reads."""

    run_dir: Path
    tokenizer: Tokenizer
    state: dict[str, Any]  # best.pt's model state dict
    reverse: bool  # trained on reversed text (data.reverse): it reads right to left
    key: str = KEY  # the config key that named it, for error messages

    @classmethod
    def open(cls, run_dir: str | Path, key: str = KEY) -> LanguageModelRun:
        """Check and read the run folder ``run_dir``; a missing folder, a run of another task or one
        without ``best.pt`` is one ConfigError naming ``key`` and the folder."""
        source = Path(run_dir)
        if not source.is_dir():
            raise ConfigError(f"{key}: {source} does not exist (train the language model first, e.g. "
                              f"nlpseq train lm/... run_dir={source})")
        if not (source / "config.yaml").is_file():
            raise ConfigError(f"{key}: {source} is not a run folder (no config.yaml)")
        saved = read_yaml(source / "config.yaml")
        task = saved.get("task")
        if task != "lm":
            raise ConfigError(f"{key}: {source} is a {task} run; it must be a language model run (task: lm)")
        best = source / "checkpoints" / "best.pt"
        if not best.is_file():
            raise ConfigError(f"{key}: {source} has no checkpoints/best.pt (has its training finished an "
                              "evaluation?)")
        try:
            state = run_files.load_state(best)
            tokenizer = load_tokenizer(source, "tokenizer")
        except NlpseqError as error:  # a damaged file: the message names it
            raise ConfigError(f"{key}: {error}") from None
        data = saved.get("data") or {}
        return cls(source, tokenizer, state, bool(data.get("reverse", False)), key)

    def embedding_matrix(self) -> torch.Tensor:
        """``[V_lm, E]``: the language model's input embedding."""
        for name in _EMBEDDING_NAMES:
            if name in self.state:
                return self.state[name]
        raise ConfigError(f"{self.key}: {self.run_dir}/checkpoints/best.pt holds no embedding matrix "
                          f"({' or '.join(_EMBEDDING_NAMES)})")

    def layers(self) -> list[Layer]:
        """Per layer, part (``weight_ih`` ...) -> (its name in best.pt, the tensor)."""
        found: dict[int, Layer] = {}
        for name, tensor in self.state.items():
            if match := _LAYER_RE.fullmatch(name):
                found.setdefault(int(match[1]), {})[match[2]] = (name, tensor)
            elif match := _RAW_RE.fullmatch(name):
                found.setdefault(int(match[1]), {})["weight_hh"] = (name, tensor)
        layers = [found.get(index, {}) for index in range(len(found))]
        if not layers or any(set(layer) != set(PARTS) for layer in layers):
            raise ConfigError(f"{self.key}: {self.run_dir}/checkpoints/best.pt holds no recurrent layers in "
                              "the form nlpseq's language model saves (layers.K.rnn.weight_ih_l0 ...)")
        return layers


@dataclass
class PretrainedLoad:
    """What :func:`load_pretrained` copied: enough to check every copied value against best.pt."""

    run_dir: Path
    # task token id -> language-model token id, for every embedding row copied (padding never is).
    rows: dict[int, int] = field(default_factory=dict)
    # the encoder's parameter name (relative to the encoder: ``rnn.weight_ih_l1``) -> its source name.
    tensors: dict[str, str] = field(default_factory=dict)
    direction: str = "forward"  # the encoder direction filled: "forward" or "backward"


def starts_from_pretrained(pretrained: str | None, run_dir: Path, training: bool) -> bool:
    """Whether a model being built loads ``model.pretrained``: only to train (a restored model gets its
    weights from its own checkpoint, and the language model's folder may be gone by then), and not when
    the run resumes from its own ``last.pt`` (that holds the fine-tuned weights)."""
    return pretrained is not None and training and not (Path(run_dir) / "checkpoints" / "last.pt").is_file()


@torch.no_grad()
def load_pretrained(run_dir: str | Path, embedding: TokenEmbedding, encoder: RNNEncoder, tokenizer: Tokenizer,
                    key: str = KEY, other_loaded: bool = False) -> PretrainedLoad:
    """Copy the ``lm`` run ``run_dir``'s embedding rows (matched by token) and encoder layers into
    ``embedding`` and ``encoder`` (see the module docstring for the mapping); log and return what was
    copied. ConfigError naming ``key`` when the run cannot be used or its shapes do not fit.
    ``other_loaded``: the encoder's other direction was filled by another language model before (the
    log says so instead of calling it fresh)."""
    lm = LanguageModelRun.open(run_dir, key)
    matrix, layers = lm.embedding_matrix(), lm.layers()
    _check_shapes(lm, matrix, layers, embedding, encoder, key)
    loaded = PretrainedLoad(lm.run_dir, direction="backward" if lm.reverse else "forward")
    loaded.rows = copy_rows(matrix, lm.tokenizer, embedding, tokenizer)
    loaded.tensors = _copy_layers(layers, encoder, lm.reverse, key)
    share = len(loaded.rows) / max(1, tokenizer.vocab_size - 1)
    log.info("%s: %s of %s embedding rows matched by token (from %s)", key, f"{len(loaded.rows):,}",
             f"{tokenizer.vocab_size - 1:,}", lm.run_dir)
    if share < 0.5:
        log.warning("%s: only %.0f%% of this task's tokens are in the language model's vocabulary; the rest "
                    "start fresh (compare the two runs' tokenizer sections: kind, lowercase, vocab_size)",
                    key, 100 * share)
    raw = any(source.endswith("_raw") for source in loaded.tensors.values())
    other = "backward" if loaded.direction == "forward" else "forward"
    log.info("%s: %d %s layer(s) of hidden size %d into the encoder's %s direction%s%s", key, len(layers),
             encoder.rnn_type, encoder.hidden_size, loaded.direction,
             " (weight drop's raw hidden-to-hidden matrices)" if raw else "",
             "" if encoder.num_directions == 1 else
             f"; its {other} direction {'was loaded before' if other_loaded else 'starts fresh'}")
    return loaded


def _check_shapes(lm: LanguageModelRun, matrix: torch.Tensor, layers: list[Layer],
                  embedding: TokenEmbedding, encoder: RNNEncoder, key: str) -> None:
    """One ConfigError listing every size in which the language model and this model differ."""
    weight_hh = layers[0]["weight_hh"][1]
    hidden = weight_hh.size(1)
    theirs = {"rnn_type": GATES.get(weight_hh.size(0) // hidden, "?"), "hidden_size": hidden,
              "num_layers": len(layers), "embedding_dim": matrix.size(1)}
    ours = {"rnn_type": encoder.rnn_type, "hidden_size": encoder.hidden_size,
            "num_layers": encoder.num_layers, "embedding_dim": embedding.embedding_dim}
    where = {"rnn_type": "model.encoder", "hidden_size": "model.encoder", "num_layers": "model.encoder",
             "embedding_dim": "model.embedding"}
    differ = [name for name in theirs if theirs[name] != ours[name]]
    if differ:
        listed = ", ".join(f"{name} {theirs[name]} there, {ours[name]} here" for name in differ)
        fix = " ".join(f"{where[name]}.{name}={theirs[name]}" for name in differ)
        raise ConfigError(f"{key}: {lm.run_dir} does not fit this model ({listed}): set {fix} to match the "
                          "language model")
    first_input = layers[0]["weight_ih"][1].size(1)
    if first_input != encoder.rnn.input_size:
        raise ConfigError(f"{key}: {lm.run_dir}'s first layer reads {first_input} features per token, this "
                          f"model's encoder {encoder.rnn.input_size} (a language model with "
                          "condition_every_step, or features added to the embedding here, cannot be loaded)")
    if lm.reverse and encoder.num_directions == 1:
        raise ConfigError(f"{key}: {lm.run_dir} reads right to left (data.reverse) and this encoder left to "
                          "right only: set model.encoder.bidirectional=true, or use a forward language model")
    if lm.tokenizer.vocab_size != matrix.size(0):
        raise ConfigError(f"{key}: {lm.run_dir}'s tokenizer has {lm.tokenizer.vocab_size} entries and its "
                          f"best.pt embedding {matrix.size(0)} rows (a damaged or mixed run folder)")


def copy_rows(matrix: torch.Tensor, lm_tokenizer: Tokenizer, embedding: TokenEmbedding,
               tokenizer: Tokenizer) -> dict[int, int]:
    """Copy the language model's row of every token this tokenizer also has; return task id -> LM id.

    The special ids (<unk>, <s>, </s>) mean the same in every tokenizer kind, so they map by id; the
    rest by piece string (a word, a character or a sentencepiece piece). Padding keeps its zero row.
    """
    lm_ids = {lm_tokenizer.piece(j): j for j in range(len(SPECIALS), lm_tokenizer.vocab_size)}
    rows: dict[int, int] = {}
    for index in range(tokenizer.vocab_size):
        if index == PAD_ID:
            continue
        source = index if index < len(SPECIALS) else lm_ids.get(tokenizer.piece(index))
        if source is not None:
            rows[index] = source
    if rows:
        weight = embedding.embedding.weight
        targets = torch.tensor(list(rows), device=weight.device)
        sources = torch.tensor(list(rows.values()), device=matrix.device)
        weight[targets] = matrix[sources].to(weight)
    return rows


def _copy_layers(layers: list[Layer], encoder: RNNEncoder, reverse: bool, key: str) -> dict[str, str]:
    """Copy layer K onto the encoder's layer K (its ``_reverse`` slots for a right-to-left model);
    return encoder parameter name -> source name."""
    rnn, hidden = encoder.rnn, encoder.hidden_size
    suffix = "_reverse" if reverse else ""
    copied: dict[str, str] = {}
    for index, layer in enumerate(layers):
        for part in PARTS:
            name = f"{part}_l{index}{suffix}"
            target = getattr(rnn, name)
            source_name, source = layer[part]
            if part == "weight_ih" and index > 0 and encoder.num_directions == 2:
                # [forward; backward] states of the layer below: fill this direction's H columns.
                target.zero_()
                target = target[:, hidden:] if reverse else target[:, :hidden]
            if target.shape != source.shape:  # the sizes were checked; this guards a changed encoder
                raise ConfigError(f"{key}: {name} has shape {tuple(target.shape)} here and "
                                  f"{tuple(source.shape)} in the language model ({source_name})")
            target.copy_(source)
            copied[f"rnn.{name}"] = source_name
    return copied
