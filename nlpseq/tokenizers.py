"""One tokenizer interface, three kinds: sentencepiece, word level and char level.

Every kind reserves the same special ids so models and collators never ask which kind they got::

    0 <pad>   1 <unk>   2 <s> (bos)   3 </s> (eos)

Tasks use the :class:`Tokenizer` protocol and never ask which class they hold.
``encode`` and ``decode`` take one item or a batch (a list), like sentencepiece's own verbs. Pre-split
input (a list of words, for tagging) goes through ``encode_words``. A tokenizer saves itself to a run
folder as ``NAME.json`` (plus ``NAME.model`` for sentencepiece) and :func:`load_tokenizer` restores it
with identical ids.

Raw text is split into words by :mod:`nlpseq.segmentation` (Moses rules per language).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, overload

import sentencepiece as spm

from nlpseq.config import TokenizerConfig
from nlpseq.errors import ConfigError, DataError
from nlpseq.fileio import read_bytes, regular_file, write_bytes, write_json
from nlpseq.segmentation import LANGUAGES, check_language, segment_words, segmenter_name

log = logging.getLogger("nlpseq.data")

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)
_DIGIT_RE = re.compile(r"\d")
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3

WORD_BOUNDARY = "\u2581"  # sentencepiece's word-start mark


class Tokenizer(Protocol):
    """What every kind offers. ``kind``: ``"sentencepiece"``, ``"word"`` or ``"char"``."""

    kind: str

    @property
    def vocab_size(self) -> int: ...

    def tokenize(self, text: str) -> list[str]: ...

    def encode(self, text): ...  # str -> ids; list[str] -> list of ids

    def decode(self, ids): ...  # ids -> str; list of ids -> list[str]

    def encode_words(self, words: list[str]) -> list[list[int]]: ...

    def piece(self, token_id: int) -> str:
        """The display string of one id (a sentencepiece piece, a vocabulary entry)."""
        ...

    @property
    def word_boundary_id(self) -> int | None:
        """Id of a bare word-start piece ("▁" alone), which a tagger skips; None when there is none."""
        ...

    def save(self, directory: str | Path, name: str = "tokenizer") -> None: ...


class _BatchVerbs:
    """``encode``/``decode`` on one item or a list, built on the per-item ``_encode``/``_decode``."""

    @overload
    def encode(self, text: str) -> list[int]: ...

    @overload
    def encode(self, text: list[str]) -> list[list[int]]: ...

    def encode(self, text):
        if isinstance(text, str):
            return self._encode(text)
        return [self._encode(t) for t in text]

    def decode(self, ids):
        if hasattr(ids, "tolist"):  # a tensor or array
            ids = ids.tolist()
        if ids and isinstance(ids[0], list):
            return [self._decode(row) for row in ids]
        return self._decode(list(ids))


class VocabTokenizer(_BatchVerbs):
    """Word- or char-level tokenizer over an explicit vocabulary (``itos``: id -> string).

    The word kind splits raw text with :func:`segment_words` in ``language`` and lowercases or
    normalises digits word by word afterwards, so the segmenter sees the text as written.
    """

    def __init__(self, kind: str, itos: list[str], lowercase: bool = False, normalize_digits: bool = False,
                 language: str = "en", pretokenized: bool = False):
        if kind not in ("word", "char"):
            raise ValueError(f"kind must be 'word' or 'char', got {kind!r}")
        if list(itos[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(f"a vocabulary must start with {SPECIALS}")
        if kind == "word":
            check_language(language)  # an unknown language fails here, not at the first text
        self.kind = kind
        self.lowercase = lowercase
        self.normalize_digits = normalize_digits
        self.language = language
        # Already-tokenised text (PTB, WikiText): whitespace splitting only; "<unk>" in it is UNK_ID.
        self.pretokenized = pretokenized
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def segmenter(self) -> str | None:
        """The name of the word segmentation rules (None for the char kind, which does not split)."""
        if self.kind == "word" and self.pretokenized:
            return "whitespace"
        return segmenter_name(self.language) if self.kind == "word" else None

    def _norm(self, text: str) -> str:
        text = text.lower() if self.lowercase else text
        # "1996" and "2003" share one entry "0000": numbers differ in value, rarely in role.
        return _DIGIT_RE.sub("0", text) if self.normalize_digits else text

    def tokenize(self, text: str) -> list[str]:
        if self.kind == "char":
            return list(self._norm(text))
        words = text.split() if self.pretokenized else segment_words(text, self.language)
        return [self._norm(word) for word in words]

    def _encode(self, text: str) -> list[int]:
        return [self.stoi.get(t, UNK_ID) for t in self.tokenize(text)]

    def encode_words(self, words: list[str]) -> list[list[int]]:
        """Word kind: one id per word ([[id], ...]); char kind: the char ids of each word."""
        if self.kind == "word":
            return [[self.stoi.get(self._norm(w), UNK_ID)] for w in words]
        return [[self.stoi.get(c, UNK_ID) for c in self._norm(w)] for w in words]

    def piece(self, token_id: int) -> str:
        return self.itos[token_id]

    @property
    def word_boundary_id(self) -> int | None:
        return None  # whole words or characters: nothing marks a word start

    def _decode(self, ids: list[int]) -> str:
        pieces = [self.itos[i] for i in ids if i not in (PAD_ID, BOS_ID, EOS_ID)]
        return ("" if self.kind == "char" else " ").join(pieces)

    @classmethod
    def build(
        cls,
        kind: str,
        texts: Iterable[str] | None = None,
        words: Iterable[list[str]] | None = None,
        min_freq: int = 1,
        max_size: int | None = None,
        lowercase: bool = False,
        normalize_digits: bool = False,
        language: str = "en",
        pretokenized: bool = False,
    ) -> VocabTokenizer:
        """Count units in raw ``texts`` (or pre-split ``words``) and keep the frequent ones.

        Ties in frequency are broken alphabetically so the same data always gives the same ids.
        """
        counts: Counter[str] = Counter()
        probe = cls(kind, list(SPECIALS), lowercase, normalize_digits, language, pretokenized)
        for text in texts or ():
            counts.update(probe.tokenize(text))
        for row in words or ():
            for word in row:
                word = probe._norm(word)
                counts.update(word if kind == "char" else [word])
        kept = sorted((u for u, c in counts.items() if c >= min_freq and u not in SPECIALS),
                      key=lambda u: (-counts[u], u))
        if max_size is not None:
            kept = kept[: max(0, max_size - len(SPECIALS))]
        return cls(kind, list(SPECIALS) + kept, lowercase, normalize_digits, language, pretokenized)

    @classmethod
    def from_vocab_file(cls, kind: str, path: str | Path, lowercase: bool = False,
                        normalize_digits: bool = False, language: str = "en",
                        pretokenized: bool = False) -> VocabTokenizer:
        """One unit per line (a second tab-separated column, e.g. a count, is ignored)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"tokenizer.vocab_file: {path} not found")
        units: list[str] = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                unit = line.rstrip("\n").split("\t")[0]
                if not unit:
                    raise DataError("empty vocabulary entry", path, number)
                if unit not in SPECIALS and unit not in units:
                    units.append(unit)
        return cls(kind, list(SPECIALS) + units, lowercase, normalize_digits, language, pretokenized)

    def save(self, directory: str | Path, name: str = "tokenizer") -> None:
        meta: dict[str, object] = {"kind": self.kind, "lowercase": self.lowercase,
                                   "normalize_digits": self.normalize_digits}
        if self.kind == "word":
            # Part of the file so that the tokenisation cache key changes with the segmentation rules.
            meta.update(segmenter=self.segmenter, language=self.language)
            if self.pretokenized:
                meta["pretokenized"] = True
        meta["itos"] = self.itos
        write_json(Path(directory) / f"{name}.json", meta)


