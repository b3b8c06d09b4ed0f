"""A batched linear-chain conditional random field over per-token tag scores.

The score of a tag path ``y`` for one sequence of length ``n`` with emissions ``e [n, K]`` is::

    start[y_0] + e[0, y_0] + sum_{t=1}^{n-1} (transitions[y_{t-1}, y_t] + e[t, y_t]) + end[y_{n-1}]

and its probability is ``exp(score - log Z)``, ``log Z`` summing over all ``K ** n`` paths.

Loss and decoding are kept apart: :meth:`CRF.log_likelihood` returns one value per sequence and the
caller reduces it (``loss = -crf.log_likelihood(...).sum() / num_sequences``); :meth:`CRF.decode` is
a separate no-grad Viterbi search.

Masks are right-padded, ``[B, T]`` bool with a True prefix of each row's length (at least 1). Values
at padded positions, in emissions and tags alike, never change a result.

All arithmetic runs in fp32 with autocast switched off: the forward algorithm sums exponentials over
time, and in bf16 its 8-bit mantissa would lose whole nats of the partition function.
"""

from __future__ import annotations

import torch
from torch import nn

# Score given to an illegal move. Finite, unlike -inf, so that a row whose paths all take one (or a
# logsumexp over nothing but such moves) gives a very negative number instead of NaN; exp(-1e4)
# underflows to 0 in fp32, so illegal paths have zero probability. Constraints hold as long as
# emission differences stay far below 1e4.
ILLEGAL_SCORE = -1e4


