"""Attention over encoder states: Bahdanau (additive) and Luong (dot, general).

Queries come grouped per source sentence, ``[B, K, Q]`` (``K`` = 1 when training and for greedy
decoding, ``K`` = beam size in beam search), so the encoder states ``[B, S, D]`` are read through a
broadcast view and never copied once per beam hypothesis::

    queries  [B, K, Q] ─┐
                        ├─ scores [B, K, S] ── mask (padding -> -inf) ── softmax (fp32) ── weights
    keys     [B, S, A] ─┘                                                                     │
    values   [B, S, D] ────────────────────────── weights @ values ── context [B, K, D] ◄───────┘

Keys are a projection of the values computed once per batch (:meth:`Attention.keys`), not per step.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

AttentionKind = Literal["bahdanau", "dot", "general"]


class Attention(nn.Module):
    """Scores of one query against every source position, masked so padding gets exactly zero weight.

    Args:
        kind: ``"bahdanau"`` (additive: ``v · tanh(W_q q + W_k h)``), ``"dot"`` (``q · h``; needs
            ``query_size == value_size``) or ``"general"`` (``q · W h``).
        query_size: size of a query (the decoder state).
        value_size: size of an encoder state.
        attention_size: hidden size of the additive scorer (Bahdanau only).
    """

    def __init__(self, kind: AttentionKind, query_size: int, value_size: int, attention_size: int = 256):
        super().__init__()
        if kind not in ("bahdanau", "dot", "general"):
            raise ValueError(f"attention must be 'bahdanau', 'dot' or 'general', got {kind!r}")
        if kind == "dot" and query_size != value_size:
            raise ValueError(f"dot attention needs equal query and value sizes, got {query_size} and "
                             f"{value_size}: use 'general'")
        self.kind = kind
        if kind == "bahdanau":
            self.key_layer = nn.Linear(value_size, attention_size, bias=False)
            self.query_layer = nn.Linear(query_size, attention_size, bias=False)
            self.energy = nn.Linear(attention_size, 1, bias=False)
        elif kind == "general":
            self.key_layer = nn.Linear(value_size, query_size, bias=False)

    def keys(self, values: torch.Tensor) -> torch.Tensor:
        """``values [B, S, D]`` -> keys ``[B, S, A]`` (``A`` = attention size, query size, or D)."""
        return values if self.kind == "dot" else self.key_layer(values)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Context vectors ``[B, K, D]`` and weights ``[B, K, S]`` (rows sum to 1, zero on padding).

        ``queries [B, K, Q]``; ``keys [B, S, A]`` from :meth:`keys`; ``values [B, S, D]``;
        ``mask [B, S]`` True on real source tokens (every row needs at least one).
        """
        if self.kind == "bahdanau":
            # [B, K, S, A]: the largest tensor of a decoding step, and memory-bound on CPU: tanh in
            # place and a matrix-vector product for the energy (not a 1-column Linear) touch it twice.
            hidden = (self.query_layer(queries).unsqueeze(2) + keys.unsqueeze(1)).tanh_()
            scores = torch.matmul(hidden, self.energy.weight.squeeze(0))
        else:
            scores = torch.bmm(queries, keys.transpose(1, 2))
        # fp32 softmax: under bf16 autocast a low-precision softmax visibly blurs long sources.
        scores = scores.float().masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights.to(values.dtype), values)
        return context, weights
