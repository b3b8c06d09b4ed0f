"""``pretrain-fr``: the French pretraining corpus (:mod:`nlpseq.corpora.pretrain`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nlpseq.corpora import pretrain


def fetch(out_dir: Path, include: Sequence[str] | str = ()) -> None:
    """Build ``pretrain-fr`` into ``out_dir``; ``include`` names opt-in sources."""
    pretrain.fetch(out_dir, "fr", include)
