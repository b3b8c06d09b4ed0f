"""Greedy and beam search over a whole batch in tensors: B sentences x K hypotheses at once.

Hypotheses are laid out sentence-major (hypothesis ``n`` = sentence ``n // K``, beam ``n % K``), so
attention reads the encoder states of a sentence through a ``[B, K, ...]`` view (see
:mod:`nlpseq.models.attention`) and they are never copied per beam; only the small decoder state is.

Beam search keeps finished hypotheses in the beam: a hypothesis that wrote EOS can only extend by PAD
at log-probability 0, so it keeps its score and length and competes with the live ones. Candidates are
ranked by the GNMT length-penalised score ``log p / ((5 + |y|) / 6) ** alpha`` (Wu et al. 2016, |y|
counting EOS), with alpha = 0 the plain log-probability. Each sentence stops at
``max_length = ratio * source length + constant`` tokens (EOS forced there). Nothing couples two
sentences of a batch, so a sentence gets the same output whatever batch it is decoded in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from nlpseq.models.decoder import DecoderState, Memory
from nlpseq.tokenizers import BOS_ID, EOS_ID, PAD_ID


class StepModel(Protocol):
    def decode_step(self, previous: torch.Tensor, state: DecoderState, memory: Memory
                    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]: ...


@dataclass
class Hypothesis:
    """One output: target ids (no BOS/EOS), summed log-probability, penalised score, attention
    ``[len(tokens) + 1, S]`` (EOS row included; None unless asked for)."""

    tokens: list[int]
    log_prob: float
    score: float
    attention: torch.Tensor | None = None


def length_penalty(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT: ``((5 + length) / 6) ** alpha``."""
    return ((5.0 + lengths.float()) / 6.0) ** alpha


def max_lengths(source_lengths: torch.Tensor, ratio: float, constant: int) -> torch.Tensor:
    """Most target tokens (EOS included) per sentence: ``floor(ratio * source length) + constant``."""
    return (source_lengths.float() * ratio).floor().long() + constant


def _only(log_probs: torch.Tensor, rows: torch.Tensor, token: int) -> torch.Tensor:
    """Rows selected by ``rows`` (a bool mask broadcastable to ``log_probs[..., :1]``) may only write
    ``token``: every other entry becomes -inf (``token``'s own value is kept)."""
    vocab = torch.arange(log_probs.size(-1), device=log_probs.device)
    return log_probs.masked_fill(rows & (vocab != token), float("-inf"))


