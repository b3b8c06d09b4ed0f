"""A recurrent language model: embedding -> stacked unidirectional RNNEncoders -> tied output layer.

Its ``model`` section uses the shared :class:`~nlpseq.models.embedding.EmbeddingConfig` and
:class:`~nlpseq.models.encoder.EncoderConfig` (``embedding.type_dropout`` is AWD-LSTM's dropoute,
``encoder.locked_dropout``/``encoder.weight_drop`` its variational dropout and DropConnect).

Layers are one-layer :class:`~nlpseq.models.encoder.RNNEncoder` s stacked here, so that the dropout
between them is locked (one mask per sequence) and the hidden-to-hidden matrices can take weight drop;
the last layer's output is projected to the embedding size when the two differ, so the output layer can
share the embedding matrix (Press & Wolf 2017).

State: a list with one RNN state per layer (``h [1, B, H]`` or ``(h, c)``). Training on a stream
carries it from window to window inside the model (``carried``; saved with ``get_extra_state``, so it is
in every checkpoint and a resumed run continues exactly); a batch with ``reset`` starts afresh (from the
condition when there is one). :meth:`score` takes and returns the state explicitly and never touches
the carried one, so evaluating in the middle of an epoch changes nothing in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nlpseq.errors import ConfigError
from nlpseq.models.embedding import EmbeddingConfig, TokenEmbedding
from nlpseq.models.encoder import EncoderConfig, RNNEncoder, State
from nlpseq.models.losses import summed_cross_entropy
from nlpseq.models.regularization import LockedDropout, WeightDrop
from nlpseq.ranges import MAX_WIDTH, ranged
from nlpseq.tokenizers import BOS_ID, PAD_ID

LayerStates = list[State]

# A language model's defaults where they differ from the shared sections' (which are a bidirectional
# one-layer tagger's or classifier's): a recipe's embedding/encoder section starts from these.
LM_SECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "embedding": {"embedding_dim": 256},
    "encoder": {"num_layers": 2, "bidirectional": False, "locked_dropout": True},
}


def lm_encoder(**values: Any) -> EncoderConfig:
    """An :class:`EncoderConfig` with a language model's defaults (left to right, locked dropout, two
    layers), ``values`` set on top: what a recipe's ``model.encoder`` section gives."""
    return EncoderConfig(**{**LM_SECTION_DEFAULTS["encoder"], **values})


@dataclass
class LanguageModelConfig:
    """The ``model`` section of an ``lm`` recipe (keys match :class:`LanguageModel`'s arguments)."""

    # Read by nlpseq.config.from_dict: the sections' starting values, and the keys of earlier versions
    # (a recipe that still uses one is refused with the key to use instead).
    section_defaults: ClassVar[dict[str, dict[str, Any]]] = LM_SECTION_DEFAULTS
    renamed_keys: ClassVar[dict[str, str]] = {"embedding_dim": "embedding.embedding_dim",
                                              "embedding_dropout": "embedding.type_dropout"}

    embedding: EmbeddingConfig = field(
        default_factory=lambda: EmbeddingConfig(**LM_SECTION_DEFAULTS["embedding"]))
    encoder: EncoderConfig = field(default_factory=lambda: lm_encoder())
    # Share the embedding matrix with the output layer (a projection bridges a hidden size that differs).
    tie_weights: bool = True
    # Locked dropout (one mask per sequence) on the embedded inputs.
    input_dropout: float = ranged(0.0, ge=0, lt=1)
    # Locked dropout on the last layer's outputs, before the output layer.
    output_dropout: float = ranged(0.0, ge=0, lt=1)
    # Size of the condition's embedding (data.condition_field), which a linear bridge maps to every
    # layer's initial state; unused without data.condition_field (the model is then unconditioned).
    condition_dim: int = ranged(32, ge=1, le=MAX_WIDTH)
    # Also concatenate the condition's embedding to the input of every step, not only start the state
    # from it (no effect without data.condition_field).
    condition_every_step: bool = False

    def __post_init__(self) -> None:
        check_sections(self.embedding, self.encoder)


def check_sections(embedding: EmbeddingConfig, encoder: EncoderConfig) -> None:
    """Refuse the shared sections' keys a language model cannot apply (ConfigError naming the key)."""
    if encoder.bidirectional:
        raise ConfigError("model.encoder.bidirectional: a language model reads left to right")
    if embedding.pretrained is not None:
        raise ConfigError("model.embedding.pretrained: a language model learns its embedding from scratch "
                          "(pretrained vectors are not supported)")


@dataclass
class LMOutput:
    loss: torch.Tensor  # summed over predicted tokens
    num_targets: torch.Tensor
    logits: torch.Tensor | None = None


