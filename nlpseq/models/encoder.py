"""The shared recurrent encoder: GRU or LSTM, packed so that padding never changes a result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlpseq.errors import ConfigError
from nlpseq.ranges import MAX_LAYERS, MAX_WIDTH, ranged

# An RNN state: h ``[layers * directions, B, H]`` (GRU) or (h, c) (LSTM).
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass
class EncoderConfig:
    """The ``model.encoder`` section of every task: arguments of :class:`RNNEncoder` (input size comes
    from the embedding). A language model stacks one-layer encoders itself, and only it applies
    ``locked_dropout`` and ``weight_drop`` (a fused multi-layer RNN has no place for either)."""

    # The recurrent cell: GRU or LSTM.
    rnn_type: Literal["gru", "lstm"] = "lstm"
    # State size per layer and direction (a bidirectional encoder outputs twice it).
    hidden_size: int = ranged(256, ge=1, le=MAX_WIDTH)
    # Stacked recurrent layers.
    num_layers: int = ranged(1, ge=1, le=MAX_LAYERS)
    # Also read right to left and concatenate both directions (a language model refuses it).
    bidirectional: bool = True
    # Dropout between layers (and, in RNNEncoder, on the outputs).
    dropout: float = ranged(0.0, ge=0, lt=1)
    # The dropout between layers draws one mask per sequence, shared by its time steps (variational
    # dropout), instead of one per element.
    locked_dropout: bool = False
    # DropConnect on the hidden-to-hidden matrices (AWD-LSTM), drawn once per forward pass.
    weight_drop: float = ranged(0.0, ge=0, lt=1)


@dataclass
class EncoderOutput:
    """What every task reads from the encoder.

    outputs: ``[B, T, H * directions]`` per-token states (zeros at padding), for tagging/attention.
    final: ``[B, H * directions]`` last layer's final state (forward direction at each row's last
        real token, backward direction at its first), for many-to-one pooling.
    state: the raw final RNN state, to initialise a decoder or carry across BPTT windows.
    """

    outputs: torch.Tensor
    final: torch.Tensor
    state: State


class RNNEncoder(nn.Module):
    """Multi-layer (bi)GRU/LSTM over embedded sequences.

    Args:
        input_size: size of each input vector.
        hidden_size: state size per direction.
        num_layers: stacked layers.
        rnn_type: ``"gru"`` or ``"lstm"``.
        bidirectional: also read right to left (outputs concatenate both directions).
        dropout: dropout between layers and on the outputs.
        locked_dropout, weight_drop: refused here (see :class:`EncoderConfig`); they are arguments
            so that a task's ``model.encoder`` section splats into the constructor.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 256,
        num_layers: int = 1,
        rnn_type: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.0,
        locked_dropout: bool = False,
        weight_drop: float = 0.0,
    ):
        super().__init__()
        if locked_dropout or weight_drop > 0:
            key = "locked_dropout" if locked_dropout else "weight_drop"
            raise ConfigError(f"model.encoder.{key}: only a language model applies it (it stacks one-layer "
                              "RNNs); this task's encoder is one fused multi-layer RNN")
        rnn_class = {"gru": nn.GRU, "lstm": nn.LSTM}.get(rnn_type)
        if rnn_class is None:
            raise ValueError(f"rnn_type must be 'gru' or 'lstm', got {rnn_type!r}")
        self.rnn = rnn_class(
            input_size, hidden_size, num_layers=num_layers, batch_first=True,
            bidirectional=bidirectional, dropout=dropout if num_layers > 1 else 0.0,
        )
        self.rnn_type = rnn_type
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.output_size = hidden_size * self.num_directions
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, inputs: torch.Tensor, lengths: torch.Tensor | None = None, state: State | None = None
    ) -> EncoderOutput:
        """Encode ``inputs [B, T, input_size]``; ``lengths [B]`` marks right padding (None: none).

        Without lengths the RNN runs unpacked (a language model's full windows, where ``state``
        carries over from the previous window).
        """
        if lengths is None:
            outputs, state = self.rnn(inputs, state)
        else:
            # pack_padded_sequence wants lengths on the CPU.
            packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_out, state = self.rnn(packed, state)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=inputs.size(1))
        h = state[0] if isinstance(state, tuple) else state
        # h: [layers * directions, B, H]; keep the last layer, concatenate its directions.
        last = h.view(self.num_layers, self.num_directions, h.size(1), self.hidden_size)[-1]
        final = torch.cat(list(last), dim=-1)
        return EncoderOutput(self.dropout(outputs), self.dropout(final), state)
