"""TagLM-style language-model features (Peters et al. 2017): pretrained word-level language models read
each sentence, and their top-layer state at each word joins the word's features into the tagger.

::

    words          w1   w2   w3   <pad>
    forward LM   </s>  w1   w2   w3          -> states at w1 w2 w3        [B, T, H_f]
    backward LM  </s>  w3   w2   w1          -> states at w3 w2 w1, put back in word order  [B, T, H_b]
    tagger input [word embedding; char features; case; forward state; backward state]

Each language model starts from the token it started every line with in training (``</s>`` in stream
mode, ``<s>`` in document mode), so its state at the first word is the one it learnt there. A backward
model reads each sentence right to left within its own length: padding stays at the end and never
reaches a real word's state. The language models are nlpseq's own :class:`LanguageModel` (built from the
``lm`` run's saved model section), of which only the embedding and the stacked layers are kept: the
output layer predicts nothing here.

The task (:mod:`nlpseq.tasks.tagging_lm`) opens and checks the ``lm`` runs, gives each sentence's words
through each language model's own tokenizer (``lm_forward_ids``/``lm_backward_ids`` in the batch) and
loads the weights; this module knows no files.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from nlpseq.errors import ConfigError
from nlpseq.models.language_model import LanguageModel, LanguageModelConfig
from nlpseq.ranges import local_path, ranged

DIRECTIONS = ("forward", "backward")


@dataclass
class LMFeaturesConfig:
    """The ``model.lm_features`` section of a tagging recipe: which language models give features."""

    # A left-to-right word-level language model's run folder (task lm), or a recipe name trained first.
    forward: str | None = local_path()
    # A right-to-left one (trained with data.reverse: true), or a recipe name; null: forward only.
    backward: str | None = local_path()
    # Keep the language models' weights fixed (no gradients, their dropouts off), as TagLM does; false
    # fine-tunes them with the tagger.
    freeze: bool = True
    # Dropout on the language-model states before they join the word features.
    dropout: float = ranged(0.0, ge=0, lt=1)

    def __post_init__(self) -> None:
        if self.forward is None and self.backward is None:
            raise ConfigError("model.lm_features: name a forward and/or a backward language model run "
                              "(model.lm_features.forward=RUN_DIR)")

    def runs(self) -> dict[str, str]:
        """direction -> the run folder (or recipe name) named for it."""
        named = {"forward": self.forward, "backward": self.backward}
        return {direction: value for direction, value in named.items() if value is not None}


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x [B, T, ...]`` with each row's first ``lengths[b]`` positions in reverse order and its padding
    left where it is (so reversing twice gives ``x`` back)."""
    steps = torch.arange(x.size(1), device=x.device)[None, :]
    last = lengths.to(x.device)[:, None] - 1
    index = torch.where(steps <= last, last - steps, steps)  # [B, T]
    if x.dim() > 2:
        index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


class LMReader(nn.Module):
    """One language model's embedding and stacked layers: word ids -> its top-layer state per word.

    Args:
        vocab_size: the language model's tokenizer size.
        model: its ``model`` section (as its run saved it).
        reverse: it reads right to left (a backward model).
        start_id: the token it starts every line from (``</s>`` or ``<s>``).
    """

    def __init__(self, vocab_size: int, model: LanguageModelConfig, reverse: bool, start_id: int):
        super().__init__()
        arguments = {item.name: getattr(model, item.name) for item in fields(model)}
        full = LanguageModel(vocab_size, **arguments)
        # The parts that compute states, named as in LanguageModel (so its state dict loads here) and run
        # as LanguageModel._features runs them; its output layer predicts nothing here and is dropped.
        self.embedding = full.embedding
        self.input_dropout = full.input_dropout
        self.between_dropout = full.between_dropout
        self.layers = full.layers
        self.hidden_size = full.hidden_size
        self.reverse = reverse
        self.start_id = start_id

    def load_language_model(self, state: dict[str, Any]) -> None:
        """Load an ``lm`` run's ``best.pt`` model state: its ``embedding.*`` and ``layers.*`` tensors,
        which have the same names here (strict: a missing or misshapen one is an error)."""
        state = dict(state)
        if "embedding.weight" in state:  # checkpoints from before the shared TokenEmbedding
            state["embedding.embedding.weight"] = state.pop("embedding.weight")
        self.load_state_dict({name: tensor for name, tensor in state.items()
                              if name.startswith(("embedding.", "layers."))})

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``ids [B, T]`` (the language model's word ids, right padded) and ``lengths [B]`` ->
        ``[B, T, H]``: its top-layer state at each word (zeros at padding), in word order."""
        if self.reverse:
            ids = reverse_padded(ids, lengths)
        start = ids.new_full((ids.size(0), 1), self.start_id)
        x = self.input_dropout(self.embedding(torch.cat([start, ids], dim=1)))
        for index, layer in enumerate(self.layers):
            if index > 0:
                x = self.between_dropout(x)
            x = layer(x, lengths + 1).outputs
        states = x[:, 1:]  # the state after reading each word (the start token's is not a word's)
        return reverse_padded(states, lengths) if self.reverse else states


class LMFeatures(nn.Module):
    """The language models of ``model.lm_features``: ``batch`` -> ``[B, T, output_size]``, the forward
    model's states then the backward one's, for every word.

    Reads ``lm_forward_ids [B, T]`` / ``lm_backward_ids [B, T]`` and ``lengths [B]`` from the batch.
    With ``freeze`` the readers' weights take no gradient and their dropouts stay off in training too.
    """

    def __init__(self, readers: dict[str, LMReader], freeze: bool = True, dropout: float = 0.0):
        super().__init__()
        unknown = sorted(set(readers) - set(DIRECTIONS))
        if unknown or not readers:
            raise ValueError(f"readers: expected some of {DIRECTIONS}, got {sorted(readers)}")
        self.directions = [direction for direction in DIRECTIONS if direction in readers]
        for direction in self.directions:  # forward_lm, backward_lm: their names in the state dict
            setattr(self, f"{direction}_lm", readers[direction])
        self.freeze = freeze
        self.dropout = nn.Dropout(dropout)
        self.output_size = sum(reader.hidden_size for reader in readers.values())
        if freeze:
            for reader in readers.values():
                reader.requires_grad_(False)
                reader.eval()

    @property
    def readers(self) -> dict[str, LMReader]:
        """direction -> its language model's reader, forward first."""
        return {direction: getattr(self, f"{direction}_lm") for direction in self.directions}

    def train(self, mode: bool = True) -> LMFeatures:
        super().train(mode)
        if self.freeze:  # frozen weights with their dropouts on would give noisy fixed features
            for reader in self.readers.values():
                reader.eval()
        return self

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        lengths = batch["lengths"]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            states = [reader(batch[f"lm_{direction}_ids"], lengths)
                      for direction, reader in self.readers.items()]
        return self.dropout(torch.cat(states, dim=-1))