class CRF(nn.Module):
    """Linear-chain CRF with learned transition, start and end scores, and optional hard constraints.

    Args:
        num_tags: number of tags ``K``.
        allowed_transitions: bool ``[K, K]``, True where tag ``j`` may follow tag ``i``; ``None``
            allows all. :func:`nlpseq.schemes.allowed_transitions` builds these three masks.
        allowed_start: bool ``[K]``, True where a sequence may start with the tag; ``None`` allows all.
        allowed_end: bool ``[K]``, True where a sequence may end with the tag; ``None`` allows all.

    The masks are non-persistent buffers: they follow the module across devices but stay out of the
    state dict, because they are a function of the label vocabulary and scheme, which the run folder
    already stores; the state dict holds learned scores only.
    """

    def __init__(
        self,
        num_tags: int,
        allowed_transitions: torch.Tensor | None = None,
        allowed_start: torch.Tensor | None = None,
        allowed_end: torch.Tensor | None = None,
    ):
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be at least 1, got {num_tags}")
        self.num_tags = num_tags
        # Zeros are a fine start: the CRF is log-linear in these scores, so there is no symmetry to
        # break, and zero means "no preference" until the data says otherwise.
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))
        masks = {
            "allowed_transitions": (allowed_transitions, (num_tags, num_tags)),
            "allowed_start": (allowed_start, (num_tags,)),
            "allowed_end": (allowed_end, (num_tags,)),
        }
        for name, (allowed, shape) in masks.items():
            if allowed is None:
                allowed = torch.ones(shape, dtype=torch.bool)
            if allowed.dtype != torch.bool or tuple(allowed.shape) != shape:
                raise ValueError(
                    f"{name} must be a bool tensor of shape {list(shape)}, "
                    f"got {allowed.dtype} {list(allowed.shape)}"
                )
            self.register_buffer(name, allowed.clone(), persistent=False)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Transition ``[K, K]``, start ``[K]`` and end ``[K]`` scores with illegal moves filled in.

        Filled rather than added, so an illegal score is exactly ``ILLEGAL_SCORE`` however large its
        parameter grows, and its parameter gets no gradient.
        """
        return (
            self.transitions.float().masked_fill(~self.allowed_transitions, ILLEGAL_SCORE),
            self.start_transitions.float().masked_fill(~self.allowed_start, ILLEGAL_SCORE),
            self.end_transitions.float().masked_fill(~self.allowed_end, ILLEGAL_SCORE),
        )

    def _prepare(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Check shapes; return fp32 emissions ``[B, T, K]`` with padding zeroed, and a bool mask.

        Zeroing padded emissions keeps NaN or inf garbage there out of the gradient too (a ``where``
        that drops a value in the forward pass still multiplies its NaN by zero going backward).
        """
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(f"emissions must be [B, T, {self.num_tags}], got {list(emissions.shape)}")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask must be {list(emissions.shape[:2])}, got {list(mask.shape)}")
        if emissions.shape[1] == 0:
            raise ValueError("sequences must have at least one position")
        mask = mask.bool()
        return emissions.float().masked_fill(~mask.unsqueeze(2), 0.0), mask

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Log of the sum of ``exp(score)`` over all tag paths, by the forward algorithm.

        Args:
            emissions: ``[B, T, K]`` tag scores per position (any float dtype).
            mask: ``[B, T]`` bool, right-padded.

        Returns:
            ``[B]`` fp32 ``log Z``.
        """
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            emissions, mask = self._prepare(emissions, mask)
            transitions, start, end = self._scores()
            # alpha[b, j]: log-sum of the scores of all paths over positions 0..t that end in tag j.
            alpha = start + emissions[:, 0]  # [B, K]
            for t in range(1, emissions.shape[1]):
                # [B, K_from, 1] + [K_from, K_to] -> sum out K_from.
                step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
                # Past a row's end alpha stays frozen, so it holds the last real position's value.
                alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
            return torch.logsumexp(alpha + end, dim=1)

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of the given tag path, illegal moves included at ``ILLEGAL_SCORE``.

        Args:
            emissions: ``[B, T, K]``.
            tags: ``[B, T]`` long; values at padded positions are ignored (``-100`` is fine).
            mask: ``[B, T]`` bool, right-padded.

        Returns:
            ``[B]`` fp32. A gold path that breaks the constraints scores about ``-1e4``; convert data
            to the canonical scheme (:func:`nlpseq.schemes.convert`) before training.
        """
        if tags.shape != mask.shape:
            raise ValueError(f"tags must be {list(mask.shape)}, got {list(tags.shape)}")
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            emissions, mask = self._prepare(emissions, mask)
            transitions, start, end = self._scores()
            tags = tags.masked_fill(~mask, 0)  # any in-range index; padded terms are dropped below
            emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # [B, T], 0 at padding
            moved = transitions[tags[:, :-1], tags[:, 1:]]  # [B, T-1], move into position t
            moved = torch.where(mask[:, 1:], moved, torch.zeros_like(moved))
            last = mask.sum(dim=1) - 1  # [B] index of each row's last real position
            last_tags = tags.gather(1, last.unsqueeze(1)).squeeze(1)
            return start[tags[:, 0]] + emitted.sum(dim=1) + moved.sum(dim=1) + end[last_tags]

    def log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``log p(tags | emissions)``, ``[B]`` fp32, each ``<= 0``. Shapes as in :meth:`score`."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`log_likelihood`; unreduced, the caller picks the loss normalisation."""
        return self.log_likelihood(emissions, tags, mask)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tag path per row by Viterbi.

        Args:
            emissions: ``[B, T, K]``.
            mask: ``[B, T]`` bool, right-padded.

        Returns:
            ``[B, T]`` long tag indices, 0 at padded positions (see :meth:`decode_lists` for
            per-row lists trimmed to length).
        """
        with torch.autocast(device_type=emissions.device.type, enabled=False):
            emissions, mask = self._prepare(emissions, mask)
            transitions, start, end = self._scores()
            length = emissions.shape[1]
            best = start + emissions[:, 0]  # [B, K] best score of a path ending in each tag
            # backpointers[t - 1][b, j]: best tag at t - 1 given tag j at t.
            backpointers = []
            for t in range(1, length):
                step, pointer = (best.unsqueeze(2) + transitions).max(dim=1)  # over K_from
                best = torch.where(mask[:, t].unsqueeze(1), step + emissions[:, t], best)
                backpointers.append(pointer)
            last = mask.sum(dim=1) - 1  # [B]
            tag = (best + end).argmax(dim=1)  # [B] best tag at each row's last position
            path = [tag]
            # Walk back from T - 1. A row holds its final tag until t reaches its own last position,
            # and follows pointers only below it, so padded pointers are never read.
            for t in range(length - 2, -1, -1):
                previous = backpointers[t].gather(1, tag.unsqueeze(1)).squeeze(1)
                tag = torch.where(t < last, previous, tag)
                path.append(tag)
            path.reverse()
            return torch.stack(path, dim=1).masked_fill(~mask, 0)

    def decode_lists(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """:meth:`decode` as Python lists, row ``b`` trimmed to its length ``mask[b].sum()``."""
        paths = self.decode(emissions, mask).tolist()
        lengths = mask.sum(dim=1).tolist()
        return [path[:n] for path, n in zip(paths, lengths, strict=True)]
