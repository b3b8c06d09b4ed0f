"""The data building blocks: readers of each format, batching and the LM stream.

Each name is imported from its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it (imported on first use, like ``nlpseq.train``).
_LAZY: dict[str, str] = {
    "TokenBudgetBatchSampler": "nlpseq.data.batching",
    "pad": "nlpseq.data.batching",
    "lengths_and_mask": "nlpseq.data.batching",
    "StreamBatches": "nlpseq.data.stream",
    "read_records": "nlpseq.data.records",
    "read_jsonl": "nlpseq.data.records",
    "read_pairs": "nlpseq.data.parallel",
    "read_parallel": "nlpseq.data.parallel",
    "read_tagged_file": "nlpseq.data.tagged_readers",
    "read_conll": "nlpseq.data.tagged_readers",
    "read_conllu": "nlpseq.data.tagged_readers",
    "Split": "nlpseq.data.sources",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
