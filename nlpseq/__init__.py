"""nlpseq: GRU/LSTM models for NLP sequence tasks.

>>> import nlpseq
>>> results = nlpseq.train("recipes/sentiment/mr_bigru.yaml", ["trainer.max_epochs=2"])
>>> nlpseq.load("runs/mr_bigru").predict("a charming and funny film")
"""

__version__ = "0.1.0"

from nlpseq.api import Predictor, load, train
from nlpseq.config import Config, load_config

__all__ = ["Config", "Predictor", "__version__", "load", "load_config", "train"]