class LanguageModel(nn.Module):
    """Next-token model. ``input_ids [B, T]`` -> ``logits [B, T, V]``.

    Args:
        vocab_size: tokenizer size (ids 0 <pad> and 2 <s> are never predicted: their logits are -inf).
        num_conditions: number of condition values (0: an unconditioned model).
        other arguments: see :class:`LanguageModelConfig`.
    """

    def __init__(self, vocab_size: int, embedding: EmbeddingConfig | None = None,
                 encoder: EncoderConfig | None = None, tie_weights: bool = True, input_dropout: float = 0.0,
                 output_dropout: float = 0.0, condition_dim: int = 32, condition_every_step: bool = False,
                 num_conditions: int = 0):
        super().__init__()
        embedding = embedding or EmbeddingConfig(**LM_SECTION_DEFAULTS["embedding"])
        encoder = encoder or lm_encoder()
        check_sections(embedding, encoder)
        embedding_dim = embedding.embedding_dim
        self.vocab_size = vocab_size
        self.embedding = TokenEmbedding(vocab_size, embedding_dim, dropout=embedding.dropout,
                                        word_dropout=embedding.word_dropout,
                                        type_dropout=embedding.type_dropout)
        # AWD-LSTM's initialisation (the padding row included: it is never an input of a stream).
        nn.init.uniform_(self.embedding.embedding.weight, -0.1, 0.1)
        self.input_dropout = LockedDropout(input_dropout)
        self.between_dropout = (LockedDropout(encoder.dropout) if encoder.locked_dropout
                                else nn.Dropout(encoder.dropout))
        self.output_dropout = LockedDropout(output_dropout)
        self.rnn_type = encoder.rnn_type
        self.num_conditions = num_conditions
        self.condition_every_step = condition_every_step and num_conditions > 0
        self.condition = nn.Embedding(num_conditions, condition_dim) if num_conditions else None
        layers = []
        size = embedding_dim + (condition_dim if self.condition_every_step else 0)
        for _ in range(encoder.num_layers):
            layer = RNNEncoder(size, encoder.hidden_size, num_layers=1, rnn_type=encoder.rnn_type,
                               bidirectional=False, dropout=0.0)
            if encoder.weight_drop > 0:
                layer.rnn = WeightDrop(layer.rnn, encoder.weight_drop)
            layers.append(layer)
            size = encoder.hidden_size
        self.layers = nn.ModuleList(layers)
        self.hidden_size = encoder.hidden_size
        # A linear bridge from the condition to every layer's initial state (h, and c for an LSTM).
        parts = 2 if encoder.rnn_type == "lstm" else 1
        self.bridge = (nn.Linear(condition_dim, parts * encoder.num_layers * encoder.hidden_size)
                       if num_conditions else None)
        self.projection = (nn.Linear(encoder.hidden_size, embedding_dim, bias=False)
                           if tie_weights and encoder.hidden_size != embedding_dim else None)
        self.output = nn.Linear(embedding_dim if self.projection is not None else encoder.hidden_size,
                                vocab_size)
        nn.init.zeros_(self.output.bias)
        if tie_weights:
            self.output.weight = self.embedding.embedding.weight
        # In training the output layer's matrix product runs over a row count padded to a multiple of
        # 16: on CPU an odd count such as PTB's 10,003 made the [B*T, V] product ~1.5x slower (unaligned
        # rows). The padded rows and the never-predicted ids (<pad>, <s>) get a -inf bias, added inside
        # the product, so no separate pass over the logits masks them.
        self.padded_vocab = -(-vocab_size // 16) * 16
        never = torch.zeros(self.padded_vocab)
        never[[PAD_ID, BOS_ID]] = float("-inf")
        never[vocab_size:] = float("-inf")
        self.register_buffer("never_bias", never, persistent=False)
        self.carried: LayerStates | None = None

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The parameters in layers, bottom to top: the embedding (with the condition embedding and
        bridge), each RNN layer, then the output side (projection and output bias; a tied output matrix
        is the embedding's, counted once there). ``trainer.layer_lr_decay`` gives each its own rate and
        ``trainer.gradual_unfreezing`` unfreezes them top down: ULMFiT's language-model fine-tuning."""
        below = [*self.embedding.parameters(), *(self.condition.parameters() if self.condition else ()),
                 *(self.bridge.parameters() if self.bridge else ())]
        layers = [list(layer.parameters()) for layer in self.layers]
        seen = {id(param) for group in (below, *layers) for param in group}
        top = [param for param in self.parameters() if id(param) not in seen]
        return [below, *layers, top]

    # ------------------------------------------------------------------------------ state
    def initial_state(self, batch_size: int, condition: torch.Tensor | None = None) -> LayerStates | None:
        """The state a sequence starts from: None (zeros) without a condition, else the bridge's
        output for ``condition [B]`` (ids)."""
        if self.bridge is None or condition is None:
            return None
        flat = torch.tanh(self.bridge(self.condition(condition)))  # [B, parts * L * H]
        parts = 2 if self.rnn_type == "lstm" else 1
        pieces = flat.view(batch_size, len(self.layers), parts, self.hidden_size)
        states: LayerStates = []
        for layer in range(len(self.layers)):
            h = pieces[:, layer, 0].unsqueeze(0).contiguous()
            states.append((h, pieces[:, layer, 1].unsqueeze(0).contiguous()) if parts == 2 else h)
        return states

    @staticmethod
    def detach_state(state: LayerStates | None) -> LayerStates | None:
        if state is None:
            return None
        return [tuple(s.detach() for s in layer) if isinstance(layer, tuple) else layer.detach()
                for layer in state]

    @staticmethod
    def select_state(state: LayerStates, index: torch.Tensor) -> LayerStates:
        """Rows ``index [N]`` of every layer's state (batch is dim 1): beam reordering, sample fan-out."""
        return [tuple(s.index_select(1, index) for s in layer) if isinstance(layer, tuple)
                else layer.index_select(1, index) for layer in state]

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        # Checkpoints from before the shared TokenEmbedding hold the matrix as ``embedding.weight``; the
        # children load after this call, from the same dict, so renaming the key here is enough.
        old = prefix + "embedding.weight"
        if old in state_dict:
            state_dict[prefix + "embedding.embedding.weight"] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def get_extra_state(self) -> dict:
        return {"carried": self.carried}

    def set_extra_state(self, state: dict) -> None:
        carried = state.get("carried")
        self.carried = [tuple(layer) if isinstance(layer, list | tuple) else layer
                        for layer in carried] if carried is not None else None

    # ------------------------------------------------------------------------------ forward
    def score(self, input_ids: torch.Tensor, state: LayerStates | None = None,
              condition: torch.Tensor | None = None, lengths: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, LayerStates]:
        """``input_ids [B, T]`` from ``state`` -> (``logits [B, T, V]``, the state after the last token).

        ``condition [B]`` (ids) feeds every step when the model was built so; the initial state from a
        condition comes from :meth:`initial_state`. ``lengths [B]`` marks right padding: the returned
        state is then each row's state after its last real token.
        """
        x, new_state = self._features(input_ids, state, condition, lengths)
        return self._logits(x, padded=False), new_state

    def _features(self, input_ids: torch.Tensor, state: LayerStates | None,
                  condition: torch.Tensor | None, lengths: torch.Tensor | None
                  ) -> tuple[torch.Tensor, LayerStates]:
        """The output layer's input ``[B, T, E]`` and the state after the last token."""
        x = self.input_dropout(self.embedding(input_ids))
        if self.condition_every_step:
            if condition is None:
                raise ValueError("this model was trained with a condition at every step; give one")
            cond = self.condition(condition)[:, None, :].expand(-1, x.size(1), -1)
            x = torch.cat([x, cond], dim=-1)
        new_state: LayerStates = []
        for index, layer in enumerate(self.layers):
            if index > 0:
                x = self.between_dropout(x)
            out = layer(x, lengths, None if state is None else state[index])
            x = out.outputs
            new_state.append(out.state)
        x = self.output_dropout(x)
        if self.projection is not None:
            x = self.projection(x)
        return x, new_state

    def _logits(self, x: torch.Tensor, padded: bool) -> torch.Tensor:
        """``x [B, T, E]`` -> ``logits [B, T, V]``, or ``[B, T, padded_vocab]`` (extra columns -inf).

        Padding copies the (possibly tied) matrix, and its gradient flows back into the real rows: it
        pays on a training window's thousand rows, not on a generation step's few, so only training
        pads."""
        weight, bias = self.output.weight, self.output.bias
        extra = self.padded_vocab - self.vocab_size if padded else 0
        if not extra:
            return F.linear(x, weight, bias + self.never_bias[:self.vocab_size])
        return F.linear(x, F.pad(weight, (0, 0, 0, extra)), F.pad(bias, (0, extra)) + self.never_bias)

    def forward(self, batch: dict[str, torch.Tensor]) -> LMOutput:
        """Training on a window (stream) or on padded documents: summed cross-entropy over targets
        (``targets [B, T]``, -100 where nothing is predicted)."""
        input_ids, targets = batch["input_ids"], batch["targets"]
        condition = batch.get("condition")
        if bool(batch["reset"]) or self.carried is None:
            state = self.initial_state(input_ids.size(0), condition)
        else:
            state = self.carried
        x, new_state = self._features(input_ids, state, condition, batch.get("lengths"))
        logits = self._logits(x, padded=True)
        # Detached: gradients stop at the window edge (truncated BPTT).
        self.carried = self.detach_state(new_state)
        loss = summed_cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))
        return LMOutput(loss, (targets != -100).sum())
