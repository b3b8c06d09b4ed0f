"""The ``data`` section of a tagging recipe (its fields, columns and tag schemes) and the tag vocabulary
a scheme implies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nlpseq import schemes
from nlpseq.config import DataConfig

# Formats whose reader already says ``tokens``/``tags`` (the field options apply to JSONL and hub rows).
TAGGED_FORMATS = ("conll", "conllu", "brown")


@dataclass
class TaggingDataConfig(DataConfig):
    """The ``data`` section of a tagging recipe: the shared keys plus fields, columns and tag schemes."""

    # Local files: jsonl (token and tag lists), conll (columns), conllu (UPOS tags), brown (word/tag).
    format: Literal["jsonl", "conll", "conllu", "brown"] = "jsonl"
    # JSONL and hub rows: the field holding the list of tokens (conll, conllu and brown files ignore it).
    tokens_field: str = "tokens"
    # JSONL and hub rows: the field holding the list of tags, one per token.
    tags_field: str = "tags"
    # format conll: the column holding the token (negative counts from the end).
    token_column: int = 0
    # format conll: the column holding the tag (negative counts from the end; -1 is the last).
    tag_column: int = -1
    # The tag scheme of the data, checked on every sentence (None: plain tags such as POS, scored by
    # accuracy only).
    tag_scheme: Literal["IOB1", "IOB2", "IOBES"] | None = None
    # The scheme to train and decode in, the data's tags converted to it; predictions are written back
    # in tag_scheme (None: tag_scheme itself). Set it together with tag_scheme.
    train_tag_scheme: Literal["IOB1", "IOB2", "IOBES"] | None = None
    # Entity scoring (seqeval): "default" is conlleval-compatible; "strict" counts only entities
    # that are well-formed in the scheme.
    seqeval_mode: Literal["default", "strict"] = "default"


def tag_vocabulary(rows: list[list[str]], scheme: str | None) -> list[str]:
    """The tags of the training ``rows``; with a ``scheme``, every tag it allows for the entity types
    seen, so decoding may use e.g. S-MISC even if training never showed one ("O" first)."""
    found = sorted({tag for row in rows for tag in row})
    if scheme is not None:
        types = sorted({schemes.parse_tag(t)[1] for t in found} - {None})
        prefixes = {"IOB1": "BI", "IOB2": "BI", "IOBES": "BIES"}[scheme]
        found = ["O"] + [f"{p}-{t}" for t in types for p in prefixes]
    return found
