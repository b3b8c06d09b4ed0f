"""Length-bucketed batches under a token budget, and padding collation.

Bucketing keeps padding small without giving up randomness::

    shuffled examples   | 7 2 9 4 1 8 3 6 5 ... |            (seeded by seed + epoch)
    pools of P examples | 7 2 9 4 1 8 | 3 6 5 ... |
    sort each pool      | 1 2 4 7 8 9 | 3 5 6 ... |          (by length)
    cut under budget    | [1 2 4] [7 8] [9] | [3 5] [6] ... |  rows x longest row <= batch_tokens
    shuffle the batches | [7 8] [3 5] [1 2 4] [6] [9] ... |

Under torchrun every rank builds the same batch list (same seed), and rank r takes batches
r, r + W, r + 2W, ... (W = world size), the contract of ``DistributedSampler`` applied to batches, so
each rank sees a different, equally long share of every epoch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from nlpseq.distributed import rank_and_world


class TokenBudgetBatchSampler(Sampler[list[int]]):
    """Yields lists of dataset indices whose padded size stays within ``batch_tokens``.

    Args:
        lengths: length of each example (in the unit the model pays for, e.g. tokens).
        batch_tokens: budget per batch, counted as rows x longest row (padding included).
        max_batch_size: cap on rows per batch.
        shuffle: training order (pools, as above) or evaluation order (sorted by length).
        seed: base seed; the order of epoch e uses ``seed + e``.
        pool_batches: pool size in batches of ``max_batch_size`` rows; larger pools mean less
            padding and less randomness.
        num_replicas, rank: the distributed share; default from ``torch.distributed``.
        even_shares: pad the batch list (repeating its first batches) so every rank gets the same
            number of batches, as DDP training needs; evaluation sets False and de-duplicates.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_tokens: int,
        max_batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 50,
        num_replicas: int | None = None,
        rank: int | None = None,
        even_shares: bool = True,
    ):
        if batch_tokens < 1 or max_batch_size < 1:
            raise ValueError("batch_tokens and max_batch_size must be positive")
        default_rank, default_world = rank_and_world()
        self.lengths = [max(1, int(n)) for n in lengths]
        self.batch_tokens = batch_tokens
        self.max_batch_size = max_batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_size = max(1, pool_batches) * max_batch_size
        self.num_replicas = default_world if num_replicas is None else num_replicas
        self.rank = default_rank if rank is None else rank
        self.even_shares = even_shares
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the order of ``epoch``; ``skip`` drops its first batches (resuming mid-epoch)."""
        self.epoch = epoch
        self.skip = skip

    def _cut(self, indices: list[int]) -> list[list[int]]:
        """Greedily cut length-sorted ``indices`` into batches under the budget."""
        batches: list[list[int]] = []
        batch: list[int] = []
        longest = 0
        for index in indices:
            length = self.lengths[index]
            grown = max(longest, length)
            if batch and (grown * (len(batch) + 1) > self.batch_tokens or len(batch) >= self.max_batch_size):
                batches.append(batch)
                batch, grown = [], length
            batch.append(index)
            longest = grown
        if batch:
            batches.append(batch)
        return batches

    def all_batches(self) -> list[list[int]]:
        """Every batch of the current epoch, for all ranks, in order."""
        if not self.shuffle:
            order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], i))
            return self._cut(order)
        rng = random.Random(self.seed + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        batches: list[list[int]] = []
        for start in range(0, len(order), self.pool_size):
            pool = sorted(order[start:start + self.pool_size], key=lambda i: self.lengths[i])
            batches.extend(self._cut(pool))
        rng.shuffle(batches)
        return batches

    def _share(self) -> list[list[int]]:
        batches = self.all_batches()
        if self.num_replicas > 1:
            if self.even_shares and batches:
                extra = math.ceil(len(batches) / self.num_replicas) * self.num_replicas - len(batches)
                # Cycle through the list: fewer batches than ranks still gives every rank one.
                batches = batches + (batches * math.ceil(extra / len(batches)))[:extra]
            batches = batches[self.rank::self.num_replicas]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._share()
        yield from batches[self.skip:]

    def __len__(self) -> int:
        return max(0, len(self._share()) - self.skip)

    def padding_share(self) -> float:
        """Fraction of padded slots that are padding, over this epoch's batches."""
        real = padded = 0
        for batch in self.all_batches():
            lengths = [self.lengths[i] for i in batch]
            real += sum(lengths)
            padded += max(lengths) * len(lengths)
        return 1.0 - real / padded if padded else 0.0


def pad(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> torch.Tensor:
    """Right-pad id lists into a LongTensor ``[B, T]`` (T = longest row)."""
    width = max((len(s) for s in sequences), default=0)
    out = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        out[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return out


def lengths_and_mask(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Lengths ``[B]`` and a bool mask ``[B, T]`` that is True on real (non-pad) positions."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = int(lengths.max()) if len(lengths) else 0
    mask = torch.arange(width)[None, :] < lengths[:, None]
    return lengths, mask
