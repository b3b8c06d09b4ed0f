"""The model building blocks: ``from nlpseq.models import RNNEncoder, TokenEmbedding, CRF``.

Each name is imported from its module on first use.
"""

from __future__ import annotations

from nlpseq.lazy import lazy_names

# name -> the module that defines it (imported on first use, like ``nlpseq.train``).
_LAZY: dict[str, str] = {
    "EmbeddingConfig": "nlpseq.models.embedding",
    "TokenEmbedding": "nlpseq.models.embedding",
    "EncoderConfig": "nlpseq.models.encoder",
    "RNNEncoder": "nlpseq.models.encoder",
    "Pooling": "nlpseq.models.pooling",
    "Attention": "nlpseq.models.attention",
    "CRF": "nlpseq.models.crf",
    "CharFeaturesConfig": "nlpseq.models.char_features",
    "CharCNN": "nlpseq.models.char_features",
    "CharLSTM": "nlpseq.models.char_features",
    "ClassifierConfig": "nlpseq.models.classifier",
    "SequenceClassifier": "nlpseq.models.classifier",
    "TaggerConfig": "nlpseq.models.tagger",
    "SequenceTagger": "nlpseq.models.tagger",
    "LanguageModelConfig": "nlpseq.models.language_model",
    "LanguageModel": "nlpseq.models.language_model",
    "DecoderConfig": "nlpseq.models.decoder",
    "AttentionDecoder": "nlpseq.models.decoder",
    "Seq2SeqConfig": "nlpseq.models.seq2seq",
    "Seq2Seq": "nlpseq.models.seq2seq",
    "LockedDropout": "nlpseq.models.regularization",
    "WeightDrop": "nlpseq.models.regularization",
}
__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
