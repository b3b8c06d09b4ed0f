"""The trainer's data contract: what it iterates, whatever the task."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

Batch = dict[str, Any]


@runtime_checkable
class TrainingBatches(Protocol):
    """What the trainer iterates: an epoch of batches, re-playable exactly for resuming.

    Every batch is a dict of tensors with at least ``num_tokens`` (a 0-dim tensor: the input tokens it
    holds, for throughput). Under torchrun each rank's object yields that rank's share.

    A model that carries state from one batch to the next (a language model's hidden state across
    BPTT windows) keeps the state itself and saves it through ``nn.Module.get_extra_state``, so it is
    in every checkpoint; its batches say when to start afresh. No special case here: ``set_epoch``
    with ``skip`` plus the restored weights and state reproduce an uninterrupted run exactly.
    """

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select epoch ``epoch``'s order (seeded) and drop its first ``skip`` batches (resuming)."""
        ...

    def __len__(self) -> int:
        """Batches this rank will yield for the current epoch, after the skipped ones."""
        ...

    def __iter__(self) -> Iterator[Batch]: ...

    def statistics(self) -> dict[str, float]:
        """Plain numbers about the batches for ``results.json`` (e.g. ``padding_share``); may be empty."""
        ...
