"""The raw-kernel baseline: a plain ``nn.LSTM``/``nn.GRU`` of the model's sizes on the pipeline's shapes.

The ceiling no pipeline can beat is the fused RNN kernel itself (ATen on CPU, cuDNN on a GPU): forward
and backward on ready tensors, then an optimizer step. To compare like with like, the baseline is built
from the recurrent modules found inside the pipeline's model (:func:`kernel_layers`) and replays the
``[B, T]`` shapes of the very batches the pipeline trained on, recorded by :class:`RecordingBatches`.

Which shape each RNN reads::

    module in the model                 baseline                       shape replayed
    encoder.rnn  nn.GRU/LSTM            same sizes, fused              input_ids   [B, S]
    layers.K.rnn one-layer, stacked     one fused multi-layer RNN      input_ids   [B, T]
    decoder.cells.K  GRU/LSTMCell loop  one fused (multi-layer) RNN    target_in   [B, T]
    *chars*  nn.LSTM over characters    same sizes, fused              chars       [B * T, W]

A stack of one-layer RNNs (the language model's) reads as one multi-layer kernel when each layer's
input is the previous one's output; a decoder's step loop of cells reads as the fused RNN it would be
without attention in the loop, which is exactly the cost of that loop the ratio should show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from nlpseq.config import TrainerConfig
from nlpseq.tokenizers import PAD_ID
from nlpseq.training.device import Precision
from nlpseq.training.optim import build_optimizer

# Batch keys whose [B, T] a recurrent module reads (see the module docstring).
SOURCE_KEY, TARGET_KEY, CHARS_KEY = "input_ids", "target_in", "chars"


@dataclass(frozen=True)
class KernelLayer:
    """One fused RNN of the baseline, sized as a recurrent part of the pipeline's model."""

    # "lstm" or "gru".
    rnn_type: str
    # Features per time step going in.
    input_size: int
    # State size per layer and direction.
    hidden_size: int
    # Stacked layers (one-layer modules of the model merged, see merge_stacked).
    num_layers: int
    # Reads both directions (outputs 2 x hidden_size).
    bidirectional: bool
    # The batch key whose shape this RNN runs over.
    shape_key: str
    # The model's module(s) it stands for, for the report.
    modules: tuple[str, ...] = ()

    @property
    def output_size(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)

    def build(self) -> nn.RNNBase:
        rnn_class = nn.LSTM if self.rnn_type == "lstm" else nn.GRU
        return rnn_class(self.input_size, self.hidden_size, num_layers=self.num_layers, batch_first=True,
                         bidirectional=self.bidirectional)


def _shape_key(name: str) -> str:
    if "char" in name:
        return CHARS_KEY
    return TARGET_KEY if name.split(".")[0] == "decoder" else SOURCE_KEY


def kernel_layers(model: nn.Module) -> list[KernelLayer]:
    """The recurrent modules of ``model`` as baseline layers, in module order, stacks merged.

    ``nn.LSTM``/``nn.GRU`` keep their sizes; an ``nn.LSTMCell``/``nn.GRUCell`` (a decoder's step loop)
    becomes a one-layer unidirectional RNN of the cell's sizes. A model without any is a ValueError."""
    found: list[KernelLayer] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.LSTM | nn.GRU):
            rnn_type = "lstm" if isinstance(module, nn.LSTM) else "gru"
            found.append(KernelLayer(rnn_type, module.input_size, module.hidden_size, module.num_layers,
                                     module.bidirectional, _shape_key(name), (name,)))
        elif isinstance(module, nn.LSTMCell | nn.GRUCell):
            rnn_type = "lstm" if isinstance(module, nn.LSTMCell) else "gru"
            found.append(KernelLayer(rnn_type, module.input_size, module.hidden_size, 1, False,
                                     _shape_key(name), (name,)))
    if not found:
        raise ValueError(f"{type(model).__name__} has no nn.LSTM/nn.GRU or cell to measure against")
    return merge_stacked(found)


def merge_stacked(layers: list[KernelLayer]) -> list[KernelLayer]:
    """Merge consecutive layers that a fused multi-layer RNN computes in one call: same cell type,
    direction, hidden size and shape, each input the previous output."""
    merged: list[KernelLayer] = []
    for layer in layers:
        last = merged[-1] if merged else None
        if (last is not None and last.rnn_type == layer.rnn_type and last.shape_key == layer.shape_key
                and last.bidirectional == layer.bidirectional and last.hidden_size == layer.hidden_size
                and layer.input_size == last.output_size):
            merged[-1] = replace(last, num_layers=last.num_layers + layer.num_layers,
                                 modules=last.modules + layer.modules)
        else:
            merged.append(layer)
    return merged


