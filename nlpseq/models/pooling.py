"""Many-to-one pooling: turn per-token encoder states into one vector per sequence."""

from __future__ import annotations

import torch
from torch import nn

from nlpseq.models.encoder import EncoderOutput

POOLINGS = ("last", "mean", "max", "attention")


class Pooling(nn.Module):
    """``EncoderOutput`` + mask ``[B, T]`` -> ``[B, size]``.

    last: the encoder's final states (forward at the last real token, backward at the first).
    mean / max: over real positions only.
    attention: a learned query scores each position (Yang et al. 2016 style), softmax over real
        positions, weighted sum.
    """

    def __init__(self, kind: str, size: int):
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {kind!r}")
        self.kind = kind
        if kind == "attention":
            self.project = nn.Linear(size, size)
            self.query = nn.Linear(size, 1, bias=False)

    def forward(self, encoded: EncoderOutput, mask: torch.Tensor) -> torch.Tensor:
        if self.kind == "last":
            return encoded.final
        outputs = encoded.outputs
        m = mask.unsqueeze(-1)  # [B, T, 1]
        if self.kind == "mean":
            return (outputs * m).sum(1) / m.sum(1).clamp(min=1)
        if self.kind == "max":
            return outputs.masked_fill(~m, torch.finfo(outputs.dtype).min).max(1).values
        scores = self.query(torch.tanh(self.project(outputs))).squeeze(-1)  # [B, T]
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return torch.einsum("bt,bth->bh", weights.to(outputs.dtype), outputs)
