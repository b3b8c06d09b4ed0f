"""Many-to-one: embed -> RNN encoder -> pool -> linear head over the classes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from torch import nn

from nlpseq.models.embedding import EmbeddingConfig, TokenEmbedding
from nlpseq.models.encoder import EncoderConfig, RNNEncoder
from nlpseq.models.pooling import Pooling
from nlpseq.ranges import local_path, ranged


@dataclass
class ClassifierConfig:
    """The ``model`` section of a classification recipe (arguments of :class:`SequenceClassifier`)."""

    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    # A language model's run folder (task lm) whose embedding rows (matched by token) and encoder layers
    # start this model's, to fine-tune; its sizes must match model.embedding and model.encoder.
    pretrained: str | None = local_path()
    # Encoder states -> one vector: last (final states), mean or max over the real tokens, attention
    # (a learned query's weighted sum), or concat: [last; max; mean] (ULMFiT; 3x the encoder's size).
    pooling: Literal["last", "mean", "max", "attention", "concat"] = "max"
    # Dropout on the pooled vector, before the output layer.
    dropout: float = ranged(0.3, ge=0, lt=1)
    # Loss weight per class (in label-vocabulary order), or "balanced" (inverse training frequency).
    class_weights: list[float] | Literal["balanced"] | None = None


@dataclass
class ClassifierOutput:
    logits: torch.Tensor  # [B, C]
    # Cross-entropy summed over the batch (class-weighted when weights are set), when labels were given;
    # divide by num_targets (the number of examples, [] ) for the mean.
    loss: torch.Tensor | None = None
    num_targets: torch.Tensor | None = None


class SequenceClassifier(nn.Module):
    """Classify whole sequences.

    ``forward(batch)`` reads ``input_ids [B, T]``, ``lengths [B]``, ``mask [B, T]`` and, when present,
    ``labels [B]``; it returns logits ``[B, C]`` and the loss summed over the B examples.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embedding: EmbeddingConfig | None = None,
        encoder: EncoderConfig | None = None,
        pooling: str = "max",
        dropout: float = 0.3,
        class_weights: list[float] | None = None,
        vocabulary: list[str] | None = None,
    ):
        super().__init__()
        embedding = embedding or EmbeddingConfig()
        encoder = encoder or EncoderConfig()
        self.embedding = TokenEmbedding(vocab_size, **asdict(embedding), vocabulary=vocabulary)
        self.encoder = RNNEncoder(embedding.embedding_dim, **asdict(encoder))
        self.pooling = Pooling(pooling, self.encoder.output_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.pooling.output_size, num_classes)
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(f"class_weights has {len(class_weights)} values for {num_classes} classes")
        weights = torch.tensor(class_weights, dtype=torch.float) if class_weights is not None else None
        # Not in the state dict: the weights shape the training loss only, and inference needs none.
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> ClassifierOutput:
        embedded = self.embedding(batch["input_ids"])
        encoded = self.encoder(embedded, batch["lengths"])
        pooled = self.pooling(encoded, batch["mask"])
        logits = self.head(self.dropout(pooled))
        if "labels" not in batch:
            return ClassifierOutput(logits)
        loss = nn.functional.cross_entropy(logits.float(), batch["labels"], weight=self.class_weights,
                                           reduction="sum")
        return ClassifierOutput(logits, loss, torch.tensor(logits.size(0), device=logits.device))

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The parameters in layers, bottom to top: the embedding, each encoder layer (both directions),
        then the pooling and the output layer together. ``trainer.layer_lr_decay`` gives each group its
        own learning rate and ``trainer.gradual_unfreezing`` unfreezes them top down (ULMFiT)."""
        rnn = self.encoder.rnn
        # nn.GRU / nn.LSTM name layer K's tensors weight_ih_lK, ..., bias_hh_lK[_reverse].
        layers = [[param for name, param in rnn.named_parameters()
                   if name.removesuffix("_reverse").endswith(f"_l{index}")]
                  for index in range(self.encoder.num_layers)]
        grouped = {id(param) for group in layers for param in group}
        rest = [param for param in self.encoder.parameters() if id(param) not in grouped]
        if rest:  # a guard for a future encoder with more than its RNN
            raise NotImplementedError(f"SequenceClassifier.layer_groups: {len(rest)} encoder parameters "
                                      "outside its RNN layers")
        top = [*self.pooling.parameters(), *self.head.parameters()]
        return [list(self.embedding.parameters()), *layers, top]

    @torch.no_grad()
    def predict_proba(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class probabilities ``[B, C]`` (no labels needed)."""
        was_training = self.training
        self.eval()
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        probs = self.forward(inputs).logits.float().softmax(-1)
        self.train(was_training)
        return probs