class SentencePieceTokenizer(_BatchVerbs):
    """Subword tokenizer (BPE or unigram) trained with sentencepiece on the training split only."""

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes, lowercase: bool = False):
        self.model_proto = model_proto
        self.lowercase = lowercase
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        ids = (self.processor.pad_id(), self.processor.unk_id(), self.processor.bos_id(),
               self.processor.eos_id())
        if ids != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise ValueError(f"sentencepiece model has special ids {ids}, expected 0,1,2,3")

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    def _norm(self, text: str) -> str:
        return text.lower() if self.lowercase else text

    def tokenize(self, text: str) -> list[str]:
        return self.processor.encode(self._norm(text), out_type=str)

    def _encode(self, text: str) -> list[int]:
        return self.processor.encode(self._norm(text))

    def encode_words(self, words: list[str]) -> list[list[int]]:
        """The subword ids of each word (a tagger keeps the first subword of each)."""
        return self.processor.encode([self._norm(w) for w in words])

    def _decode(self, ids: list[int]) -> str:
        return self.processor.decode(ids)

    def piece(self, token_id: int) -> str:
        return self.processor.id_to_piece(token_id)

    @property
    def word_boundary_id(self) -> int | None:
        piece_id = self.processor.piece_to_id(WORD_BOUNDARY)  # the unknown id when it is no piece
        return piece_id if self.processor.id_to_piece(piece_id) == WORD_BOUNDARY else None

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        model_type: str = "unigram",
        character_coverage: float = 1.0,
        lowercase: bool = False,
    ) -> SentencePieceTokenizer:
        model = io.BytesIO()
        try:
            _train_sentencepiece(model, texts, vocab_size, model_type, character_coverage, lowercase)
        except RuntimeError as error:  # sentencepiece says what it could not do in its message
            raise ConfigError(f"tokenizer: sentencepiece could not train a {vocab_size}-piece {model_type} "
                              f"model on the training text: {str(error).strip().splitlines()[-1]}") from None
        return cls(model.getvalue(), lowercase)

    def save(self, directory: str | Path, name: str = "tokenizer") -> None:
        directory = Path(directory)
        write_bytes(directory / f"{name}.model", self.model_proto)  # atomic, only when it changes
        write_json(directory / f"{name}.json",
                    {"kind": self.kind, "lowercase": self.lowercase, "model": f"{name}.model"})


