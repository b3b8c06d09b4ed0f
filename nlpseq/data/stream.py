"""Language-model batching: a whole split as one token stream, cut into columns and BPTT windows.

The stream (every line's ids followed by ``</s>``, lines in file order) is cut into ``batch_size``
contiguous columns; the tail that does not fill a whole row is dropped. With the ids 0..25 and
``batch_size=4`` (pytorch/examples' ``batchify``, here batch-first)::

    stream  a b c d e f | g h i j k l | m n o p q r | s t u v w x | y z      (y z dropped)

    column 0: a b c d e f        window 1 (bptt=2)     window 2          window 3
    column 1: g h i j k l        inputs  targets       inputs  targets   inputs  targets
    column 2: m n o p q r        a b     b c           c d     d e       e       f
    column 3: s t u v w x        g h     h i           i j     j k       k       l
                                 m n     n o           o p     p q       q       r
                                 s t     t u           u v     v w       w       x

Row ``b`` of every window continues row ``b`` of the previous one, so the model carries its hidden
state from window to window (detached: gradients stop at the window edge, truncated BPTT). A column's
first token is never a target, so ``batch_size * (column_length - 1)`` tokens are predicted per pass.

Randomised BPTT (AWD-LSTM, Merity et al. 2017): each window's length is drawn as
``max(min_length, round(N(base, 5)))`` with ``base = bptt`` with probability 0.95, else ``bptt / 2``,
from a generator seeded with ``seed + epoch``, so ``set_epoch(epoch, skip)`` replays the same windows.

Under torchrun each rank takes its own contiguous block of ``batch_size`` columns out of
``batch_size * world`` (rank r: columns ``r*B .. r*B+B-1``), so every rank's rows stay continuous
streams; all ranks draw the same window lengths and so take the same number of steps.

A lower layer: imports torch and nlpseq.distributed only (never training or tasks).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from nlpseq.distributed import rank_and_world


def batchify(ids: torch.Tensor, columns: int) -> torch.Tensor:
    """``ids [N]`` -> ``[columns, N // columns]``: contiguous columns, the remainder dropped."""
    if ids.dim() != 1:
        raise ValueError(f"expected a 1-D id stream, got shape {tuple(ids.shape)}")
    length = ids.numel() // columns
    if length < 2:
        raise ValueError(f"a stream of {ids.numel()} tokens is too short for {columns} columns of at "
                         "least 2 tokens")
    return ids[: columns * length].view(columns, length)


def window_lengths(total: int, bptt: int, random_length: bool = False, seed: int = 0,
                   min_length: int = 5) -> list[int]:
    """Window lengths covering ``total`` prediction positions (column length - 1).

    Fixed: ``bptt`` each, the last one shorter. Random: see the module docstring; never longer than
    what is left, nor than ``bptt + 20`` (so one unlucky draw cannot blow up memory).
    """
    if bptt < 1:
        raise ValueError(f"bptt must be positive, got {bptt}")
    lengths: list[int] = []
    generator = torch.Generator().manual_seed(seed)
    position = 0
    while position < total:
        if random_length:
            draws = torch.rand(2, generator=generator)
            base = bptt if draws[0].item() < 0.95 else bptt / 2
            normal = torch.randn(1, generator=generator).item()
            length = min(bptt + 20, max(min_length, round(base + 5 * normal)))
        else:
            length = bptt
        length = min(length, total - position)
        lengths.append(length)
        position += length
    return lengths


class StreamBatches:
    """BPTT windows of one id stream: the trainer's TrainingBatches, and the evaluation order.

    Args:
        ids: the whole split as ``[N]`` token ids.
        batch_size: columns per rank.
        bptt: window length (the mean when ``random_length``).
        random_length: AWD-LSTM's randomised window lengths (training only).
        seed: base seed of the random lengths; epoch ``e`` uses ``seed + e``.
        rank, world: this rank's block of columns; default from ``torch.distributed``.

    Batches: ``input_ids [B, T]``, ``targets [B, T]`` (the next token of each input), ``num_tokens``
    (``B * T``, a 0-dim tensor) and ``reset`` (a 0-dim bool tensor, true on an epoch's first window:
    the model starts its carried state afresh).
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, bptt: int, random_length: bool = False,
                 seed: int = 0, rank: int | None = None, world: int | None = None):
        default_rank, default_world = rank_and_world()
        rank = default_rank if rank is None else rank
        world = default_world if world is None else world
        everything = batchify(ids.long(), batch_size * world)
        self.data = everything[rank * batch_size:(rank + 1) * batch_size].contiguous()
        self.batch_size = batch_size
        self.bptt = bptt
        self.random_length = random_length
        self.seed = seed
        self.epoch = 0
        self.skip = 0
        self.lengths = self._lengths(0)

    def _lengths(self, epoch: int) -> list[int]:
        return window_lengths(self.data.size(1) - 1, self.bptt, self.random_length, self.seed + epoch)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip
        self.lengths = self._lengths(epoch)

    def __len__(self) -> int:
        return max(0, len(self.lengths) - self.skip)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        position = 0
        for index, length in enumerate(self.lengths):
            if index >= self.skip:
                yield {"input_ids": self.data[:, position:position + length],
                       "targets": self.data[:, position + 1:position + 1 + length],
                       "num_tokens": torch.tensor(self.batch_size * length),
                       "reset": torch.tensor(index == 0)}
            position += length

    @property
    def num_targets(self) -> int:
        """Tokens predicted in one pass over this rank's columns."""
        return self.data.size(0) * (self.data.size(1) - 1)

    def statistics(self) -> dict[str, float]:
        return {"stream_columns": self.batch_size, "column_length": self.data.size(1),
                "windows_per_epoch": len(self.lengths)}
