"""Many-to-many (synced): one tag per word. Word embedding (+ char features, + case, + pretrained
language models' states) -> RNN encoder -> per-word scores -> softmax or linear-chain CRF; optionally
an auxiliary next/previous-word loss on the encoder (Rei 2017)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from torch import nn

from nlpseq.errors import ConfigError
from nlpseq.models.aux_lm import AuxLanguageModel
from nlpseq.models.char_features import CharFeaturesConfig, build_char_features
from nlpseq.models.crf import CRF
from nlpseq.models.embedding import EmbeddingConfig, TokenEmbedding
from nlpseq.models.encoder import EncoderConfig, RNNEncoder
from nlpseq.models.lm_features import LMFeatures, LMFeaturesConfig
from nlpseq.ranges import MAX_VOCAB, MAX_WIDTH, ranged


@dataclass
class TaggerConfig:
    """The ``model`` section of a tagging recipe (arguments of :class:`SequenceTagger`)."""

    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    char_features: CharFeaturesConfig | None = field(default_factory=CharFeaturesConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    # Size of a learned embedding of each word's shape (lower, Capitalised, UPPER, number, ...);
    # 0 turns it off. Useful when the word vocabulary is lower-cased.
    case_embedding_dim: int = ranged(0, ge=0, le=MAX_WIDTH)
    # crf: a linear-chain CRF scores whole tag paths (Viterbi decoding); softmax: each word's tag alone.
    head: Literal["crf", "softmax"] = "crf"
    # Forbid tag moves the scheme makes illegal (I-X after O in IOB2) in the CRF.
    constrain: bool = True
    # Dropout on the char features and on the encoder outputs, before the tag scores.
    dropout: float = ranged(0.5, ge=0, lt=1)
    # Pretrained word-level language models whose top-layer states join each word's features (TagLM,
    # Peters et al. 2017): {forward: RUN_DIR, backward: RUN_DIR, freeze: true, dropout: 0.0}.
    lm_features: LMFeaturesConfig | None = None
    # Weight of Rei (2017)'s auxiliary loss: the encoder's forward states predict the next word, its
    # backward states the previous one (training only; 0 turns it off).
    aux_lm_weight: float = ranged(0.0, ge=0)
    # The auxiliary loss's classes: the most frequent training words (Rei used 7500); all others share one.
    aux_lm_vocab: int = ranged(7500, ge=1, le=MAX_VOCAB)

    def __post_init__(self) -> None:
        if self.aux_lm_weight > 0:
            check_aux_lm(self.encoder, self.lm_features is not None)


def check_aux_lm(encoder: EncoderConfig, lm_features: bool) -> None:
    """The auxiliary loss needs encoder directions that have not read the word they predict (one
    ConfigError naming the key otherwise)."""
    if not encoder.bidirectional:
        raise ConfigError("model.aux_lm_weight: needs model.encoder.bidirectional=true (the backward states "
                          "predict the previous word)")
    if encoder.num_layers > 1:
        raise ConfigError("model.aux_lm_weight: needs model.encoder.num_layers=1 (a second layer's forward "
                          "states have read the words to the right, so the next word would be given away)")
    if lm_features:
        raise ConfigError("model.aux_lm_weight: cannot be combined with model.lm_features (a language "
                          "model's state at a word has read its neighbours, which the loss predicts)")


@dataclass
class TaggerOutput:
    scores: torch.Tensor  # [B, T, K] emissions (CRF) or logits (softmax)
    # Negative log-likelihood summed over the batch (CRF: of whole tag paths; softmax: of each tag),
    # when tags were given; num_targets [] is the number of words tagged, the per-token normaliser.
    loss: torch.Tensor | None = None
    num_targets: torch.Tensor | None = None
    # Training with model.aux_lm_weight: the auxiliary word-prediction loss [] (summed, unweighted),
    # already in ``loss`` times its weight.
    aux_loss: torch.Tensor | None = None


class SequenceTagger(nn.Module):
    """Tag every word.

    ``forward(batch)`` reads ``input_ids [B, T]`` (one id per word), ``chars [B, T, L]`` when char
    features are on, ``case_ids [B, T]`` when case features are on, ``lm_forward_ids`` /
    ``lm_backward_ids [B, T]`` (each word in a language model's own vocabulary) with ``lm_features``,
    ``lengths [B]``, ``mask [B, T]`` and, when present, ``tags [B, T]``.

    ``lm_features`` (built by the task, which loads the language models' weights) and
    ``aux_lm_classes`` (the auxiliary loss's class count; 0: no auxiliary loss) are optional parts.
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
        lm_features: LMFeatures | None = None,
        aux_lm_weight: float = 0.0,
        aux_lm_classes: int = 0,
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
        self.lm_features = lm_features
        input_size = (embedding.embedding_dim + (self.chars.output_size if self.chars else 0)
                      + case_embedding_dim + (lm_features.output_size if lm_features else 0))
        self.encoder = RNNEncoder(input_size, **asdict(encoder))
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(self.encoder.output_size, num_tags)
        self.crf = None
        if head == "crf":
            masks = allowed if (constrain and allowed is not None) else (None, None, None)
            self.crf = CRF(num_tags, *masks)
        # Built last, so that the same seed gives the same tagger with the auxiliary loss on or off.
        self.aux_lm_weight = aux_lm_weight
        self.aux_lm = None
        if aux_lm_weight > 0:
            check_aux_lm(encoder, lm_features is not None)
            self.aux_lm = AuxLanguageModel(encoder.hidden_size, vocab_size, aux_lm_classes)

    def forward(self, batch: dict[str, torch.Tensor]) -> TaggerOutput:
        mask = batch["mask"]
        features = [self.embedding(batch["input_ids"])]
        if self.chars is not None:
            features.append(self.dropout(self.chars(batch["chars"])))
        if self.case is not None:
            features.append(self.case(batch["case_ids"]))
        if self.lm_features is not None:
            features.append(self.lm_features(batch))
        encoded = self.encoder(torch.cat(features, dim=-1), batch["lengths"])
        outputs = self.dropout(encoded.outputs)
        scores = self.project(outputs)
        if "tags" not in batch:
            return TaggerOutput(scores)
        if self.crf is not None:
            loss = -self.crf.log_likelihood(scores, batch["tags"], mask).sum()
        else:
            loss = nn.functional.cross_entropy(scores.float()[mask], batch["tags"][mask], reduction="sum")
        aux_loss = None
        if self.aux_lm is not None and self.training:  # a training signal only: evaluation never sees it
            aux_loss = self.aux_lm(outputs, batch["input_ids"], mask)
            loss = loss + self.aux_lm_weight * aux_loss
        return TaggerOutput(scores, loss, mask.sum(), aux_loss)

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
