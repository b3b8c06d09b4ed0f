"""Attention (nlpseq/models/attention.py): weights are a distribution over the real source tokens."""

from __future__ import annotations

import pytest
import torch

from nlpseq.models.attention import Attention


@pytest.mark.parametrize("kind", ["bahdanau", "dot", "general"])
def test_weights_sum_to_one_and_are_exactly_zero_on_padding(kind: str) -> None:
    torch.manual_seed(0)
    attention = Attention(kind, query_size=6, value_size=6, attention_size=5)
    values = torch.randn(3, 4, 6)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False], [True, False, False, False]])
    # Padding holds garbage: it must change nothing.
    values = values.masked_fill(~mask.unsqueeze(-1), 1e4)
    queries = torch.randn(3, 2, 6)  # K = 2 hypotheses per sentence
    context, weights = attention(queries, attention.keys(values), values, mask)
    assert weights.shape == (3, 2, 4) and context.shape == (3, 2, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2))
    assert torch.equal(weights[1, :, 2:], torch.zeros(2, 2))
    assert torch.equal(weights[2, :, 1:], torch.zeros(2, 3))
    # The one real token of sentence 2 takes all the weight, so the context is its state.
    torch.testing.assert_close(context[2], values[2, :1].expand(2, 6))


def test_queries_of_one_sentence_read_its_states_through_a_view_not_copies() -> None:
    """K queries against one sentence equal K separate calls with K = 1."""
    torch.manual_seed(1)
    attention = Attention("bahdanau", 4, 6, 3)
    values, mask = torch.randn(2, 5, 6), torch.ones(2, 5, dtype=torch.bool)
    queries = torch.randn(2, 3, 4)
    context, weights = attention(queries, attention.keys(values), values, mask)
    for k in range(3):
        one_context, one_weights = attention(queries[:, k:k + 1], attention.keys(values), values, mask)
        torch.testing.assert_close(weights[:, k:k + 1], one_weights)
        torch.testing.assert_close(context[:, k:k + 1], one_context)


def test_dot_attention_needs_equal_sizes() -> None:
    with pytest.raises(ValueError, match="use 'general'"):
        Attention("dot", 4, 6)
