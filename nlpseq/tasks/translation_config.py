"""The config sections of a translation recipe: ``data``, ``tokenizer`` (shared keys and a section per
side) and ``model`` (:class:`~nlpseq.models.seq2seq.Seq2SeqConfig` plus decoding and the language
models a run starts from). Kept apart from :mod:`nlpseq.tasks.translation` so that module holds the
task's behaviour only."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from nlpseq.config import DataConfig, TokenizerConfig, from_dict
from nlpseq.errors import ConfigError
from nlpseq.models.seq2seq import Seq2SeqConfig
from nlpseq.ranges import local_path, ranged


@dataclass
class TranslationDataConfig(DataConfig):
    """The ``data`` section of a translation recipe.

    ``format: parallel`` reads ``PREFIX.source_lang`` + ``PREFIX.target_lang`` for ``train=PREFIX``;
    ``jsonl`` and hub rows carry the two language fields or a ``translation`` object with them.
    ``max_length`` (subword tokens, either side) drops longer training pairs, counted in the log.
    """

    # Local files: parallel (PREFIX.source_lang + PREFIX.target_lang), tsv (source<TAB>target, no
    # header) or jsonl (the two language fields, or a translation object holding them).
    format: Literal["parallel", "tsv", "jsonl"] = "parallel"
    # The source language code: the file suffix (parallel) and the field name (jsonl, hub rows).
    source_lang: str = "fr"
    # The target language code, used the same way.
    target_lang: str = "en"
    # Training pairs whose source has more subword tokens than this, or whose target has as many or
    # more (it gets </s> too), are skipped and counted; validation and test pairs are all kept.
    max_length: int = ranged(128, ge=1)

    moved_keys: ClassVar[dict[str, str]] = {"joint_vocabulary": "tokenizer.joint"}


@dataclass
class TranslationTokenizerConfig(TokenizerConfig):
    """The ``tokenizer`` section of a translation recipe: the shared keys serve both languages, and
    ``source``/``target`` replace some of them for one side, e.g. ``target: {vocab_size: 4000}``."""

    # Translation defaults to sentencepiece pieces (open vocabulary on both sides).
    kind: Literal["sentencepiece", "word", "char"] = "sentencepiece"
    # One model for both languages (and one embedding matrix for both sides), else one per side.
    joint: bool = False
    # Keys of this section (kind, vocab_size, model_type, lowercase, ...) for the source side only.
    source: dict[str, Any] | None = None
    # The same for the target side.
    target: dict[str, Any] | None = None
    # Take the tokenizer of the language model each side starts from (source: model.pretrained_encoder,
    # or its backward twin; target: model.pretrained_decoder) instead of training one: every embedding
    # row then matches a language-model row. A side with no language model trains its own.
    from_pretrained: bool = False

    def __post_init__(self) -> None:
        if self.from_pretrained and self.joint:
            raise ConfigError("tokenizer.from_pretrained: each side takes its own language model's "
                              "tokenizer, and tokenizer.joint asks for one model for both: set "
                              "tokenizer.joint=false")
        for name in ("source", "target"):
            if getattr(self, name) is not None and self.joint:
                raise ConfigError(f"tokenizer.{name}: one joint model serves both sides (tokenizer.joint "
                                  "is true); drop one of them")
            self.side(name)  # checked when the recipe loads

    def side(self, name: Literal["source", "target"]) -> TokenizerConfig:
        """The tokenizer config of one side: the shared keys, with the side's own keys over them."""
        shared = {f.name: getattr(self, f.name) for f in fields(TokenizerConfig)}
        return from_dict(TokenizerConfig, {**shared, **(getattr(self, name) or {})}, f"tokenizer.{name}")


@dataclass
class DecodingConfig:
    """How validation, test and ``predict`` decode (``predict`` flags override per call)."""

    # Beam width for the test scores and predict (validation decodes greedily); 1: greedy search.
    beam_size: int = ranged(5, ge=1)
    # GNMT length penalty alpha for beam search (0: none); pick it on the validation split.
    length_penalty: float = ranged(0.6, ge=0)
    # At most floor(max_length_ratio x source tokens) + max_length_constant target tokens.
    max_length_ratio: float = ranged(2.0, gt=0)
    # The constant added in that limit (the limit counts </s>).
    max_length_constant: int = ranged(10, ge=1)
    # Sentences decoded together.
    batch_size: int = ranged(64, ge=1)


@dataclass
class TranslationModelConfig(Seq2SeqConfig):
    """The ``model`` section: :class:`~nlpseq.models.seq2seq.Seq2SeqConfig` plus ``decoding`` and the
    language models that start a new run (Ramachandran et al. 2017; a recipe name in place of a run
    folder is trained first; nlpseq/training/pretrained_seq2seq.py says what is copied)."""

    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    # A forward language model's run folder (task lm, source language) whose embedding rows (matched by
    # token) and layers start the source embedding and the encoder's forward direction; its sizes must
    # match model.embedding and model.encoder.
    pretrained_encoder: str | None = local_path()
    # A backward language model (trained with data.reverse: true) for the backward direction of a
    # bidirectional encoder; the source embedding keeps pretrained_encoder's rows when both are set.
    pretrained_encoder_backward: str | None = local_path()
    # A forward language model of the target language whose embedding rows, layers and output layer start
    # the target embedding and the decoder; its sizes must match model.embedding and model.decoder.
    pretrained_decoder: str | None = local_path()

