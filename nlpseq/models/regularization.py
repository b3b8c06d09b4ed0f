"""Regularisers of recurrent language models (AWD-LSTM, Merity et al. 2017; Gal & Ghahramani 2016).

- :class:`LockedDropout`: variational dropout, one mask per sequence shared by every time step.
- :class:`WeightDrop`: DropConnect on an RNN's hidden-to-hidden matrix, drawn once per forward pass.
- :func:`embedding_dropout`: drop whole rows (word types) of an embedding matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LockedDropout(nn.Module):
    """``[B, T, D]`` -> ``[B, T, D]``: zero the same units at every time step of a row (scaled by
    ``1 / (1 - p)``), so the dropped units are the same along a sequence, as in variational RNNs."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask


class WeightDrop(nn.Module):
    """DropConnect on the hidden-to-hidden weights of a one-layer ``nn.LSTM``/``nn.GRU``.

    The trained parameter is ``weight_hh_raw``; every forward pass writes ``dropout(weight_hh_raw)``
    into the RNN's ``weight_hh_l0`` slot (``RNNBase.__setattr__`` keeps ``_flat_weights`` in step),
    then calls the RNN as usual. So the RNN still runs its fused kernel (cuDNN on GPU, one ATen call on
    CPU) over all time steps with one dropped matrix, instead of a Python loop over time steps.
    """

    def __init__(self, rnn: nn.RNNBase, p: float):
        super().__init__()
        if rnn.num_layers != 1 or rnn.bidirectional:
            raise ValueError("WeightDrop wraps a one-layer unidirectional RNN")
        self.rnn = rnn
        self.p = p
        raw = rnn.weight_hh_l0
        del rnn._parameters["weight_hh_l0"]
        self.weight_hh_raw = nn.Parameter(raw.detach().clone())
        rnn.weight_hh_l0 = self.weight_hh_raw.data.clone()  # a placeholder until the first forward

    def dropped_weight(self) -> torch.Tensor:
        return F.dropout(self.weight_hh_raw, self.p, self.training)

    def forward(self, *args, **kwargs):
        weight = self.dropped_weight()
        # Out of training F.dropout returns the Parameter itself; assigned as is, it would be registered
        # with the RNN (a second copy in state_dict, and the next training forward's plain tensor could
        # no longer be assigned): give the RNN a view of it instead.
        self.rnn.weight_hh_l0 = weight.view_as(weight) if isinstance(weight, nn.Parameter) else weight
        return self.rnn(*args, **kwargs)


def embedding_dropout(embedding: nn.Embedding, ids: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``ids [B, T]`` -> ``[B, T, D]``, with each word type's whole vector dropped with probability
    ``p`` (the same word is dropped everywhere in the batch), the rest scaled by ``1 / (1 - p)``."""
    weight = embedding.weight
    if training and p > 0:
        keep = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p) / (1 - p)
        weight = weight * keep
    return F.embedding(ids, weight, embedding.padding_idx)
