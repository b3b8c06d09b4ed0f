"""Token embeddings, optionally initialised from a word2vec/GloVe text file, with three dropouts.

The three differ in what they drop: ``dropout`` zeroes single elements of the output vectors,
``word_dropout`` replaces single tokens by ``<unk>``, ``type_dropout`` zeroes whole rows of the matrix
(a word type is then missing at every position of the batch: AWD-LSTM's dropoute).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nlpseq.errors import DataError
from nlpseq.models.regularization import embedding_dropout
from nlpseq.ranges import MAX_WIDTH, local_path, ranged
from nlpseq.tokenizers import UNK_ID

log = logging.getLogger("nlpseq.model")


@dataclass
class EmbeddingConfig:
    """Arguments of :class:`TokenEmbedding` (vocabulary size comes from data): the ``model.embedding``
    section of every task."""

    # Size of each token vector (the vectors in ``pretrained`` must have this size).
    embedding_dim: int = ranged(128, ge=1, le=MAX_WIDTH)
    # Element dropout on the output vectors.
    dropout: float = ranged(0.0, ge=0, lt=1)
    # Replace training tokens by <unk> with this probability: a regulariser, and it teaches the model
    # what to do with tokens it has never seen.
    word_dropout: float = ranged(0.0, ge=0, lt=1)
    # Drop whole word types (rows of the matrix, the same for every position of a batch) with this
    # probability, the kept rows scaled up (AWD-LSTM's dropoute).
    type_dropout: float = ranged(0.0, ge=0, lt=1)
    # A word2vec/GloVe text file whose vectors start the matrix.
    pretrained: str | None = local_path()
    # With pretrained: keep the whole matrix fixed in training (tokens absent from the file keep their
    # random vectors); without pretrained it changes nothing.
    freeze: bool = False


class TokenEmbedding(nn.Module):
    """``[B, T]`` ids -> ``[B, T, embedding_dim]`` vectors, with dropout. Id 0 is padding (zero vector).

    Args:
        num_embeddings: vocabulary size.
        embedding_dim: vector size (must match ``pretrained`` when given).
        dropout: dropout on the output vectors.
        word_dropout: probability of replacing a (non-pad) token by ``<unk>`` while training.
        type_dropout: probability of dropping a whole word type (row of the matrix) while training.
        pretrained: a word2vec/GloVe text file (``word v1 ... vD`` per line, optional ``N D`` header).
        freeze: keep pretrained vectors fixed.
        vocabulary: id -> token strings, needed to look tokens up in ``pretrained``.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int = 128,
        dropout: float = 0.0,
        word_dropout: float = 0.0,
        type_dropout: float = 0.0,
        pretrained: str | None = None,
        freeze: bool = False,
        vocabulary: list[str] | None = None,
    ):
        super().__init__()
        self.embedding = nn.Embedding(num_embeddings, embedding_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.word_dropout = word_dropout
        self.type_dropout = type_dropout
        self.embedding_dim = embedding_dim
        if pretrained is not None:
            if vocabulary is None:
                raise ValueError("pretrained vectors need the vocabulary to look tokens up")
            self.load_vectors(pretrained, vocabulary)
            self.embedding.weight.requires_grad_(not freeze)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids [B, T]`` -> ``[B, T, embedding_dim]``."""
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(ids.shape, device=ids.device) < self.word_dropout) & (ids != 0)
            ids = ids.masked_fill(drop, UNK_ID)
        if self.training and self.type_dropout > 0:
            vectors = embedding_dropout(self.embedding, ids, self.type_dropout, training=True)
        else:
            vectors = self.embedding(ids)
        return self.dropout(vectors)

    @torch.no_grad()
    def load_vectors(self, path: str | Path, vocabulary: list[str]) -> float:
        """Copy vectors of known tokens (exact match first, then lower-cased); return coverage."""
        path = Path(path)
        if not path.is_file():
            raise DataError("pretrained vectors file not found", path)
        wanted: dict[str, list[int]] = {}
        for index, token in enumerate(vocabulary):
            if index > 0:
                wanted.setdefault(token, []).append(index)
        lowered: dict[str, list[int]] = {}
        for token, ids in wanted.items():
            lowered.setdefault(token.lower(), []).extend(ids)
        found: set[int] = set()
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    parts = raw.decode("utf-8").rstrip().split(" ")
                except UnicodeDecodeError:
                    raise DataError("bytes that are not UTF-8", path, number) from None
                if number == 1 and len(parts) == 2:
                    continue  # word2vec header "count dim"
                if len(parts) != self.embedding_dim + 1:
                    raise DataError(f"expected a word and {self.embedding_dim} numbers "
                                    f"(model.embedding.embedding_dim), found {len(parts) - 1} numbers",
                                    path, number)
                word = parts[0]
                targets = [i for i in wanted.get(word, []) if i not in found]
                if not targets:
                    targets = [i for i in lowered.get(word.lower(), []) if i not in found]
                if not targets:
                    continue
                try:
                    vector = torch.tensor([float(x) for x in parts[1:]])
                except ValueError:
                    raise DataError("a vector value is not a number", path, number) from None
                for index in targets:
                    self.embedding.weight[index] = vector
                    found.add(index)
        coverage = len(found) / max(1, len(vocabulary) - 1)
        log.info("pretrained vectors: %d of %d tokens found in %s (%.1f%%)",
                 len(found), len(vocabulary) - 1, path, 100 * coverage)
        return coverage