@torch.no_grad()
def greedy_search(model: StepModel, memory: Memory, state: DecoderState, limits: torch.Tensor,
                  return_attention: bool = False) -> list[Hypothesis]:
    """Most probable next token at every step, for B sentences at once; ``limits [B]`` from
    :func:`max_lengths`."""
    batch = memory.values.size(0)
    device = memory.values.device
    previous = torch.full((batch,), BOS_ID, dtype=torch.long, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    scores = torch.zeros(batch, device=device)
    tokens, weights = [], []
    for position in range(int(limits.max())):
        log_probs, state, attention = model.decode_step(previous, state, memory)
        log_probs = _only(log_probs, (position + 1 >= limits).unsqueeze(1), EOS_ID)
        chosen = log_probs.argmax(-1)
        chosen = chosen.masked_fill(finished, PAD_ID)
        scores += log_probs.gather(1, chosen.unsqueeze(1)).squeeze(1).masked_fill(finished, 0.0)
        tokens.append(chosen)
        weights.append(attention)
        finished |= chosen == EOS_ID
        previous = chosen
        if bool(finished.all()):
            break
    ids = torch.stack(tokens, 1).tolist()
    stacked = torch.stack(weights, 1) if return_attention else None
    results = []
    for row in range(batch):
        out = _trim(ids[row])
        log_prob = float(scores[row])
        attention = stacked[row, : len(out) + 1, : int(memory.lengths[row])] if stacked is not None else None
        results.append(Hypothesis(out, log_prob, log_prob, attention))
    return results


def _trim(ids: list[int]) -> list[int]:
    return ids[: ids.index(EOS_ID)] if EOS_ID in ids else [i for i in ids if i != PAD_ID]


@torch.no_grad()
def beam_search(model: StepModel, memory: Memory, state: DecoderState, limits: torch.Tensor, beam_size: int,
                alpha: float = 0.0, n_best: int = 1, return_attention: bool = False
                ) -> list[list[Hypothesis]]:
    """The ``n_best`` highest-scoring hypotheses of each of B sentences, best first.

    ``state`` holds one row per sentence (from the encoder); ``limits [B]`` from :func:`max_lengths`.
    """
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be between 1 and the beam size {beam_size}, got {n_best}")
    batch, width = memory.values.size(0), beam_size
    device = memory.values.device
    offsets = torch.arange(batch, device=device).unsqueeze(1) * width  # [B, 1]
    state = state.select(torch.arange(batch, device=device).repeat_interleave(width))
    previous = torch.full((batch * width,), BOS_ID, dtype=torch.long, device=device)
    scores = torch.full((batch, width), float("-inf"), device=device)
    scores[:, 0] = 0.0  # the K copies of the start are one hypothesis: only one may extend
    lengths = torch.zeros(batch, width, dtype=torch.long, device=device)
    finished = torch.zeros(batch, width, dtype=torch.bool, device=device)
    history = torch.empty(batch, width, 0, dtype=torch.long, device=device)
    attention_history = None
    limit = limits.view(batch, 1, 1)
    for position in range(int(limits.max())):
        log_probs, state, attention = model.decode_step(previous, state, memory)
        vocab = log_probs.size(-1)
        log_probs = log_probs.view(batch, width, vocab)
        log_probs = _only(log_probs, position + 1 >= limit, EOS_ID)
        # A finished hypothesis extends only by PAD, at no cost.
        log_probs = _only(log_probs, finished.unsqueeze(-1), PAD_ID).masked_fill(
            finished.unsqueeze(-1) & (torch.arange(vocab, device=device) == PAD_ID), 0.0)
        candidates = scores.unsqueeze(-1) + log_probs  # [B, K, V]
        new_lengths = torch.where(finished, lengths, position + 1).unsqueeze(-1)  # [B, K, 1]
        penalised = candidates / length_penalty(new_lengths, alpha)
        _, flat = penalised.view(batch, -1).topk(width, dim=-1)  # [B, K]
        origin = torch.div(flat, vocab, rounding_mode="floor")
        token = flat % vocab
        scores = candidates.view(batch, -1).gather(1, flat)
        lengths = new_lengths.squeeze(-1).gather(1, origin)
        finished = finished.gather(1, origin) | (token == EOS_ID)
        index = (origin + offsets).view(-1)
        state = state.select(index)
        history = torch.cat([history.gather(1, origin.unsqueeze(-1).expand_as(history)),
                             token.unsqueeze(-1)], dim=-1)
        if return_attention:
            step = attention.index_select(0, index).view(batch, width, 1, -1)  # the kept hypotheses' rows
            previous_rows = (attention_history.view(batch * width, position, -1).index_select(0, index)
                             .view(batch, width, position, -1) if attention_history is not None else None)
            attention_history = step if previous_rows is None else torch.cat([previous_rows, step], dim=2)
        previous = token.view(-1)
        if bool(finished.all()):
            break
    final = scores / length_penalty(lengths, alpha)
    order = final.argsort(dim=-1, descending=True, stable=True)
    ids, lengths_list = history.tolist(), lengths.tolist()
    results = []
    for row in range(batch):
        best = []
        for beam in order[row, :n_best].tolist():
            out = _trim(ids[row][beam])
            attention = None
            if attention_history is not None:
                rows, columns = lengths_list[row][beam], int(memory.lengths[row])
                attention = attention_history[row, beam, :rows, :columns]
            best.append(Hypothesis(out, float(scores[row, beam]), float(final[row, beam]), attention))
        results.append(best)
    return results


