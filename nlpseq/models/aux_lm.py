"""Rei (2017)'s auxiliary language-modelling objective for a sequence labeller, from its own training
text: the forward half of the encoder's state at each word predicts the next word, the backward half
the previous word. Only the most frequent training words are classes of their own; every other word
(and <unk>) is one shared class.

::

    words            w1    w2    w3
    forward state    h1 -> w2    h2 -> w3    (h3: no next word in the sentence, nothing predicted)
    backward state   (g1: nothing)    g2 -> w1    g3 -> w2

Each direction has its own head, a tanh layer then a linear layer over the classes (Rei's
``m = tanh(W h)`` before the softmax). The direction must not have read the word it predicts, so this
needs a one-layer bidirectional encoder over inputs that are each word's own (a second layer's forward
state has read the first layer's backward states, i.e. the words to the right); the tagger's config
checks that.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nlpseq.tokenizers import UNK_ID


class AuxLanguageModel(nn.Module):
    """Next/previous-word prediction from a bidirectional encoder's states.

    Args:
        hidden_size: the encoder's state size per direction (H).
        vocab_size: the tagger's word vocabulary size: ``classes [vocab_size]`` maps each word id to its
            class (a buffer, saved with the model, so a restored model needs no training data).
        num_classes: the frequent words kept plus one class for all others.
    """

    def __init__(self, hidden_size: int, vocab_size: int, num_classes: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_classes = num_classes
        self.register_buffer("classes", torch.full((vocab_size,), num_classes - 1, dtype=torch.long))
        self.next_word = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Tanh(),
                                       nn.Linear(hidden_size, num_classes))
        self.previous_word = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Tanh(),
                                           nn.Linear(hidden_size, num_classes))

    @torch.no_grad()
    def set_classes(self, classes: torch.Tensor) -> None:
        """``classes [vocab_size]``: each word id's class (from :func:`frequent_word_classes`)."""
        self.classes.copy_(classes)

    def forward(self, outputs: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``outputs [B, T, 2H]`` (forward then backward states), ``input_ids [B, T]``, ``mask [B, T]``
        -> the cross-entropy ``[]`` summed over both directions' predicted words."""
        targets = self.classes[input_ids]  # [B, T]
        forward, backward = outputs[..., :self.hidden_size], outputs[..., self.hidden_size:]
        # Position t + 1 is a word: then t is one too (right padding), and each predicts the other.
        pairs = mask[:, 1:]  # [B, T - 1]
        next_logits = self.next_word(forward[:, :-1][pairs]).float()
        previous_logits = self.previous_word(backward[:, 1:][pairs]).float()
        return (F.cross_entropy(next_logits, targets[:, 1:][pairs], reduction="sum")
                + F.cross_entropy(previous_logits, targets[:, :-1][pairs], reduction="sum"))


def frequent_word_classes(rows: list[list[int]], vocab_size: int, num_frequent: int) -> torch.Tensor:
    """``[vocab_size]``: class ``k`` < ``num_frequent`` for the k-th most frequent word id of the
    training ``rows`` (ties by id, so the same data gives the same classes), ``num_frequent`` (the
    shared rare class) for every other id, <unk> included (it stands for the rare words already).
    Padding (id 0) never occurs in rows."""
    counts = torch.bincount(torch.tensor([i for row in rows for i in row], dtype=torch.long),
                            minlength=vocab_size)[:vocab_size]
    seen = [i for i in range(vocab_size) if counts[i] > 0 and i != UNK_ID]
    order = sorted(seen, key=lambda i: (-int(counts[i]), i))
    classes = torch.full((vocab_size,), num_frequent, dtype=torch.long)
    kept = order[:num_frequent]
    classes[torch.tensor(kept, dtype=torch.long)] = torch.arange(len(kept))
    return classes
