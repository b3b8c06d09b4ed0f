"""Segmenting raw text into words, with exact character offsets.

Raw text is split into words (word tokenizers, raw-text tagging) by the Moses tokenizer of
``sacremoses``, ``MosesTokenizer(language).tokenize(text, escape=False)`` without aggressive dash
splits, with the language's non-breaking prefixes ("Mr.", "U.S." stay whole) and apostrophe rules:

- English (``moses-penn-en``): Moses plus the Penn Treebank contractions, because the CoNLL-2003 and
  Brown data the taggers train on are tokenised that way and a sentiment model should see negation as
  one token: "can't" -> ca n't, "don't" -> do n't, "cannot" -> can not, "gonna" -> gon na; Moses
  itself gives "it's" -> it 's and keeps "3.5", "1,000", "U.S." and "well-made" whole. sacremoses'
  own ``penn_tokenize`` is not used: it fails on every input in sacremoses 0.2.0 (an uncompiled regex,
  hplt-project/sacremoses#151), and it rewrites characters (brackets to -LRB- and -RRB-, double quotes
  to PTB's opening and closing pairs, "&" to "&amp;" always), which would break character offsets.
- French and Italian (``moses-fr``, ``moses-it``): Moses' elision rule, "l'homme" -> l' homme. In
  French the few words whose apostrophe is not an elision ("aujourd'hui", "quelqu'un", "presqu'île",
  "prud'homme") stay whole, as in the French Treebank.
- Any other language Moses has non-breaking prefixes for (``moses-de``, ...): Moses as it is.

On top of Moses, for every language: every word is an exact slice of the input (characters are never
escaped or rewritten), which is what lets :func:`segment_words_with_offsets` give exact offsets; the
typographic apostrophe ’ splits like ' ("don’t" -> do n’t); a quote that opens or closes the text
splits off as it does inside it ("'Hello'" -> ' Hello ', as in Moses' Perl original); digits joined
by ":" or "/" stay whole ("10:30", "3/4"), as in the Penn Treebank; control characters separate words
instead of vanishing.

Segmentation runs at ~120k words/s on one core, about 10x slower than a single regex, once per dataset (the
tokenised splits are cached).

The segmenter's name is saved with every word tokenizer, so the tokenisation cache (keyed on a hash of
the tokenizer files) follows the segmentation rules: give the rules a new name when they change.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sacremoses import MosesTokenizer

__all__ = ["LANGUAGES", "check_language", "segment_words", "segment_words_with_offsets", "segmenter_name"]

# The languages sacremoses has non-breaking prefixes for (``NonbreakingPrefixes().available_langs``),
# plus the two more it has CJK rules for. Listed here because importing sacremoses takes ~0.5 s, paid
# only by processes that split words.
LANGUAGES = frozenset({
    "as", "bn", "ca", "cs", "de", "el", "en", "es", "et", "fi", "fr", "ga", "gu", "hi", "hu", "is", "it",
    "ja", "kn", "ko", "lt", "lv", "ml", "mni", "mr", "nl", "or", "pa", "pl", "pt", "ro", "ru", "sk", "sl",
    "sv", "ta", "tdt", "te", "yue", "zh",
})

# Moses sees a masked copy of the text, of the same length, so that its words are slices of the input
# even where its rules would drop or rewrite characters. Masks applied (the masked text -> why):
# - control characters -> space: Moses deletes them, which would glue "a\x01b" into "ab";
# - its own multi-dot markers ("DOTDOTMULTI") -> lowercase: Moses would turn them into dots;
# - ’ -> ': Moses' apostrophe rules know the ASCII one only;
# - ":" or "/" between digits -> "0": keeps times and fractions whole.
_CONTROL_RE = re.compile(r"[\x00-\x1f]")
_MULTIDOT_MARKER_RE = re.compile(r"(?:DOT)+MULTI")
_DIGIT_JOIN_RE = re.compile(r"(?<=\d)[:/](?=\d)")
# French words whose apostrophe is not an elision: the apostrophe is masked as a letter.
_FR_WHOLE_RE = re.compile(r"\b(?:aujourd'hui|prud'hom|quelqu'une?s?\b|presqu'îles?\b)", re.IGNORECASE)
# A word that stands for the edges of the text (see _split_spans).
_EDGE = "X"
# Penn Treebank splits of English words with no apostrophe: word -> where it splits.
_EN_SPLITS = {"cannot": 3, "gimme": 3, "gonna": 3, "gotta": 3, "lemme": 3, "wanna": 3}


def segmenter_name(language: str = "en") -> str:
    """The name of the word segmentation rules for ``language`` (saved with every word tokenizer)."""
    return "moses-penn-en" if language == "en" else f"moses-{language}"


@functools.cache  # one per language: the CJK ones take ~0.2 s to build
def _moses(language: str) -> MosesTokenizer:
    """sacremoses' ``MosesTokenizer(language)``, with its two character-class tests on sets built once.

    sacremoses builds a set of all ~130k Unicode letters on every call of ``isanyalpha`` (once per
    word ending in "."), which is most of its time (hplt-project/sacremoses#149, not merged).
    """
    if language not in LANGUAGES:
        raise ValueError(f"no word segmentation rules for language {language!r}; "
                         f"valid languages: {', '.join(sorted(LANGUAGES))}")
    from sacremoses import MosesTokenizer

    moses = MosesTokenizer(language)
    letters, lowercase = frozenset(moses.IsAlpha), frozenset(moses.IsLower)
    moses.isanyalpha = lambda text: not letters.isdisjoint(text)
    moses.islower = lambda text: lowercase.issuperset(text)
    return moses


def check_language(language: str) -> None:
    """Raise ValueError naming the valid languages when ``language`` has no segmentation rules."""
    _moses(language)


def _mask(text: str, language: str) -> str:
    masked = _CONTROL_RE.sub(" ", text).replace("’", "'")
    masked = _MULTIDOT_MARKER_RE.sub(lambda m: m.group().lower(), masked)
    masked = _DIGIT_JOIN_RE.sub("0", masked)
    if language == "fr":
        masked = _FR_WHOLE_RE.sub(lambda m: m.group().replace("'", "x"), masked)
    return masked


def _penn_contractions(masked: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Moses' English spans -> Penn Treebank's: "can" "'t" -> "ca" "n't"; "cannot" -> "can" "not"."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        word = masked[start:end].lower()
        if word == "'t" and out and out[-1][1] == start and masked[start - 1] in "nN":
            previous_start = out.pop()[0]
            if start - 1 > previous_start:  # "n" "'t" alone is one word
                out.append((previous_start, start - 1))
            out.append((start - 1, end))
        elif word in _EN_SPLITS:
            out += [(start, start + _EN_SPLITS[word]), (start + _EN_SPLITS[word], end)]
        else:
            out.append((start, end))
    return out


def _split_spans(text: str, language: str) -> list[tuple[int, int]]:
    masked = _mask(text, language)
    # Moses' Perl original pads the text with spaces so that its apostrophe rules see a character on
    # both sides of a quote that opens or closes the text ("'Hello' ..."); sacremoses strips them, so
    # a word stands in for the padding here, and goes.
    tokens = _moses(language).tokenize(f"{_EDGE} {masked} {_EDGE}", escape=False)
    if tokens[0] != _EDGE or tokens[-1] != _EDGE:
        raise RuntimeError(f"word segmentation lost its edge markers in {text!r}")
    spans = []
    position = 0
    for token in tokens[1:-1]:
        start = masked.find(token, position)
        # Moses only inserts spaces into the masked text, so each token follows the last after
        # whitespace at most; anything else is a rewrite the masks missed.
        if start < 0 or (start > position and not masked[position:start].isspace()):
            raise RuntimeError(f"word segmentation changed the text: {token!r} not found at {position} "
                               f"in {text!r}")
        position = start + len(token)
        spans.append((start, position))
    return _penn_contractions(masked, spans) if language == "en" else spans


def segment_words(text: str, language: str = "en") -> list[str]:
    """Split raw text into words and punctuation (used by word tokenizers and raw-text tagging).

    See the module docstring for the rules; every word is a slice of ``text``.
    """
    return [text[start:end] for start, end in _split_spans(text, language)]


def segment_words_with_offsets(text: str, language: str = "en") -> list[tuple[str, int, int]]:
    """Like :func:`segment_words`, with each word's [start, end) character offsets into ``text``."""
    return [(text[start:end], start, end) for start, end in _split_spans(text, language)]
