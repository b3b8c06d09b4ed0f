"""Character-level word features (Lample et al. 2016 char BiLSTM; Ma & Hovy 2016 char CNN).

Both map char ids ``[B, T, L]`` (L = longest word in the batch, 0 = padding) to one vector per word
``[B, T, output_size]``, so that unseen words still get a representation from their spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from nlpseq.ranges import MAX_WIDTH, ranged


@dataclass
class CharFeaturesConfig:
    """Arguments of :func:`build_char_features` (the char vocabulary size comes from the data)."""

    # cnn: a convolution over each word's characters, max-pooled; lstm: a BiLSTM over them.
    kind: Literal["cnn", "lstm"] = "cnn"
    # Size of each character's embedding.
    embedding_dim: int = ranged(30, ge=1, le=MAX_WIDTH)
    # cnn: number of filters (= output size); lstm: hidden size per direction (output is twice it).
    hidden_size: int = ranged(50, ge=1, le=MAX_WIDTH)
    # cnn: convolution width in characters (lstm ignores it).
    kernel_size: int = ranged(3, ge=1)
    # Dropout on the character embeddings.
    dropout: float = ranged(0.0, ge=0, lt=1)


class CharCNN(nn.Module):
    """Char embeddings -> 1-D convolution -> max over the word's characters."""

    def __init__(self, num_chars: int, embedding_dim: int = 30, hidden_size: int = 50, kernel_size: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, embedding_dim, padding_idx=0)
        self.conv = nn.Conv1d(embedding_dim, hidden_size, kernel_size, padding=kernel_size // 2)
        self.dropout = nn.Dropout(dropout)
        self.output_size = hidden_size

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        batch, words, length = chars.shape
        flat = chars.view(batch * words, length)
        x = self.dropout(self.embedding(flat)).transpose(1, 2)  # [N, E, L]
        # An even kernel_size gives L + 1 outputs (kernel_size // 2 padding on both sides); keep L so
        # that the padding mask below lines up.
        x = self.conv(x)[:, :, :length]  # [N, H, L]
        # Padding positions must not win the max: fill them with the lowest value first.
        x = x.masked_fill((flat == 0).unsqueeze(1), torch.finfo(x.dtype).min)
        x = x.max(dim=2).values
        # Words that are all padding (padded word slots) give 0, not -inf-like values.
        x = x.masked_fill((flat == 0).all(dim=1, keepdim=True), 0.0)
        return x.view(batch, words, -1)


class CharLSTM(nn.Module):
    """Char embeddings -> BiLSTM; a word is its last forward and first backward state."""

    def __init__(self, num_chars: int, embedding_dim: int = 30, hidden_size: int = 25, kernel_size: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        del kernel_size  # CNN only; accepted so one config section serves both kinds
        self.embedding = nn.Embedding(num_chars, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.output_size = 2 * hidden_size

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        batch, words, length = chars.shape
        flat = chars.view(batch * words, length)
        lengths = (flat != 0).sum(1)
        out = flat.new_zeros(batch * words, self.output_size, dtype=self.embedding.weight.dtype)
        real = lengths > 0
        if real.any():
            embedded = self.dropout(self.embedding(flat[real]))
            packed = pack_padded_sequence(embedded, lengths[real].cpu(), batch_first=True,
                                          enforce_sorted=False)
            _, (h, _) = self.lstm(packed)  # h: [2, N_real, H]
            out[real] = torch.cat([h[0], h[1]], dim=-1).to(out.dtype)
        return out.view(batch, words, -1)


def build_char_features(config: CharFeaturesConfig, num_chars: int) -> CharCNN | CharLSTM:
    module = {"cnn": CharCNN, "lstm": CharLSTM}[config.kind]
    return module(num_chars, config.embedding_dim, config.hidden_size, config.kernel_size, config.dropout)
