"""A model too large for the machine's memory, named with its size instead of an allocator traceback.

The config bounds (:mod:`nlpseq.ranges`: ``MAX_WIDTH``, ``MAX_LAYERS``, ``MAX_VOCAB``) stop sizes no
RNN has; sizes inside them can still multiply past the memory at hand (a 2,000,000-word vocabulary
times a 16,384-wide embedding is 131 GB of float32). Building the model inside
:func:`named_allocation_failure` turns the allocator's failure into one ConfigError that says how
much was asked for and which keys make it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import torch

from nlpseq.errors import ConfigError

# torch's CPU allocator: "... you tried to allocate 400000000000 bytes. Error code 12 ..."; CUDA's:
# "CUDA out of memory. Tried to allocate 372.53 GiB ...".
_BYTES = re.compile(r"allocate (\d+) bytes")
_CUDA = re.compile(r"[Tt]ried to allocate ([\d.]+ [KMGT]?i?B)")


@contextlib.contextmanager
def named_allocation_failure(what: str = "the model") -> Iterator[None]:
    """Within the block, an allocation failure (MemoryError, torch's out-of-memory errors, the CPU
    allocator's RuntimeError) is one ConfigError naming ``what`` and the size asked for."""
    try:
        yield
    except (MemoryError, torch.OutOfMemoryError, RuntimeError) as error:
        text = str(error)
        if isinstance(error, RuntimeError) and not isinstance(error, torch.OutOfMemoryError) \
                and "allocate" not in text:
            raise  # another RuntimeError: a bug, whose traceback is wanted
        raise ConfigError(f"{what}: cannot allocate its weights ({_size(text)}); make the model smaller "
                          "(model.*.hidden_size, embedding_dim, num_layers, tokenizer.vocab_size)") from None


def _size(text: str) -> str:
    """The size an allocator message asked for, readable ("372.5 GB"), or "out of memory"."""
    if match := _BYTES.search(text):
        return f"{int(match[1]) / 1e9:,.1f} GB asked for at once"
    if match := _CUDA.search(text):
        return f"{match[1]} asked for at once on the GPU"
    return "out of memory"
