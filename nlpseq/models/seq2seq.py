"""Many-to-many, unsynced: embed the source -> bi-RNN encoder -> attention decoder -> target tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nlpseq.models.decoder import AttentionDecoder, DecoderConfig, DecoderState, Memory
from nlpseq.models.embedding import EmbeddingConfig, TokenEmbedding
from nlpseq.models.encoder import EncoderConfig, RNNEncoder
from nlpseq.ranges import ranged
from nlpseq.tokenizers import EOS_ID, PAD_ID

# The translation defaults of the shared sections: what a recipe gets with no ``model.embedding`` /
# ``model.encoder`` section, and what a section it writes starts from (nlpseq.config.from_dict), so a
# recipe giving only ``encoder: {hidden_size: 512}`` keeps the GRU.
SEQ2SEQ_SECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "embedding": {"embedding_dim": 256, "dropout": 0.2},
    "encoder": {"rnn_type": "gru", "hidden_size": 256, "num_layers": 1, "dropout": 0.2},
}


@dataclass
class Seq2SeqConfig:
    """The ``model`` section of a translation recipe (arguments of :class:`Seq2Seq`)."""

    section_defaults: ClassVar[dict[str, dict[str, Any]]] = SEQ2SEQ_SECTION_DEFAULTS

    embedding: EmbeddingConfig = field(
        default_factory=lambda: EmbeddingConfig(**SEQ2SEQ_SECTION_DEFAULTS["embedding"]))
    encoder: EncoderConfig = field(
        default_factory=lambda: EncoderConfig(**SEQ2SEQ_SECTION_DEFAULTS["encoder"]))
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    # Spread this much of each target's probability mass over the vocabulary (Szegedy et al. 2016).
    label_smoothing: float = ranged(0.1, ge=0, lt=1)
    # Weight of a target-side language-model loss added in training: the decoder predicts each target
    # token without the source (zero attention context), which keeps a decoder started from a language
    # model (model.pretrained_decoder) one while it learns to translate (Ramachandran et al. 2017). 0: off.
    decoder_lm_loss: float = ranged(0.0, ge=0)


@dataclass
class Seq2SeqOutput:
    logits: torch.Tensor  # [B, T, V]
    attention: torch.Tensor  # [B, T, S]
    # Cross-entropy (label-smoothed) summed over the real target tokens, and their number; in training
    # with decoder_lm_loss, loss also holds decoder_lm_loss x lm_loss.
    loss: torch.Tensor | None = None
    num_targets: torch.Tensor | None = None
    # The target-side language-model loss (summed as loss), when it was computed.
    lm_loss: torch.Tensor | None = None


class Seq2Seq(nn.Module):
    """Attention encoder-decoder.

    ``forward(batch)`` reads ``input_ids [B, S]``, ``lengths [B]``, ``mask [B, S]`` (source) and
    ``target_in [B, T]`` (BOS + target), ``target_out [B, T]`` (target + EOS, PAD-padded).

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes.
        embedding, encoder, decoder: the config sections.
        label_smoothing, decoder_lm_loss: see :class:`Seq2SeqConfig`.
        share_embeddings: one embedding matrix for both sides (a joint vocabulary).
    """

    def __init__(self, source_vocab_size: int, target_vocab_size: int,
                 embedding: EmbeddingConfig | None = None, encoder: EncoderConfig | None = None,
                 decoder: DecoderConfig | None = None,
                 label_smoothing: float = 0.1, decoder_lm_loss: float = 0.0, share_embeddings: bool = False):
        super().__init__()
        embedding = embedding or EmbeddingConfig()
        encoder = encoder or EncoderConfig()
        decoder = decoder or DecoderConfig()
        options = {k: v for k, v in asdict(embedding).items() if k != "pretrained"}
        self.source_embedding = TokenEmbedding(source_vocab_size, **options)
        if share_embeddings:
            if source_vocab_size != target_vocab_size:
                raise ValueError("shared embeddings need one vocabulary for both sides")
            self.target_embedding = self.source_embedding
        else:
            self.target_embedding = TokenEmbedding(target_vocab_size, **options)
        self.encoder = RNNEncoder(embedding.embedding_dim, **asdict(encoder))
        self.decoder = AttentionDecoder(self.target_embedding, target_vocab_size, self.encoder.output_size,
                                        **asdict(decoder))
        self.label_smoothing = label_smoothing
        self.decoder_lm_loss = decoder_lm_loss
        if decoder.tie_embeddings:
            # nn.Embedding's N(0, 1) is far too large for an output layer: logits of standard deviation
            # ~sqrt(embedding_dim) start the loss at twice that of a uniform guess. Scale as for tied
            # Transformer embeddings.
            with torch.no_grad():
                self.target_embedding.embedding.weight.normal_(0.0, embedding.embedding_dim ** -0.5)
                self.target_embedding.embedding.weight[0].zero_()

    def encode(self, input_ids: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor
               ) -> tuple[Memory, DecoderState]:
        """Source ``[B, S]`` -> the memory attention reads and the decoder's initial state."""
        encoded = self.encoder(self.source_embedding(input_ids), lengths)
        values = encoded.outputs
        memory = Memory(values, self.decoder.attention.keys(values), mask.to(values.device), lengths)
        cell = None
        if isinstance(encoded.state, tuple):  # LSTM: the last layer's cells, both directions
            c = encoded.state[1]
            directions = self.encoder.num_directions
            last = c.view(self.encoder.num_layers, directions, c.size(1), self.encoder.hidden_size)[-1]
            cell = torch.cat(list(last), dim=-1)
        return memory, self.decoder.initial_state(encoded.final, cell)

    def forward(self, batch: dict[str, torch.Tensor]) -> Seq2SeqOutput:
        memory, state = self.encode(batch["input_ids"], batch["lengths"], batch["mask"])
        logits, attention = self.decoder(batch["target_in"], state, memory)
        output = Seq2SeqOutput(logits, attention)
        if "target_out" in batch:
            gold = batch["target_out"]
            output.loss = self._cross_entropy(logits, gold)
            output.num_targets = (gold != PAD_ID).sum()
            if self.decoder_lm_loss and self.training:
                # On the batch's own target sentences (the paper uses monolingual text too), and in
                # training only: validation losses stay comparable with runs without it.
                output.lm_loss = self._cross_entropy(self.decoder.language_model(batch["target_in"]), gold)
                output.loss = output.loss + self.decoder_lm_loss * output.lm_loss
        return output

    def _cross_entropy(self, logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        """``logits [B, T, V]`` against ``gold [B, T]``: label-smoothed, summed over non-padding targets."""
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), gold.reshape(-1),
                               ignore_index=PAD_ID, reduction="sum", label_smoothing=self.label_smoothing)

    def decode_step(self, previous: torch.Tensor, state: DecoderState, memory: Memory
                    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """Log-probabilities ``[N, V]`` (fp32) of the next token of N hypotheses, new state, attention
        ``[N, S]``; what the searches call."""
        readout, state, weights = self.decoder.step(previous, state, memory)
        return torch.log_softmax(self.decoder.output(readout).float(), dim=-1), state, weights


__all__ = ["EOS_ID", "Seq2Seq", "Seq2SeqConfig", "Seq2SeqOutput"]
