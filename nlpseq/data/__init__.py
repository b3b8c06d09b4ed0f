"""The data building blocks: readers of each format, batching and the LM stream.

Each name is imported from its module on first use.
"""

from __future__ import annotations

from nlpseq.lazy import lazy_names

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

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
