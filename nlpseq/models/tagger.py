"""Many-to-many (synced): one tag per word. Word embedding (+ char features) -> RNN encoder ->
per-word scores -> softmax or linear-chain CRF."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from torch import nn

from nlpseq.models.char_features import CharFeaturesConfig, build_char_features
from nlpseq.models.crf import CRF
from nlpseq.models.embedding import EmbeddingConfig, TokenEmbedding
from nlpseq.models.encoder import EncoderConfig, RNNEncoder
from nlpseq.ranges import ranged


@dataclass
class TaggerConfig:
    """The ``model`` section of a tagging recipe (arguments of :class:`SequenceTagger`)."""

    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    char_features: CharFeaturesConfig | None = field(default_factory=CharFeaturesConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    # Size of a learned embedding of each word's shape (lower, Capitalised, UPPER, number, ...);
    # 0 turns it off. Useful when the word vocabulary is lower-cased.
    case_embedding_dim: int = ranged(0, ge=0)
    # crf: a linear-chain CRF scores whole tag paths (Viterbi decoding); softmax: each word's tag alone.
    head: Literal["crf", "softmax"] = "crf"
    # Forbid tag moves the scheme makes illegal (I-X after O in IOB2) in the CRF.
    constrain: bool = True
    # Dropout on the char features and on the encoder outputs, before the tag scores.
    dropout: float = ranged(0.5, ge=0, lt=1)


@dataclass
class TaggerOutput:
    scores: torch.Tensor  # [B, T, K] emissions (CRF) or logits (softmax)
    # Negative log-likelihood summed over the batch (CRF: of whole tag paths; softmax: of each tag),
    # when tags were given; num_targets [] is the number of words tagged, the per-token normaliser.
    loss: torch.Tensor | None = None
    num_targets: torch.Tensor | None = None


class SequenceTagger(nn.Module):
    """Tag every word.

    ``forward(batch)`` reads ``input_ids [B, T]`` (one id per word), ``chars [B, T, L]`` when char
    features are on, ``case_ids [B, T]`` when case features are on, ``lengths [B]``, ``mask [B, T]``
    and, when present, ``tags [B, T]``.
    """

    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        num_chars: int = 0,
        embedding: EmbeddingConfig | None = None,
        char_features: CharFeaturesConfig | None = None,
        encoder: EncoderConfig | None = None,
        head: str = "crf",
        constrain: bool = True,
        dropout: float = 0.5,
        case_embedding_dim: int = 0,
        num_cases: int = 0,
        allowed: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        vocabulary: list[str] | None = None,
    ):
        super().__init__()
        embedding = embedding or EmbeddingConfig()
        encoder = encoder or EncoderConfig()
        self.embedding = TokenEmbedding(vocab_size, **asdict(embedding), vocabulary=vocabulary)
        self.chars = build_char_features(char_features, num_chars) if char_features else None
        # Word-shape classes (id 0 is padding), as many as the task's feature function has.
        if case_embedding_dim and num_cases < 2:
            raise ValueError("case_embedding_dim needs num_cases (word-shape classes, padding included)")
        self.case = nn.Embedding(num_cases, case_embedding_dim, padding_idx=0) if case_embedding_dim else None
        input_size = (embedding.embedding_dim + (self.chars.output_size if self.chars else 0)
                      + case_embedding_dim)
        self.encoder = RNNEncoder(input_size, **asdict(encoder))
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(self.encoder.output_size, num_tags)
        self.crf = None
        if head == "crf":
            masks = allowed if (constrain and allowed is not None) else (None, None, None)
            self.crf = CRF(num_tags, *masks)

    def forward(self, batch: dict[str, torch.Tensor]) -> TaggerOutput:
        mask = batch["mask"]
        features = [self.embedding(batch["input_ids"])]
        if self.chars is not None:
            features.append(self.dropout(self.chars(batch["chars"])))
        if self.case is not None:
            features.append(self.case(batch["case_ids"]))
        encoded = self.encoder(torch.cat(features, dim=-1), batch["lengths"])
        scores = self.project(self.dropout(encoded.outputs))
        if "tags" not in batch:
            return TaggerOutput(scores)
        if self.crf is not None:
            loss = -self.crf.log_likelihood(scores, batch["tags"], mask).sum()
        else:
            loss = nn.functional.cross_entropy(scores.float()[mask], batch["tags"][mask], reduction="sum")
        return TaggerOutput(scores, loss, mask.sum())

    @torch.no_grad()
    def decode(self, batch: dict[str, torch.Tensor]) -> list[list[int]]:
        """Best tag ids per sentence, each trimmed to its length (Viterbi with a CRF, argmax without)."""
        was_training = self.training
        self.eval()
        scores = self.forward({k: v for k, v in batch.items() if k != "tags"}).scores
        self.train(was_training)
        lengths = batch["lengths"].tolist()
        if self.crf is not None:
            paths = self.crf.decode(scores, batch["mask"]).tolist()
        else:
            paths = scores.argmax(-1).tolist()
        return [path[:n] for path, n in zip(paths, lengths, strict=True)]
