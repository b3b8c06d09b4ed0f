"""Many-to-one pooling: turn per-token encoder states into one vector per sequence."""

from __future__ import annotations

import torch
from torch import nn

from nlpseq.models.encoder import EncoderOutput

POOLINGS = ("last", "mean", "max", "attention", "concat")


class Pooling(nn.Module):
    """``EncoderOutput`` + mask ``[B, T]`` -> ``[B, output_size]`` (``size``, or ``3 * size`` for concat).

    last: the encoder's final states (forward at the last real token, backward at the first).
    mean / max: over real positions only.
    attention: a learned query scores each position (Yang et al. 2016 style), softmax over real
        positions, weighted sum.
    concat: ``[last; max; mean]`` (ULMFiT's concat pooling, Howard & Ruder 2018): the final state keeps
        what the encoder read last, max and mean what it read anywhere in a long text.
    """

    def __init__(self, kind: str, size: int):
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {kind!r}")
        self.kind = kind
        self.output_size = 3 * size if kind == "concat" else size
        if kind == "attention":
            self.project = nn.Linear(size, size)
            self.query = nn.Linear(size, 1, bias=False)

    def forward(self, encoded: EncoderOutput, mask: torch.Tensor) -> torch.Tensor:
        if self.kind == "last":
            return encoded.final
        outputs = encoded.outputs
        m = mask.unsqueeze(-1)  # [B, T, 1]
        if self.kind == "mean":
            return _mean(outputs, m)
        if self.kind == "max":
            return _max(outputs, m)
        if self.kind == "concat":
            return torch.cat([encoded.final, _max(outputs, m), _mean(outputs, m)], dim=-1)
        scores = self.query(torch.tanh(self.project(outputs))).squeeze(-1)  # [B, T]
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return torch.einsum("bt,bth->bh", weights.to(outputs.dtype), outputs)


def _mean(outputs: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``[B, T, H]`` states, ``[B, T, 1]`` mask -> ``[B, H]`` mean over the real positions."""
    return (outputs * m).sum(1) / m.sum(1).clamp(min=1)


def _max(outputs: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``[B, T, H]`` states, ``[B, T, 1]`` mask -> ``[B, H]`` max over the real positions."""
    return outputs.masked_fill(~m, torch.finfo(outputs.dtype).min).max(1).values
