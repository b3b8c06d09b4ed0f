"""Decoding a :class:`~nlpseq.models.language_model.LanguageModel`: sampling (temperature, top-k, top-p)
and beam search, batched over every row at once (one forward step per new token for the whole batch).

Both start from prompts that hold at least one token (the caller puts the start symbol first), run
them through the model in one padded call, then extend every row token by token until it emits
``stop_id`` or reaches ``max_new_tokens``. The log-probabilities returned are the model's own
(``log_softmax`` of its logits, temperature 1), whatever the sampling distribution was.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nlpseq.data.batching import pad
from nlpseq.models.language_model import LanguageModel, LayerStates
from nlpseq.tokenizers import PAD_ID


@dataclass
class Generated:
    """One continuation: new ``tokens`` (ending with ``stop_id`` when ``stopped``) and their log-probs."""

    tokens: list[int]
    logprobs: list[float]
    stopped: bool


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """``logits [N, V]`` with -inf outside each row's top ``top_k`` tokens (0: no limit) and outside the
    smallest set whose probability reaches ``top_p`` (nucleus; the most likely token is always kept)."""
    if top_k and top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the tokens before it already reach top_p.
        drop_sorted = (cumulative - sorted_logits.softmax(-1)) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def _prompt_step(model: LanguageModel, prompts: list[list[int]], condition: torch.Tensor | None
                 ) -> tuple[torch.Tensor, LayerStates]:
    """Run the prompts ``N x [len >= 1]``; return the next-token logits ``[N, V]`` and the state."""
    device = model.output.weight.device
    if any(not prompt for prompt in prompts):
        raise ValueError("every prompt needs at least one token (the start symbol)")
    ids = pad(prompts, PAD_ID).to(device)
    lengths = torch.tensor([len(p) for p in prompts], device=device)
    state = model.initial_state(len(prompts), condition)
    logits, state = model.score(ids, state, condition, lengths)
    return logits[torch.arange(len(prompts), device=device), lengths - 1], state


@torch.no_grad()
def sample(model: LanguageModel, prompts: list[list[int]], *, stop_id: int, max_new_tokens: int,
           temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
           condition: torch.Tensor | None = None, generator: torch.Generator | None = None
           ) -> list[Generated]:
    """Sample a continuation of each prompt (``temperature`` 0 or ``top_k`` 1: greedy, no randomness).

    ``condition [N]`` (ids) conditions row i on value ``condition[i]``; ``generator`` (on the model's
    device) makes the draw reproducible without touching the global RNG.
    """
    logits, state = _prompt_step(model, prompts, condition)
    rows = len(prompts)
    finished = torch.zeros(rows, dtype=torch.bool, device=logits.device)
    tokens, logprobs = [], []
    greedy = temperature == 0 or top_k == 1
    for _ in range(max_new_tokens):
        log_probs = F.log_softmax(logits.float(), dim=-1)
        if greedy:
            chosen = logits.argmax(-1)
        else:
            probs = filter_logits(logits.float() / temperature, top_k, top_p).softmax(-1)
            chosen = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        chosen = chosen.masked_fill(finished, PAD_ID)
        tokens.append(chosen)
        logprobs.append(log_probs.gather(1, chosen[:, None]).squeeze(1))
        finished = finished | (chosen == stop_id)
        if bool(finished.all()):
            break
        logits, state = model.score(chosen[:, None], state, condition)
        logits = logits[:, -1]
    return _collect(torch.stack(tokens, 1) if tokens else torch.zeros(rows, 0, dtype=torch.long),
                    torch.stack(logprobs, 1) if logprobs else torch.zeros(rows, 0), stop_id)


@torch.no_grad()
def beam_search(model: LanguageModel, prompts: list[list[int]], *, stop_id: int, max_new_tokens: int,
                beam_size: int, condition: torch.Tensor | None = None) -> list[Generated]:
    """The most likely continuation of each prompt found by a beam of ``beam_size`` (sum of log-probs,
    no length normalisation; a hypothesis that emitted ``stop_id`` keeps its score). Beam 1 = greedy."""
    logits, state = _prompt_step(model, prompts, condition)
    rows, beams, vocab = len(prompts), beam_size, logits.size(-1)
    device = logits.device
    expand = torch.arange(rows, device=device).repeat_interleave(beams)  # [N*K] -> prompt row
    state = model.select_state(state, expand)
    condition = condition.index_select(0, expand) if condition is not None else None
    logits = logits.index_select(0, expand)
    # All beams start identical: only beam 0 may extend on the first step.
    scores = torch.full((rows, beams), float("-inf"), device=device)
    scores[:, 0] = 0.0
    finished = torch.zeros(rows, beams, dtype=torch.bool, device=device)
    history = torch.zeros(rows, beams, 0, dtype=torch.long, device=device)
    history_lp = torch.zeros(rows, beams, 0, device=device)
    for _ in range(max_new_tokens):
        log_probs = F.log_softmax(logits.float(), dim=-1).view(rows, beams, vocab)
        # A finished hypothesis extends only by padding, at no cost.
        done_row = torch.full((vocab,), float("-inf"), device=device)
        done_row[PAD_ID] = 0.0
        log_probs = torch.where(finished[..., None], done_row, log_probs)
        total = (scores[..., None] + log_probs).view(rows, beams * vocab)
        scores, flat = total.topk(beams, dim=-1)
        origin, token = flat // vocab, flat % vocab
        history = torch.cat([history.gather(1, origin[..., None].expand(-1, -1, history.size(2))),
                             token[..., None]], dim=2)
        step_lp = log_probs.view(rows, beams * vocab).gather(1, flat)
        history_lp = torch.cat([history_lp.gather(1, origin[..., None].expand(-1, -1, history_lp.size(2))),
                                step_lp[..., None]], dim=2)
        finished = finished.gather(1, origin) | (token == stop_id)
        if bool(finished.all()):
            break
        reorder = (origin + torch.arange(rows, device=device)[:, None] * beams).view(-1)
        state = model.select_state(state, reorder)
        logits, state = model.score(token.view(-1, 1), state, condition)
        logits = logits[:, -1]
    best = scores.argmax(-1)
    pick = torch.arange(rows, device=device)
    return _collect(history[pick, best], history_lp[pick, best], stop_id)


def _collect(tokens: torch.Tensor, logprobs: torch.Tensor, stop_id: int) -> list[Generated]:
    """Cut each row ``[N, S]`` after its first ``stop_id``."""
    results = []
    for row, lps in zip(tokens.tolist(), logprobs.tolist(), strict=True):
        end = row.index(stop_id) + 1 if stop_id in row else len(row)
        results.append(Generated(row[:end], [round(x, 4) for x in lps[:end]], stop_id in row))
    return results
