"""What a tagging run reads: raw lines, lists of words, CoNLL columns; long sentences in chunks; the
shape of each word.

No model here: these turn inputs into word lists with character offsets (the entity spans of a
``predict`` result point into them), CoNLL lines back into CoNLL lines with one more column, and
words into their shape classes (a model input beside the word and character ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from nlpseq.segmentation import segment_words_with_offsets

Word = tuple[str, int, int]  # a word and its [start, end) character offsets into its text
T = TypeVar("T")

# Longer "words" (URLs, tables flattened into one token) keep their first characters only: the
# char features see enough of them, and one such token would otherwise widen the whole batch.
MAX_WORD_CHARS = 40

def casing(word: str) -> int:
    """Word shape class (0 is padding): lower, Capitalised, UPPER, mIxed, number, has digit, other.

    The word vocabulary is usually lower-cased; this keeps the case signal that NER depends on.
    """
    if word.isdigit():
        return 5
    if any(c.isdigit() for c in word):
        return 6
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return 7
    if all(c.islower() for c in letters):
        return 1
    if all(c.isupper() for c in letters):
        return 3
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return 2
    return 4


# Shape classes :func:`casing` returns, padding (0) included.
NUM_CASES = 8


# A CoNLL-2003 document marker: copied through (tagged O, as in the CoNLL files), never tagged.
DOCSTART = "-DOCSTART-"


def words_of(item: str | Sequence[str], language: str) -> tuple[str, list[Word]]:
    """The text and its words of one input: a raw line is split into words (Penn-Treebank-like);
    a list of words is taken as it is (no re-segmentation: "New York" stays one word), and its
    offsets are into the words joined with single spaces, which is the text returned."""
    if isinstance(item, str):
        return item, segment_words_with_offsets(item, language)
    words, start = [], 0
    for word in item:
        words.append((word, start, start + len(word)))
        start += len(word) + 1
    return " ".join(item), words


def entities(text: str, words: Sequence[Word], spans: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """Entity records of ``spans`` (type, first word, end word) with character offsets into ``text``."""
    return [{"type": kind, "start": words[first][1], "end": words[end - 1][2],
             "text": text[words[first][1]:words[end - 1][2]]} for kind, first, end in spans]


def chunks(words: Sequence[T], size: int) -> list[Sequence[T]]:
    """``words`` in consecutive pieces of at most ``size`` (one piece, possibly empty, if it fits)."""
    if len(words) <= size:
        return [words]
    return [words[start:start + size] for start in range(0, len(words), size)]


def is_separator(line: str) -> bool:
    """A CoNLL line that is no word: blank (ends a sentence) or a -DOCSTART- document marker."""
    fields = line.split()
    return not fields or fields[0] == DOCSTART


def conll_sentences(lines: Sequence[str]) -> list[list[int]]:
    """The sentences of CoNLL lines as lists of line indices: runs of word lines between separators."""
    sentences: list[list[int]] = []
    current: list[int] = []
    for index, line in enumerate(lines):
        if is_separator(line):
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(index)
    if current:
        sentences.append(current)
    return sentences


def conll_word(line: str) -> str:
    """The word of a CoNLL word line: its first column."""
    return line.split()[0]


def with_tag(line: str, tag: str) -> str:
    """A CoNLL line with one more column, ``tag``, separated as the line's columns are (tab or space)."""
    line = line.rstrip()
    separator = "\t" if "\t" in line else " "
    return f"{line}{separator}{tag}"


def conll_results(lines: Sequence[str], sentences: list[list[int]], tags: list[list[str]]
                  ) -> list[dict[str, Any]]:
    """One ``predict`` result per CoNLL line, given the tags of each of its ``sentences``: a word line
    gets ``word``, ``tag`` and ``conll`` (the line with the tag as one more column); a blank line
    gives ``conll`` "" and a -DOCSTART- marker is copied, tagged O as CoNLL files have it.

    A sentence is the word lines up to a separator, so ``lines`` should end after one
    (``nlpseq.inputs.input_batches(..., blocks=True)``): one cut by the end of ``lines`` is tagged as
    two sentences."""
    results: list[dict[str, Any]] = [{"word": None, "tag": None,
                                      "conll": with_tag(line, "O") if line.strip() else ""} for line in lines]
    for sentence, sentence_tags in zip(sentences, tags, strict=True):
        for index, tag in zip(sentence, sentence_tags, strict=True):
            results[index] = {"word": conll_word(lines[index]), "tag": tag,
                              "conll": with_tag(lines[index], tag)}
    return results