@dataclass
class BatchRecord:
    """What the baseline needs from one pipeline batch, read on the host before it moves."""

    # batch key -> (rows, time steps) of the sequences an RNN reads.
    shapes: dict[str, tuple[int, int]]
    # The batch's num_tokens (what tokens/s counts, as the trainer does).
    tokens: int
    # batch key -> (real, all) slots of the sequences an RNN reads on that side: each side is padded
    # to its own longest row (a translation batch's source and target separately).
    sides: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def real(self) -> int:
        return sum(real for real, _ in self.sides.values())

    @property
    def slots(self) -> int:
        return sum(slots for _, slots in self.sides.values())


def record_batch(batch: dict[str, Any]) -> BatchRecord:
    """The shapes and padding of one collated batch (CPU tensors).

    Source side: ``lengths [B]`` against ``input_ids [B, S]`` (no lengths: a stream window, no
    padding). Target side: ``target_out`` non-PAD slots against ``target_in [B, T]``."""
    ids = batch[SOURCE_KEY]
    shapes = {SOURCE_KEY: (int(ids.size(0)), int(ids.size(1)))}
    real = int(batch["lengths"].sum()) if "lengths" in batch else ids.numel()
    sides = {SOURCE_KEY: (real, ids.numel())}
    if TARGET_KEY in batch:
        target = batch[TARGET_KEY]
        shapes[TARGET_KEY] = (int(target.size(0)), int(target.size(1)))
        gold = batch.get("target_out", target)
        sides[TARGET_KEY] = (int((gold != PAD_ID).sum()), target.numel())
    if CHARS_KEY in batch:
        chars = batch[CHARS_KEY]  # [B, T, W]
        shapes[CHARS_KEY] = (int(chars.size(0) * chars.size(1)), int(chars.size(2)))
    return BatchRecord(shapes, int(batch["num_tokens"]), sides)


@dataclass
class RecordingBatches:
    """A :class:`~nlpseq.training.batches.TrainingBatches` that passes the task's batches through and
    keeps a :class:`BatchRecord` of each one yielded; :meth:`take` hands over those since the last call."""

    inner: Any
    records: list[BatchRecord] = field(default_factory=list)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.inner.set_epoch(epoch, skip)

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.inner:
            self.records.append(record_batch(batch))
            yield batch

    def statistics(self) -> dict[str, float]:
        return self.inner.statistics()

    def take(self) -> list[BatchRecord]:
        taken, self.records = self.records, []
        return taken


class RawKernel:
    """The baseline's RNNs, an optimizer over them and ready random inputs, on ``device``.

    :meth:`step` runs one recorded batch: each RNN forward on a ``[B, T, input_size]`` view of a
    preallocated random buffer (contiguous, so no copy; it requires grad, as the embedding's output
    does in the pipeline), the sum of all outputs backward, one optimizer step of the recipe's kind.
    """

    def __init__(self, layers: list[KernelLayer], trainer: TrainerConfig, device: torch.device,
                 records: list[BatchRecord]):
        self.layers = layers
        self.device = device
        self.rnns = nn.ModuleList(layer.build() for layer in layers).to(device)
        self.optimizer = build_optimizer(self.rnns, trainer)
        self.precision = Precision.choose(trainer.precision, device)
        self.buffers = [torch.empty(0, device=device) for _ in layers]
        self.grow(records)

    @staticmethod
    def _size(layer: KernelLayer, records: list[BatchRecord]) -> int:
        """Input elements of the largest ``B * T`` this layer will see in ``records``."""
        shapes = [r.shapes.get(layer.shape_key, r.shapes[SOURCE_KEY]) for r in records]
        return max((rows * steps for rows, steps in shapes), default=1) * layer.input_size

    def grow(self, records: list[BatchRecord]) -> None:
        """Make the random input buffers large enough for ``records`` (a later round may bring longer
        batches); call it before the clock starts: drawing random numbers is not the kernel's work."""
        for index, layer in enumerate(self.layers):
            size = self._size(layer, records)
            if size > self.buffers[index].numel():
                self.buffers[index] = torch.randn(size, device=self.device)

    def step(self, record: BatchRecord) -> None:
        total = torch.zeros((), device=self.device)
        with self.precision.autocast(self.device):
            for layer, rnn, buffer in zip(self.layers, self.rnns, self.buffers, strict=True):
                rows, steps = record.shapes.get(layer.shape_key, record.shapes[SOURCE_KEY])
                inputs = buffer[: rows * steps * layer.input_size].view(rows, steps, layer.input_size)
                outputs, _ = rnn(inputs.detach().requires_grad_())
                total = total + outputs.float().sum()
        total.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def run(self, records: list[BatchRecord]) -> None:
        """Replay every record once, in order (after :meth:`grow` for them)."""
        for record in records:
            self.step(record)
