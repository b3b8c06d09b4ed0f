"""A GRU/LSTM decoder with attention, run one target position at a time.

One :meth:`AttentionDecoder.step` serves teacher-forced training (:meth:`AttentionDecoder.forward`
loops it over the gold prefix) and every search in :mod:`nlpseq.models.search`, so what is trained is
exactly what decodes. The vocabulary projection, the largest matrix product, runs once over all
positions after the loop (training) rather than inside it.

Two wirings, per step ``t`` with previous token ``y`` and state ``s``:

* Bahdanau (additive; Bahdanau et al. 2015): the query is the PREVIOUS top-layer state,
  ``c_t = attend(s_{t-1})``, ``s_t = RNN([emb(y); c_t], s_{t-1})``, readout ``tanh(W [s_t; c_t; emb(y)])``.
* Luong (dot / general; Luong et al. 2015): ``s_t = RNN([emb(y); h~_{t-1}], s_{t-1})`` (input feeding,
  optional), ``c_t = attend(s_t)``, ``h~_t = tanh(W [s_t; c_t])`` is the readout, fed to the next step.

The readout has ``embedding_dim`` units when the output layer is tied to the target embedding, else
``hidden_size``. :meth:`AttentionDecoder.language_model` runs the same cells with no source (zeros for
the context), the target-side language-model loss of ``model.decoder_lm_loss``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from nlpseq.models.attention import Attention, AttentionKind
from nlpseq.models.embedding import TokenEmbedding
from nlpseq.ranges import MAX_LAYERS, MAX_WIDTH, ranged


@dataclass
class DecoderConfig:
    """The ``model.decoder`` section (arguments of :class:`AttentionDecoder` beyond sizes from data)."""

    # The recurrent cell: GRU or LSTM.
    rnn_type: Literal["gru", "lstm"] = "gru"
    # State size of every decoder layer (and of the readout, unless tie_embeddings).
    hidden_size: int = ranged(512, ge=1, le=MAX_WIDTH)
    # Stacked decoder cells.
    num_layers: int = ranged(1, ge=1, le=MAX_LAYERS)
    # bahdanau: additive, queried with the previous state; dot and general: Luong's, queried with the
    # new state (dot needs hidden_size equal to the encoder's output size).
    attention: AttentionKind = "bahdanau"
    # Hidden size of the additive (Bahdanau) scorer.
    attention_size: int = ranged(256, ge=1, le=MAX_WIDTH)
    # Luong: feed the previous attentional vector into the next step (ignored for Bahdanau).
    input_feeding: bool = True
    # Dropout between decoder layers and on the readout, before the output layer.
    dropout: float = ranged(0.2, ge=0, lt=1)
    # Initialise the decoder from the encoder's final states (else from zeros).
    bridge: bool = True
    # Share the target embedding matrix with the output layer.
    tie_embeddings: bool = False


@dataclass
class DecoderState:
    """Recurrent state of N hypotheses: ``hidden [L, N, H]``, ``cell [L, N, H]`` (LSTM) and ``feed
    [N, R]`` (Luong input feeding). :meth:`select` re-orders or repeats hypotheses (beam search)."""

    hidden: torch.Tensor
    cell: torch.Tensor | None = None
    feed: torch.Tensor | None = None

    def select(self, index: torch.Tensor) -> DecoderState:
        return DecoderState(self.hidden.index_select(1, index),
                            None if self.cell is None else self.cell.index_select(1, index),
                            None if self.feed is None else self.feed.index_select(0, index))


@dataclass
class Memory:
    """The encoded source: ``values [B, S, D]``, attention ``keys [B, S, A]`` and ``mask [B, S]``."""

    values: torch.Tensor
    keys: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor = field(default_factory=lambda: torch.empty(0))

    def select(self, index: torch.Tensor) -> Memory:
        """The sentences ``index [B']`` (beam search drops the sentences it has finished)."""
        return Memory(self.values.index_select(0, index), self.keys.index_select(0, index),
                      self.mask.index_select(0, index),
                      self.lengths.index_select(0, index) if self.lengths.numel() else self.lengths)


class AttentionDecoder(nn.Module):
    """Decoder RNN with attention over :class:`Memory`.

    Args:
        embedding: the target-side token embedding (shared with the source when the vocabulary is).
        vocab_size: target vocabulary size.
        memory_size: size of an encoder state (``D``).
        rnn_type, hidden_size, num_layers, attention, attention_size, input_feeding, dropout,
        bridge, tie_embeddings: see :class:`DecoderConfig`.
    """

    def __init__(self, embedding: TokenEmbedding, vocab_size: int, memory_size: int, rnn_type: str = "gru",
                 hidden_size: int = 512, num_layers: int = 1, attention: AttentionKind = "bahdanau",
                 attention_size: int = 256, input_feeding: bool = True, dropout: float = 0.2,
                 bridge: bool = True, tie_embeddings: bool = False):
        super().__init__()
        self.embedding = embedding
        self.memory_size = memory_size
        self.rnn_type = rnn_type
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.additive = attention == "bahdanau"
        self.input_feeding = input_feeding and not self.additive
        embedding_dim = embedding.embedding_dim
        self.readout_size = embedding_dim if tie_embeddings else hidden_size
        cell = {"gru": nn.GRUCell, "lstm": nn.LSTMCell}[rnn_type]
        first = embedding_dim + (memory_size if self.additive else self.readout_size if self.input_feeding
                                 else 0)
        self.cells = nn.ModuleList(cell(first if i == 0 else hidden_size, hidden_size)
                                   for i in range(num_layers))
        self.attention = Attention(attention, hidden_size, memory_size, attention_size)
        readout_in = hidden_size + memory_size + (embedding_dim if self.additive else 0)
        self.readout = nn.Linear(readout_in, self.readout_size)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.readout_size, vocab_size)
        if tie_embeddings:
            self.output.weight = embedding.embedding.weight
        self.bridge_hidden = nn.Linear(memory_size, num_layers * hidden_size) if bridge else None
        self.bridge_cell = (nn.Linear(memory_size, num_layers * hidden_size)
                            if bridge and rnn_type == "lstm" else None)

    def initial_state(self, final: torch.Tensor, final_cell: torch.Tensor | None) -> DecoderState:
        """The state before the first target token from the encoder's final states ``[B, D]``."""
        batch = final.size(0)

        def layers(bridge: nn.Linear | None, source: torch.Tensor | None) -> torch.Tensor:
            if bridge is None or source is None:
                return final.new_zeros(self.num_layers, batch, self.hidden_size)
            return torch.tanh(bridge(source)).view(batch, self.num_layers, self.hidden_size).transpose(0, 1
                                                                                                     ).contiguous()

        hidden = layers(self.bridge_hidden, final)
        cell = layers(self.bridge_cell, final_cell) if self.rnn_type == "lstm" else None
        feed = final.new_zeros(batch, self.readout_size) if self.input_feeding else None
        return DecoderState(hidden, cell, feed)

    def step(self, previous: torch.Tensor, state: DecoderState, memory: Memory
             ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """One position for N = B x K hypotheses (hypothesis ``n`` reads source sentence ``n // K``).

        ``previous [N]`` token ids -> readout ``[N, R]`` (before the output layer), the new state and
        the attention weights ``[N, S]``.
        """
        return self.step_embedded(self.embedding(previous.unsqueeze(1)).squeeze(1), state, memory)

    def step_embedded(self, embedded: torch.Tensor, state: DecoderState, memory: Memory
                      ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """:meth:`step` from the embedded previous tokens ``[N, E]``."""
        batch = memory.values.size(0)
        count = embedded.size(0)

        def attend(query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            context, weights = self.attention(query.view(batch, count // batch, -1), memory.keys,
                                              memory.values, memory.mask)
            return context.reshape(count, -1), weights.reshape(count, -1)

        if self.additive:
            context, weights = attend(state.hidden[-1])
            inputs = torch.cat([embedded, context], dim=-1)
        else:
            inputs = torch.cat([embedded, state.feed], dim=-1) if self.input_feeding else embedded
        hidden, cells = [], []
        for layer, cell in enumerate(self.cells):
            if self.rnn_type == "lstm":
                assert state.cell is not None
                h, c = cell(inputs, (state.hidden[layer], state.cell[layer]))
                cells.append(c)
            else:
                h = cell(inputs, state.hidden[layer])
            hidden.append(h)
            inputs = self.dropout(h) if layer + 1 < self.num_layers else h
        top = hidden[-1]
        if self.additive:
            readout = torch.tanh(self.readout(torch.cat([top, context, embedded], dim=-1)))
        else:
            context, weights = attend(top)
            readout = torch.tanh(self.readout(torch.cat([top, context], dim=-1)))
        new_state = DecoderState(torch.stack(hidden), torch.stack(cells) if cells else None,
                                 readout if self.input_feeding else None)
        return self.dropout(readout), new_state, weights

    def language_model(self, targets_in: torch.Tensor) -> torch.Tensor:
        """The decoder as a target-side language model: logits ``[B, T, V]`` of the token after each of
        ``targets_in [B, T]`` with no source. It starts from a zero state and zeros stand in for the
        attention context (and the input feed) in the first cell and the readout, so the cells compute
        what a language model's layers do (those of model.pretrained_decoder when it started there).
        Seq2Seq's ``decoder_lm_loss`` trains it."""
        embedded = self.embedding(targets_in)
        batch, length, _ = embedded.shape
        extra = self.cells[0].input_size - embedded.size(-1)  # context or input-feed columns (may be 0)
        inputs = torch.cat([embedded, embedded.new_zeros(batch, length, extra)], dim=-1)
        hidden = [embedded.new_zeros(batch, self.hidden_size) for _ in self.cells]
        cell_states = [embedded.new_zeros(batch, self.hidden_size) for _ in self.cells]
        tops = []
        for position in range(length):
            x = inputs[:, position]
            for layer, cell in enumerate(self.cells):
                if self.rnn_type == "lstm":
                    hidden[layer], cell_states[layer] = cell(x, (hidden[layer], cell_states[layer]))
                else:
                    hidden[layer] = cell(x, hidden[layer])
                x = self.dropout(hidden[layer]) if layer + 1 < self.num_layers else hidden[layer]
            tops.append(x)
        top = torch.stack(tops, dim=1)  # [B, T, H]
        context = top.new_zeros(batch, length, self.memory_size)
        parts = [top, context, embedded] if self.additive else [top, context]
        return self.output(self.dropout(torch.tanh(self.readout(torch.cat(parts, dim=-1)))))

    def forward(self, targets_in: torch.Tensor, state: DecoderState, memory: Memory
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing over ``targets_in [B, T]`` (BOS + gold prefix): logits ``[B, T, V]`` and
        attention ``[B, T, S]``."""
        readouts, weights = [], []
        # One embedding call for the whole prefix: per-step calls would each build (and add up) a
        # dense vocabulary-sized gradient in the backward pass.
        embedded = self.embedding(targets_in)
        for position in range(targets_in.size(1)):
            readout, state, attention = self.step_embedded(embedded[:, position], state, memory)
            readouts.append(readout)
            weights.append(attention)
        return self.output(torch.stack(readouts, dim=1)), torch.stack(weights, dim=1)
