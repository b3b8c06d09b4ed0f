"""Char features: one vector per word from its characters, whatever padding surrounds the word."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from nlpseq.models.char_features import CharCNN, CharFeaturesConfig, CharLSTM, build_char_features

NUM_CHARS = 12

# Each builder gives a module in eval mode with its expected output_size.
BUILDERS: dict[str, Callable[[], tuple[torch.nn.Module, int]]] = {
    "cnn": lambda: (CharCNN(NUM_CHARS, embedding_dim=6, hidden_size=5, kernel_size=3), 5),
    # An even kernel pads one position more on one side than the word has; it must still line up.
    "cnn-even-kernel": lambda: (CharCNN(NUM_CHARS, embedding_dim=6, hidden_size=5, kernel_size=4), 5),
    "lstm": lambda: (CharLSTM(NUM_CHARS, embedding_dim=6, hidden_size=5), 10),
}

WORD = [5, 6, 7]  # the word under test, three chars
# Two sentences of three word slots, longest word 6 chars: WORD sits beside a longer word, in a
# different position in each row, and row 1 ends with two all-padding word slots.
BATCH = [
    [[8, 9, 10, 11, 4, 3], [*WORD, 0, 0, 0], [2, 0, 0, 0, 0, 0]],
    [[*WORD, 0, 0, 0], [0] * 6, [0] * 6],
]


def build(kind: str) -> tuple[torch.nn.Module, int]:
    torch.manual_seed(0)
    module, size = BUILDERS[kind]()
    return module.eval(), size


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_maps_words_of_chars_to_one_vector_each(kind: str) -> None:
    module, size = build(kind)
    assert module.output_size == size
    out = module(torch.tensor(BATCH))
    assert out.shape == (2, 3, size)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_word_vector_does_not_depend_on_padding(kind: str) -> None:
    module, _ = build(kind)
    alone = module(torch.tensor([[WORD]]))[0, 0]  # [1, 1, 3]: no padding at all
    padded = module(torch.tensor(BATCH))
    torch.testing.assert_close(padded[0, 1], alone)
    torch.testing.assert_close(padded[1, 0], alone)
    # A different word gets a different vector, so the equality above is not a constant output.
    assert not torch.allclose(padded[0, 0], alone)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_all_padding_word_slots_are_exact_zeros(kind: str) -> None:
    module, size = build(kind)
    out = module(torch.tensor(BATCH))
    assert torch.equal(out[1, 1:], torch.zeros(2, size))
    assert out[0].abs().sum(dim=1).gt(0).all()  # every real word is non-zero
    # A batch with no real word at all (an edge of the LSTM's packing) is all zeros too.
    assert torch.equal(module(torch.zeros(2, 3, 4, dtype=torch.long)), torch.zeros(2, 3, size))


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_gradients_reach_every_parameter_and_not_the_padding_char(kind: str) -> None:
    module, _ = build(kind)
    module.train()
    module(torch.tensor(BATCH)).pow(2).sum().backward()
    for name, parameter in module.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name
    grad = module.embedding.weight.grad
    assert torch.equal(grad[0], torch.zeros_like(grad[0]))  # padding char: never learned
    used = sorted({c for row in BATCH for word in row for c in word} - {0})
    assert grad[used].abs().sum(dim=1).gt(0).all()
    unused = sorted(set(range(NUM_CHARS)) - set(used) - {0})
    assert torch.equal(grad[unused], torch.zeros_like(grad[unused]))


@pytest.mark.parametrize(("kind", "module_class", "size"), [("cnn", CharCNN, 7), ("lstm", CharLSTM, 14)])
def test_config_builds_the_named_kind(kind: str, module_class: type, size: int) -> None:
    config = CharFeaturesConfig(kind=kind, embedding_dim=4, hidden_size=7, kernel_size=5)
    module = build_char_features(config, NUM_CHARS)
    assert type(module) is module_class
    assert module.output_size == size  # cnn: filters; lstm: both directions
    assert module.embedding.num_embeddings == NUM_CHARS
    assert module(torch.tensor(BATCH)).shape == (2, 3, size)