def _train_sentencepiece(model: io.BytesIO, texts: Iterable[str], vocab_size: int, model_type: str,
                         character_coverage: float, lowercase: bool) -> None:
    spm.SentencePieceTrainer.train(
        sentence_iterator=(t.lower() if lowercase else t for t in texts if t.strip()),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        pad_piece=PAD, unk_piece=UNK, bos_piece=BOS, eos_piece=EOS,
        # A small corpus cannot always fill the requested size; take what it supports.
        hard_vocab_limit=False,
        input_sentence_size=2_000_000,
        # The default (4192 bytes) silently drops long documents such as IMDB reviews.
        max_sentence_length=65536,
        shuffle_input_sentence=True,
        minloglevel=2,
    )


def build_tokenizer(
    config: TokenizerConfig,
    texts: Iterable[str] | None = None,
    words: Iterable[list[str]] | None = None,
) -> Tokenizer:
    """Build the tokenizer a config describes from training ``texts`` (or pre-split ``words``)."""
    if config.kind == "word" and config.language not in LANGUAGES:
        raise ConfigError(f"tokenizer.language: no word segmentation rules for {config.language!r}; "
                          f"valid languages: {', '.join(sorted(LANGUAGES))}")
    if config.kind == "sentencepiece":
        if texts is None:
            texts = (" ".join(row) for row in words or ())
        return SentencePieceTokenizer.train(
            texts, config.vocab_size, config.model_type, config.character_coverage, config.lowercase
        )
    if config.vocab_file is not None:
        return VocabTokenizer.from_vocab_file(config.kind, config.vocab_file, config.lowercase,
                                              config.normalize_digits, config.language, config.pretokenized)
    return VocabTokenizer.build(config.kind, texts, words, config.min_freq, config.max_size, config.lowercase,
                                config.normalize_digits, config.language, config.pretokenized)


def load_tokenizer(directory: str | Path, name: str = "tokenizer") -> Tokenizer:
    """The tokenizer saved as ``NAME.json`` (+ its model file) in a run folder; a missing or damaged file,
    or one that points outside the folder, is a DataError naming it."""
    directory = Path(directory)
    # Each file is checked to be a regular one before it is read: a FIFO would block the read forever.
    path = regular_file(directory / f"{name}.json",
                        "tokenizer file missing from the run folder (was it copied whole?)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        kind = meta["kind"]
        if kind == "sentencepiece":
            model = (directory / meta["model"]).resolve()
            if not model.is_relative_to(directory.resolve()):
                raise DataError(f"its model file {meta['model']!r} lies outside the run folder", path)
            return SentencePieceTokenizer(read_bytes(model), meta["lowercase"])
        return _load_vocab_tokenizer(path, meta)
    except DataError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise DataError(f"damaged tokenizer file ({type(error).__name__}: {error})", path) from None


def _load_vocab_tokenizer(path: Path, meta: dict) -> VocabTokenizer:
    # A word tokenizer saved before the segmenter was recorded is read as today's English rules (its
    # regex segmenter no longer exists; the two agree on most text, e.g. "do n't", "it 's").
    # Files written before the "split" names were kept for dataset splits say "pre_split"/"splitter".
    language = meta.get("language", "en")
    pretokenized = meta.get("pretokenized", meta.get("pre_split", False))
    tokenizer = VocabTokenizer(meta["kind"], meta["itos"], meta["lowercase"],
                               meta.get("normalize_digits", False), language, pretokenized)
    saved = meta.get("segmenter", meta.get("splitter"))
    if saved is not None and saved != tokenizer.segmenter:
        log.warning("%s was built with word segmenter %r but nlpseq now splits with %r: words may map to "
                    "different ids than in training", path, saved, tokenizer.segmenter)
    return tokenizer


def saved_tokenizers(directory: str | Path) -> list[str]:
    """Names of the tokenizers saved in a run folder (``NAME.json`` files holding a tokenizer's
    ``kind``; label lists and other JSON files are not tokenizers)."""
    names = []
    for path in sorted(Path(directory).glob("*.json")):
        if not path.is_file():  # a folder or a FIFO named so is no tokenizer (and a FIFO read blocks)
            continue
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("kind") in ("sentencepiece", "word", "char"):
            names.append(path.stem)
    return names


def copy_tokenizer(source: str | Path, name: str, target: str | Path) -> Tokenizer:
    """Copy tokenizer ``name`` from run folder ``source`` into ``target`` (a warm start keeps its ids);
    read through :func:`load_tokenizer` first, so a damaged file stops here naming it."""
    tokenizer = load_tokenizer(source, name)
    tokenizer.save(target, name)
    return tokenizer
