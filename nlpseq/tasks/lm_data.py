"""The lm task's data: its ``data`` section, a tokenised split (an id stream or documents), and the
reading direction (``data.reverse``: a backward language model reads every text right to left).

Reversing happens after tokenisation, so the units of the model (words, sentencepiece pieces,
characters) keep their own spelling and only their order flips::

    text lines            forward stream               backward stream (data.reverse)
    "a b c"               a b c </s> d e </s>          e d </s> c b a </s>
    "d e"

``</s>`` keeps its place after each line as the model reads it, so a backward model predicts it after
a line's *first* token: the sentence start comes last. In stream mode the lines are read last to
first too, so the state carried from one line to the next holds the text that follows it in the
original (what a backward model conditions on); the stream is then exactly the forward one flipped,
its leading ``</s>`` moved to the end. In document mode each document is ``<s> e d c b a`` ->
``e d c b a </s>``: ``<s>`` starts the reading (at the document's end) and ``</s>`` is predicted after
its first token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import datasets
import torch

from nlpseq.config import DataConfig
from nlpseq.errors import ConfigError, DataError
from nlpseq.ranges import ranged
from nlpseq.tokenizers import BOS_ID, EOS_ID, Tokenizer


@dataclass
class LMDataConfig(DataConfig):
    """The ``data`` section of an ``lm`` recipe: the shared keys plus the text and batching options."""

    # Local files: text (one line a record; blank lines are skipped) or jsonl (one object a line).
    format: Literal["text", "jsonl"] = "text"
    # JSONL and hub rows: the field holding the text.
    text_field: str = "text"
    # A categorical value per record (e.g. a genre) the model is conditioned on; needs line_mode document.
    condition_field: str | None = None
    # stream: all lines (each + </s>) form one token stream cut into columns and bptt windows, the
    # state carried on; document: each line or record is its own example (<s> ... </s>), batched by
    # length like classification.
    line_mode: Literal["stream", "document"] = "stream"
    # A backward language model: every line's (document's) tokens are read right to left, and in
    # stream mode the lines last to first; in every split and in evaluate, predict and generate.
    reverse: bool = False
    # Stream mode: truncated-BPTT window length.
    bptt: int = ranged(35, ge=1)
    # Stream mode: draw training window lengths around bptt (AWD-LSTM's randomised lengths).
    random_bptt: bool = False
    # Stream mode: columns the validation and test streams are cut into (fewer for a very short split).
    eval_batch_size: int = ranged(10, ge=1)

    def __post_init__(self) -> None:
        # Checked when the recipe loads, so the error names the recipe file before any data is read.
        if self.condition_field is not None and self.line_mode != "document":
            raise ConfigError("data.condition_field needs data.line_mode: document (a stream column "
                              "would run across documents of different conditions)")


@dataclass
class LMData:
    """A prepared split: the id stream (stream mode) or the tokenised documents (document mode),
    plus the counts the metrics need."""

    source: str
    tokens: int  # tokens incl. one </s> per line or document
    words: int  # whitespace words incl. one </s> per line or document
    ids: torch.Tensor | None = None
    documents: datasets.Dataset | None = None
    examples: int = 0  # lines (stream mode) or documents


def ordered(ids: Sequence[int], reverse: bool) -> list[int]:
    """One text's token ids in the model's reading order (``reverse``: right to left)."""
    return list(reversed(ids)) if reverse else list(ids)


def stream_ids(encoded: Sequence[Sequence[int]], reverse: bool) -> torch.Tensor:
    """``[T]``: every line's ids plus ``</s>``, lines and tokens in reading order (see the module)."""
    lines = reversed(encoded) if reverse else encoded
    return torch.tensor([token for row in lines for token in (*ordered(row, reverse), EOS_ID)],
                        dtype=torch.long)


def tokenize_split(tokenizer: Tokenizer, data: LMDataConfig, dataset: datasets.Dataset, source: str,
                   conditions: list[str]) -> LMData:
    """Tokenise one split's ``text`` (and map its ``condition`` values to ``conditions`` indices) into
    the stream or the documents of ``data.line_mode``, in the reading order of ``data.reverse``."""
    texts = dataset["text"]
    encoded = tokenizer.encode(texts)
    words = sum(len(text.split()) + 1 for text in texts)
    if data.line_mode == "stream":
        stream = stream_ids(encoded, data.reverse)
        return LMData(source, stream.numel(), words, ids=stream, examples=len(texts))
    known = {value: i for i, value in enumerate(conditions)}
    rows: dict[str, list] = {"input_ids": [], "targets": [], "length": []}
    if conditions:
        rows["condition"] = []
        for value, line in zip(dataset["condition"], dataset["line"], strict=True):
            if value not in known:
                raise DataError(f"condition {value!r} never occurs in the training data (known: "
                                f"{', '.join(conditions)})", source, line)
            rows["condition"].append(known[value])
    for ids in encoded:
        # Cut to max_length before reversing: both directions see the same tokens of a long document.
        ids = ordered(ids[: data.max_length], data.reverse)
        rows["input_ids"].append([BOS_ID, *ids])
        rows["targets"].append([*ids, EOS_ID])
        rows["length"].append(len(ids) + 1)
    tokens = sum(rows["length"])
    return LMData(source, tokens, words, documents=datasets.Dataset.from_dict(rows), examples=len(texts))
