"""nlpseq: GRU/LSTM models for NLP sequence tasks.

>>> import nlpseq
>>> results = nlpseq.train("recipes/sentiment/mr_bigru.yaml", ["trainer.max_epochs=2"])
>>> nlpseq.load("runs/mr_bigru").predict("a charming and funny film")

``import nlpseq`` stays light: the names below are imported on first use, so ``nlpseq --help``,
``nlpseq recipes`` and ``nlpseq data list`` start without loading torch or datasets.
"""

from __future__ import annotations

from nlpseq.lazy import lazy_names

__version__ = "0.1.0"

# Public name -> the module that defines it, imported on first attribute access.
_LAZY = {
    "train": "nlpseq.api",
    "load": "nlpseq.api",
    "Predictor": "nlpseq.api",
    "Config": "nlpseq.config",
    "load_config": "nlpseq.tasks",
}

__all__ = ["Config", "Predictor", "__version__", "load", "load_config", "train"]

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
