"""Beam search over a whole batch in tensors, B sentences x K hypotheses at once: the one search of
nlpseq. Translation (:class:`Seq2SeqSteps`) and generation (``nlpseq.models.generation``) both run it
through the small :class:`Steps` protocol; greedy decoding is beam search of size 1.

Hypotheses are laid out sentence-major (hypothesis ``n`` = sentence ``n // K``, beam ``n % K``), so
attention reads the encoder states of a sentence through a ``[B, K, ...]`` view (see
:mod:`nlpseq.models.attention`) and they are never copied per beam; only the small recurrent state is.

Beam search keeps finished hypotheses in the beam: a hypothesis that wrote EOS can only extend by PAD
at log-probability 0, so it keeps its score and length and competes with the live ones. Candidates are
ranked by the GNMT length-penalised score ``log p / ((5 + |y|) / 6) ** alpha`` (Wu et al. 2016, |y|
counting EOS), with alpha = 0 the plain log-probability. A sentence is done when all K of its
hypotheses have finished, or at its limit of steps (translation: ``max_length = ratio * source length +
constant`` tokens, EOS forced there; generation: ``max_new_tokens``, unfinished rows kept as they are);
done sentences leave the batch, so the rest decode on fewer rows and one long sentence does not keep
the others' rows running. (Stopping as soon as the best hypothesis has finished, Joey NMT's and
OpenNMT's rule, decoded 1.3x faster on the LibreOffice model but cost 0.2-0.35 valid BLEU: the length
penalty lets a longer hypothesis still overtake a finished one.) Nothing couples two sentences of a
batch, so a sentence gets the same output whatever batch it is decoded in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from nlpseq.models.decoder import DecoderState, Memory
from nlpseq.tokenizers import BOS_ID, EOS_ID, PAD_ID


class Steps(Protocol):
    """What beam search drives: a model's recurrent state over the rows (hypotheses) it decodes.

    ``step(previous [R])`` feeds each row its last token and returns ``log_probs [R, V]`` for the next
    one and the attention ``[R, S]`` (None for a model without). ``select(rows, sentences)`` keeps and
    re-orders the rows ``rows [R']`` (beam reordering, or fan-out to K beams at the start);
    ``sentences [B']``, when given, are the sentences still decoded (the others have left the batch),
    for whatever the model holds per sentence (an encoded source)."""

    def step(self, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]: ...

    def select(self, rows: torch.Tensor, sentences: torch.Tensor | None = None) -> None: ...


class Seq2SeqSteps:
    """:class:`Steps` of an encoder-decoder: the decoder state per hypothesis, ``memory`` per sentence."""

    def __init__(self, model: StepModel, memory: Memory, state: DecoderState):
        self.model, self.memory, self.state = model, memory, state

    def step(self, previous: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        log_probs, self.state, attention = self.model.decode_step(previous, self.state, self.memory)
        return log_probs, attention

    def select(self, rows: torch.Tensor, sentences: torch.Tensor | None = None) -> None:
        self.state = self.state.select(rows)
        if sentences is not None:
            self.memory = self.memory.select(sentences)


class StepModel(Protocol):
    def decode_step(self, previous: torch.Tensor, state: DecoderState, memory: Memory
                    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]: ...


@dataclass
class Hypothesis:
    """One output: ``tokens`` (no BOS, no EOS), summed log-probability, penalised score, whether it
    ``finished`` (wrote EOS), the log-probability of each token written (``token_logprobs``: the EOS one
    included when finished) and attention ``[len(tokens) + 1, S]`` (EOS row included; None unless asked
    for)."""

    tokens: list[int]
    log_prob: float
    score: float
    attention: torch.Tensor | None = None
    finished: bool = True
    token_logprobs: list[float] | None = None


def length_penalty(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT: ``((5 + length) / 6) ** alpha``."""
    return ((5.0 + lengths.float()) / 6.0) ** alpha


def max_lengths(source_lengths: torch.Tensor, ratio: float, constant: int) -> torch.Tensor:
    """Most target tokens (EOS included) per sentence: ``floor(ratio * source length) + constant``."""
    return (source_lengths.float() * ratio).floor().long() + constant


def _only(log_probs: torch.Tensor, rows: torch.Tensor, token: int, value: float | None = None
          ) -> torch.Tensor:
    """Rows selected by ``rows`` (a bool mask broadcastable to ``log_probs[..., :1]``) may only write
    ``token``: every other entry becomes -inf, ``token``'s keeps its value (or takes ``value``).

    Works in place on ``log_probs`` (a fresh log_softmax) with a per-row mask, so nothing of the
    vocabulary's size is built: beam search calls it twice a step on ``[B, K, V]``.
    """
    kept = log_probs[..., token].clone()
    if value is not None:
        kept = kept.masked_fill(rows.squeeze(-1), value)
    log_probs.masked_fill_(rows, float("-inf"))
    log_probs[..., token] = kept
    return log_probs


def _trim(ids: list[int]) -> list[int]:
    return ids[: ids.index(EOS_ID)] if EOS_ID in ids else [i for i in ids if i != PAD_ID]


def translate(model: StepModel, memory: Memory, state: DecoderState, limits: torch.Tensor, beam_size: int,
              alpha: float = 0.0, n_best: int = 1, return_attention: bool = False
              ) -> list[list[Hypothesis]]:
    """Beam search of an encoder-decoder from BOS: ``memory`` and ``state`` from ``model.encode`` (one
    row per sentence), ``limits [B]`` from :func:`max_lengths` (EOS forced at the limit)."""
    batch = memory.values.size(0)
    start = torch.full((batch,), BOS_ID, dtype=torch.long, device=memory.values.device)
    return beam_search(Seq2SeqSteps(model, memory, state), start, limits, beam_size, alpha, n_best,
                       return_attention, stop_at_limit=True,
                       source_lengths=memory.lengths if memory.lengths.numel() else None)


@torch.no_grad()
def beam_search(steps: Steps, start: torch.Tensor, limits: torch.Tensor, beam_size: int,
                alpha: float = 0.0, n_best: int = 1, return_attention: bool = False,
                stop_at_limit: bool = True, source_lengths: torch.Tensor | None = None
                ) -> list[list[Hypothesis]]:
    """The ``n_best`` highest-scoring hypotheses of each of B sentences, best first.

    ``steps`` holds one row per sentence; ``start [B]`` is the token each sentence starts from (BOS, or
    the last prompt token), ``limits [B]`` the most steps each may take; with ``stop_at_limit`` EOS is
    forced at the limit, else a sentence still running there ends unfinished. ``source_lengths [B]``
    cut the attention rows to each source. The tensors below cover the A sentences still active (A <= B;
    ``active`` maps them back).
    """
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be between 1 and the beam size {beam_size}, got {n_best}")
    batch, width = start.size(0), beam_size
    device = start.device
    active = torch.arange(batch, device=device)  # [A] original sentence of each active row
    offsets = active.unsqueeze(1) * width  # [A, 1] first hypothesis row of each active sentence
    steps.select(active.repeat_interleave(width))
    previous = start.repeat_interleave(width)
    scores = torch.full((batch, width), float("-inf"), device=device)
    scores[:, 0] = 0.0  # the K copies of the start are one hypothesis: only one may extend
    lengths = torch.zeros(batch, width, dtype=torch.long, device=device)
    finished = torch.zeros(batch, width, dtype=torch.bool, device=device)
    history = torch.empty(batch, width, 0, dtype=torch.long, device=device)
    token_logprobs = torch.empty(batch, width, 0, device=device)
    attention_history = None
    limit = limits.to(device).view(batch, 1, 1)
    sources = source_lengths
    results: list[list[Hypothesis]] = [[] for _ in range(batch)]

    def finish(rows: list[int]) -> None:
        for row in rows:
            results[int(active[row])] = _best(
                history[row], scores[row], lengths[row], finished[row], token_logprobs[row], alpha, n_best,
                None if attention_history is None else attention_history[row],
                int(sources[row]) if sources is not None else 0)

    for position in range(int(limits.max())):
        rows = active.numel()
        log_probs, attention = steps.step(previous)
        vocab = log_probs.size(-1)
        log_probs = log_probs.view(rows, width, vocab)
        if stop_at_limit:
            log_probs = _only(log_probs, position + 1 >= limit, EOS_ID)
        # A finished hypothesis extends only by PAD, at no cost.
        log_probs = _only(log_probs, finished.unsqueeze(-1), PAD_ID, 0.0)
        candidates = scores.unsqueeze(-1) + log_probs  # [A, K, V]
        new_lengths = torch.where(finished, lengths, position + 1).unsqueeze(-1)  # [A, K, 1]
        penalised = candidates / length_penalty(new_lengths, alpha) if alpha else candidates
        _, flat = penalised.view(rows, -1).topk(width, dim=-1)  # [A, K], best first
        origin = torch.div(flat, vocab, rounding_mode="floor")
        token = flat % vocab
        scores = candidates.view(rows, -1).gather(1, flat)
        step_logprobs = log_probs.view(rows, -1).gather(1, flat)
        lengths = new_lengths.squeeze(-1).gather(1, origin)
        finished = finished.gather(1, origin) | (token == EOS_ID)
        index = (origin + offsets).view(-1)
        steps.select(index)
        history = torch.cat([history.gather(1, origin.unsqueeze(-1).expand_as(history)),
                             token.unsqueeze(-1)], dim=-1)
        token_logprobs = torch.cat([token_logprobs.gather(1, origin.unsqueeze(-1).expand_as(token_logprobs)),
                                    step_logprobs.unsqueeze(-1)], dim=-1)
        if return_attention and attention is not None:
            step = attention.index_select(0, index).view(rows, width, 1, -1)  # the kept hypotheses' rows
            previous_rows = (attention_history.view(rows * width, position, -1).index_select(0, index)
                             .view(rows, width, position, -1) if attention_history is not None else None)
            attention_history = step if previous_rows is None else torch.cat([previous_rows, step], dim=2)
        previous = token.view(-1)
        # Slots at -inf (a beam wider than the hypotheses a sentence has) are never going to win.
        done = (finished | scores.isneginf()).all(-1)
        if not stop_at_limit:
            done |= (position + 1 >= limit.view(-1))
        if not bool(done.any()):  # one host read per step
            continue
        finish(done.nonzero().view(-1).tolist())
        keep = (~done).nonzero().view(-1)
        if keep.numel() == 0:
            break
        # The done sentences leave the batch: every per-sentence tensor keeps the other rows only.
        beams = (keep.unsqueeze(1) * width + torch.arange(width, device=device)).view(-1)
        active, limit = active[keep], limit[keep]
        sources = sources[keep] if sources is not None else None
        offsets = offsets[: keep.numel()]  # rows are renumbered 0..A'-1
        scores, lengths, finished, history = scores[keep], lengths[keep], finished[keep], history[keep]
        token_logprobs = token_logprobs[keep]
        steps.select(beams, keep)
        previous = previous[beams]
        if attention_history is not None:
            attention_history = attention_history[keep]
    return results


def _best(history: torch.Tensor, scores: torch.Tensor, lengths: torch.Tensor, finished: torch.Tensor,
          token_logprobs: torch.Tensor, alpha: float, n_best: int, attention: torch.Tensor | None,
          source_length: int) -> list[Hypothesis]:
    """The ``n_best`` hypotheses of one sentence, best penalised score first: ``history [K, T]``,
    ``scores``/``lengths``/``finished [K]``, ``token_logprobs [K, T]``, ``attention [K, T, S]`` or None."""
    final = scores / length_penalty(lengths, alpha)
    order = final.argsort(descending=True, stable=True)[:n_best].tolist()
    ids, lengths_list = history.tolist(), lengths.tolist()
    logprobs, done = token_logprobs.tolist(), finished.tolist()
    return [Hypothesis(_trim(ids[beam]), float(scores[beam]), float(final[beam]),
                       None if attention is None else attention[beam, :lengths_list[beam], :source_length],
                       done[beam], logprobs[beam][:lengths_list[beam]])
            for beam in order]
