"""``pretrain-en``: the English pretraining corpus (:mod:`nlpseq.corpora.pretrain`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nlpseq.corpora import pretrain


def fetch(out_dir: Path, include: Sequence[str] | str = ()) -> None:
    """Build ``pretrain-en`` into ``out_dir``; ``include`` names opt-in sources (``pattern-reviews``)."""
    pretrain.fetch(out_dir, "en", include)
