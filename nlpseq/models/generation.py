"""Decoding a :class:`~nlpseq.models.language_model.LanguageModel`: sampling (temperature, top-k, top-p)
and beam search (the one of :mod:`nlpseq.models.search`, through :class:`LanguageModelSteps`), batched
over every row at once (one forward step per new token for the whole batch).

Both start from prompts that hold at least one token (the caller puts the start symbol first), run
them through the model in one padded call, then extend every row token by token until it emits
``stop_id`` or reaches ``max_new_tokens``. The log-probabilities returned are the model's own
(``log_softmax`` of its logits, temperature 1), whatever the sampling distribution was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from nlpseq.data.batching import pad
from nlpseq.models import search
from nlpseq.models.language_model import LanguageModel, LayerStates
from nlpseq.tokenizers import EOS_ID, PAD_ID, Tokenizer


@dataclass
class Generated:
    """One continuation: new ``tokens`` (ending with ``stop_id`` when ``stopped``) and their log-probs."""

    tokens: list[int]
    logprobs: list[float]
    stopped: bool

    def record(self, prompt: str, sample: int, tokenizer: Tokenizer, reverse: bool = False) -> dict[str, Any]:
        """This continuation as one JSON-ready ``generate`` result (a line of ``--format jsonl``).

        ``text`` is the continuation alone, decoded; ``prompt_included`` says so (false), as a reader
        of the line cannot tell otherwise. ``tokens`` are the new ids, ``token_strings`` their pieces
        (what each id is, the stop symbol included) and ``token_logprobs`` the model's log-probability
        of each, one entry per token in all three.

        ``reverse`` (a backward model, which wrote the text leftwards from the prompt's start): the
        three lists and ``text`` are put back in reading order, so the stop symbol, when reached, comes
        first (the sentence start), and ``before_prompt`` (true) says the text goes before the prompt."""
        tokens, logprobs = self.tokens, self.logprobs
        if reverse:
            tokens, logprobs = tokens[::-1], logprobs[::-1]
        record = {"prompt": prompt, "sample": sample, "text": tokenizer.decode(tokens),
                  "prompt_included": False, "tokens": tokens,
                  "token_strings": [tokenizer.piece(token) for token in tokens],
                  "token_logprobs": logprobs, "stopped": self.stopped}
        if reverse:
            record["before_prompt"] = True
        return record


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


class LanguageModelSteps:
    """:class:`~nlpseq.models.search.Steps` of a language model: its state (and condition) per row.

    The prompts have been run already (:func:`_prompt_step`): the first :meth:`step` returns their
    next-token scores, every later one feeds the token chosen last."""

    def __init__(self, model: LanguageModel, logits: torch.Tensor, state: LayerStates,
                 condition: torch.Tensor | None):
        self.model, self.state, self.condition = model, state, condition
        self.pending: torch.Tensor | None = logits

    def step(self, previous: torch.Tensor) -> tuple[torch.Tensor, None]:
        if self.pending is not None:
            logits, self.pending = self.pending, None
        else:
            logits, self.state = self.model.score(previous[:, None], self.state, self.condition)
            logits = logits[:, -1]
        return F.log_softmax(logits.float(), dim=-1), None

    def select(self, rows: torch.Tensor, sentences: torch.Tensor | None = None) -> None:
        self.state = self.model.select_state(self.state, rows)
        if self.condition is not None:
            self.condition = self.condition.index_select(0, rows)
        if self.pending is not None:
            self.pending = self.pending.index_select(0, rows)


@torch.no_grad()
def beam_search(model: LanguageModel, prompts: list[list[int]], *, stop_id: int, max_new_tokens: int,
                beam_size: int, condition: torch.Tensor | None = None) -> list[Generated]:
    """The most likely continuation of each prompt found by a beam of ``beam_size`` (sum of log-probs,
    no length normalisation; a hypothesis that emitted ``stop_id`` keeps its score). Beam 1 = greedy.
    ``stop_id`` must be the tokenizers' EOS, the one the search stops at."""
    if stop_id != EOS_ID:
        raise ValueError(f"beam search stops at EOS ({EOS_ID}), not at {stop_id}")
    logits, state = _prompt_step(model, prompts, condition)
    device = logits.device
    start = torch.tensor([prompt[-1] for prompt in prompts], device=device)
    limits = torch.full((len(prompts),), max_new_tokens, device=device)
    found = search.beam_search(LanguageModelSteps(model, logits, state, condition), start, limits, beam_size,
                               stop_at_limit=False)
    return [Generated(best.tokens + [stop_id] * best.finished,
                      [round(x, 4) for x in best.token_logprobs or []], best.finished)
            for best, *_ in found]


def _collect(tokens: torch.Tensor, logprobs: torch.Tensor, stop_id: int) -> list[Generated]:
    """Cut each row ``[N, S]`` after its first ``stop_id``."""
    results = []
    for row, lps in zip(tokens.tolist(), logprobs.tolist(), strict=True):
        end = row.index(stop_id) + 1 if stop_id in row else len(row)
        results.append(Generated(row[:end], [round(x, 4) for x in lps[:end]], stop_id in row))
    return results
