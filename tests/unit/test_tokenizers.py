"""Tokenizers: exact vocabularies and ids, batch verbs, save/load, sentencepiece specials and round trips."""

import itertools
import json
import logging
import random

import pytest

from nlpseq.config import TokenizerConfig
from nlpseq.errors import ConfigError, DataError
from nlpseq.segmentation import LANGUAGES, segment_words, segment_words_with_offsets
from nlpseq.tokenizers import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIALS,
    UNK_ID,
    WORD_BOUNDARY,
    SentencePieceTokenizer,
    VocabTokenizer,
    build_tokenizer,
    load_tokenizer,
)

# the: 3; cat, dog, sat: 2; "!", a, ran: 1  ->  frequency first, then alphabetical.
CORPUS = ["the cat sat", "the dog sat", "the cat ran", "a dog!", "The"]
WORD_ITOS = [*SPECIALS, "the", "cat", "dog", "sat", "!", "The", "a", "ran"]

SP_WORDS = ["alpha", "beta", "gamma", "delta", "river", "stone", "light", "north", "green", "quiet"]


def sp_corpus() -> list[str]:
    rng = random.Random(0)
    return [" ".join(rng.choice(SP_WORDS) for _ in range(rng.randint(3, 8))) for _ in range(200)]


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def sp_tokenizer(request) -> SentencePieceTokenizer:
    return SentencePieceTokenizer.train(sp_corpus(), vocab_size=60, model_type=request.param)


def test_specials_come_first():
    assert SPECIALS == ("<pad>", "<unk>", "<s>", "</s>")
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)


def test_word_vocabulary_order_and_ids():
    tokenizer = VocabTokenizer.build("word", CORPUS)
    assert tokenizer.itos == WORD_ITOS
    assert tokenizer.vocab_size == 12
    assert tokenizer.encode("the dog ran!") == [4, 6, 11, 8]
    assert tokenizer.encode("the zebra sat") == [4, UNK_ID, 7]
    assert tokenizer.tokenize("a dog!") == ["a", "dog", "!"]


def test_word_min_freq_and_max_size():
    assert VocabTokenizer.build("word", CORPUS, min_freq=2).itos == [*SPECIALS, "the", "cat", "dog", "sat"]
    assert VocabTokenizer.build("word", CORPUS, min_freq=2).encode("a cat") == [UNK_ID, 5]
    # max_size counts the four specials.
    assert VocabTokenizer.build("word", CORPUS, max_size=6).itos == [*SPECIALS, "the", "cat"]
    assert VocabTokenizer.build("word", CORPUS, max_size=2).itos == list(SPECIALS)


def test_word_lowercase_merges_cases():
    tokenizer = VocabTokenizer.build("word", CORPUS, lowercase=True)
    assert tokenizer.itos == [*SPECIALS, "the", "cat", "dog", "sat", "!", "a", "ran"]
    assert tokenizer.encode("THE Cat") == [4, 5]
    assert VocabTokenizer.build("word", CORPUS).encode("THE Cat") == [UNK_ID, UNK_ID]


def test_char_vocabulary_order_and_ids():
    # a: 3, b: 3, " ": 1, c: 1 (" " sorts before "c")
    tokenizer = VocabTokenizer.build("char", ["aab", "b c", "ba"])
    assert tokenizer.itos == [*SPECIALS, "a", "b", " ", "c"]
    assert tokenizer.encode("cab z") == [7, 4, 5, 6, UNK_ID]
    assert tokenizer.decode([7, 4, 5, 6, 4]) == "cab a"


def test_build_from_pre_segment_words():
    word = VocabTokenizer.build("word", words=[["New", "York"], ["New", "Delhi"]])
    assert word.itos == [*SPECIALS, "New", "Delhi", "York"]
    char = VocabTokenizer.build("char", words=[["ab"], ["b"]])
    assert char.itos == [*SPECIALS, "b", "a"]


def test_encode_one_or_a_batch_gives_the_same_rows():
    tokenizer = VocabTokenizer.build("word", CORPUS)
    texts = ["the cat sat", "a dog!", "", "the zebra"]
    assert tokenizer.encode(texts) == [tokenizer.encode(t) for t in texts]
    assert tokenizer.encode(texts) == [[4, 5, 7], [10, 6, 8], [], [4, UNK_ID]]
    assert tokenizer.encode([]) == []


def test_decode_round_trips_known_words_and_drops_pad_bos_eos():
    tokenizer = VocabTokenizer.build("word", CORPUS)
    assert tokenizer.decode(tokenizer.encode("the cat sat")) == "the cat sat"
    assert tokenizer.decode([BOS_ID, 4, 5, EOS_ID, PAD_ID, PAD_ID]) == "the cat"
    assert tokenizer.decode([4, UNK_ID]) == "the <unk>"
    assert tokenizer.decode([[4, 5], [6, PAD_ID]]) == ["the cat", "dog"]


def test_encode_words():
    word = VocabTokenizer.build("word", CORPUS, lowercase=True)
    assert word.encode_words(["The", "cat", "zebra"]) == [[4], [5], [UNK_ID]]
    char = VocabTokenizer.build("char", ["aab", "b c"])
    assert char.encode_words(["ab", "c", "x"]) == [[4, 5], [7], [UNK_ID]]


def test_from_vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("the\t10\n<unk>\t0\ncat\t5\nthe\t1\nDog\n", encoding="utf-8")
    tokenizer = VocabTokenizer.from_vocab_file("word", path)
    assert tokenizer.itos == [*SPECIALS, "the", "cat", "Dog"]
    assert tokenizer.encode("the Dog cat sat") == [4, 6, 5, UNK_ID]


def test_from_vocab_file_errors(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("the\n\ncat\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        VocabTokenizer.from_vocab_file("word", path)
    assert str(info.value) == f"{path}:2: empty vocabulary entry"
    with pytest.raises(ConfigError, match=r"^tokenizer\.vocab_file: .*missing\.txt not found$"):
        VocabTokenizer.from_vocab_file("word", tmp_path / "missing.txt")


def test_vocabulary_must_start_with_the_specials():
    with pytest.raises(ValueError, match="must start with"):
        VocabTokenizer("word", ["the", *SPECIALS])
    with pytest.raises(ValueError, match="kind must be"):
        VocabTokenizer("byte", list(SPECIALS))


@pytest.mark.parametrize("kind", ["word", "char"])
def test_vocab_tokenizer_save_load_gives_identical_ids(tmp_path, kind):
    tokenizer = VocabTokenizer.build(kind, CORPUS, lowercase=True)
    tokenizer.save(tmp_path, "words")
    loaded = load_tokenizer(tmp_path, "words")
    assert isinstance(loaded, VocabTokenizer)
    assert (loaded.kind, loaded.lowercase, loaded.itos) == (kind, True, tokenizer.itos)
    batch = ["The cat sat!", "a zebra ran", ""]
    assert loaded.encode(batch) == tokenizer.encode(batch)


def test_load_tokenizer_missing(tmp_path):
    with pytest.raises(DataError, match=r"tokenizer.json: tokenizer file missing from the run folder"):
        load_tokenizer(tmp_path, "tokenizer")


def test_sentencepiece_specials(sp_tokenizer):
    processor = sp_tokenizer.processor
    assert [processor.id_to_piece(i) for i in range(4)] == list(SPECIALS)
    assert (processor.pad_id(), processor.unk_id(), processor.bos_id(), processor.eos_id()) == (0, 1, 2, 3)
    assert 30 < sp_tokenizer.vocab_size <= 60
    ids = sp_tokenizer.encode("alpha river")
    assert ids and all(i >= 4 for i in ids)


def test_sentencepiece_round_trip_and_batch(sp_tokenizer):
    texts = ["alpha beta gamma", "quiet green north stone", "light", "river delta alpha alpha"]
    ids = sp_tokenizer.encode(texts)
    assert ids == [sp_tokenizer.encode(t) for t in texts]
    assert sp_tokenizer.decode(ids) == texts
    assert [sp_tokenizer.decode(row) for row in ids] == texts
    # A word the corpus never had still round-trips through pieces of its letters.
    assert sp_tokenizer.decode(sp_tokenizer.encode("gentle dial")) == "gentle dial"
    assert "".join(sp_tokenizer.tokenize("alpha beta")).replace("\u2581", " ").strip() == "alpha beta"


def test_sentencepiece_unknown_character_is_unk(sp_tokenizer):
    assert UNK_ID in sp_tokenizer.encode("alpha Ω")


def test_sentencepiece_encode_words(sp_tokenizer):
    rows = sp_tokenizer.encode_words(["alpha", "quiet"])
    assert rows == [sp_tokenizer.encode("alpha"), sp_tokenizer.encode("quiet")]


def test_sentencepiece_save_load_gives_identical_ids(tmp_path, sp_tokenizer):
    sp_tokenizer.save(tmp_path, "sp")
    assert (tmp_path / "sp.model").is_file()
    loaded = load_tokenizer(tmp_path, "sp")
    assert isinstance(loaded, SentencePieceTokenizer)
    batch = ["alpha beta gamma", "north light river quiet", "gentle dial"]
    assert loaded.encode(batch) == sp_tokenizer.encode(batch)
    assert loaded.vocab_size == sp_tokenizer.vocab_size


def test_sentencepiece_lowercase():
    tokenizer = SentencePieceTokenizer.train(sp_corpus(), vocab_size=60, model_type="bpe", lowercase=True)
    assert tokenizer.encode("ALPHA River") == tokenizer.encode("alpha river")
    assert tokenizer.decode(tokenizer.encode("ALPHA River")) == "alpha river"


def test_build_tokenizer_word_and_char():
    word = build_tokenizer(TokenizerConfig(kind="word", min_freq=2), CORPUS)
    assert isinstance(word, VocabTokenizer) and word.kind == "word"
    assert word.itos == [*SPECIALS, "the", "cat", "dog", "sat"]
    char = build_tokenizer(TokenizerConfig(kind="char", max_size=6), ["aab", "b c"])
    assert char.kind == "char" and char.itos == [*SPECIALS, "a", "b"]
    lower = build_tokenizer(TokenizerConfig(kind="word", lowercase=True), CORPUS)
    assert lower.lowercase and lower.encode("THE") == [4]


def test_build_tokenizer_from_vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("zebra\nthe\n", encoding="utf-8")
    tokenizer = build_tokenizer(TokenizerConfig(kind="word", vocab_file=str(path)), CORPUS)
    assert tokenizer.itos == [*SPECIALS, "zebra", "the"]


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_build_tokenizer_sentencepiece(model_type):
    config = TokenizerConfig(kind="sentencepiece", vocab_size=50, model_type=model_type)
    tokenizer = build_tokenizer(config, sp_corpus())
    assert isinstance(tokenizer, SentencePieceTokenizer)
    assert tokenizer.vocab_size <= 50
    assert tokenizer.decode(tokenizer.encode("green stone")) == "green stone"
    # Pre-split words (tagging data) are joined into sentences for training.
    from_words = build_tokenizer(config, words=[text.split() for text in sp_corpus()])
    assert from_words.encode("green stone") == tokenizer.encode("green stone")


# --- word segmentation (Moses, Penn Treebank contractions for English) -------------------------------

@pytest.mark.parametrize(("text", "words"), [
    ("Mr. Smith can't go.", ["Mr.", "Smith", "ca", "n't", "go", "."]),
    ("I cannot", ["I", "can", "not"]),
    ("don't", ["do", "n't"]),
    ("it's", ["it", "'s"]),
    ("DON'T WON'T", ["DO", "N'T", "WO", "N'T"]),
    ("we'll, they're, I'm, you've, he'd", ["we", "'ll", ",", "they", "'re", ",", "I", "'m", ",", "you",
                                           "'ve", ",", "he", "'d"]),
    ("It costs 3.5 or 1,000 U.S. dollars at 10:30, 3/4 off.",
     ["It", "costs", "3.5", "or", "1,000", "U.S.", "dollars", "at", "10:30", ",", "3/4", "off", "."]),
    ("A well-made film... really?!", ["A", "well-made", "film", "...", "really", "?", "!"]),
    ("gonna wanna", ["gon", "na", "wan", "na"]),
    # The typographic apostrophe splits like the ASCII one and is kept as written.
    ("can’t it’s", ["ca", "n’t", "it", "’s"]),
    # Quotes and brackets are words of their own and are never rewritten (no `` '' or -LRB-).
    ('He said "hi" (twice) & “bye”', ["He", "said", '"', "hi", '"', "(", "twice", ")", "&", "“", "bye", "”"]),
    # A quote at either end of the text splits off as it does inside it.
    ("'Hello' he said 'no'", ["'", "Hello", "'", "he", "said", "'", "no", "'"]),
    ("", []),
    (" \t\n ", []),
])
def test_segment_words_english(text, words):
    assert segment_words(text) == words
    assert segment_words(text, language="en") == words


@pytest.mark.parametrize(("text", "words"), [
    ("l'homme", ["l'", "homme"]),
    ("aujourd'hui", ["aujourd'hui"]),
    ("J'ai vu l’homme aujourd’hui, n'est-ce pas ? Quelqu'un d'autre.",
     ["J'", "ai", "vu", "l’", "homme", "aujourd’hui", ",", "n'", "est-ce", "pas", "?", "Quelqu'un", "d'",
      "autre", "."]),
    ("C'est M. Dupont.", ["C'", "est", "M.", "Dupont", "."]),
])
def test_segment_words_french(text, words):
    assert segment_words(text, language="fr") == words


def test_segment_words_language_rules_differ():
    assert segment_words("can't", language="fr") == ["can'", "t"]
    assert segment_words("l'homme", language="en") == ["l", "'homme"]
    with pytest.raises(ValueError, match="no word segmentation rules for language 'english'"):
        segment_words("hi", language="english")


def test_languages_are_those_sacremoses_has_rules_for():
    from sacremoses.corpus import NonbreakingPrefixes

    assert LANGUAGES == set(NonbreakingPrefixes().available_langs.values()) | {"ja", "ko"}


TRICKY_TEXTS = [
    "  Don't stop,\twell-made  films!  ",
    'She said "no" and \u201cyes\u201d and \u2018maybe\u2019 -- twice.',
    "Привет, мир! 東京は晴れ。 مرحبا بالعالم",
    "tabs\tand\nnewlines\r\nand\u00a0no-break\u2009spaces",
    "control\x01char\x7f and ...dots.... and DOTDOTMULTI markers",
    "can\u2019t won't 'tis y'all '90s 1990's rock'n'roll",
    "a & b < c > d | e [f] {g} $5 50% #tag @user http://x.com/a?b=1",
    "",
]


@pytest.mark.parametrize("language", ["en", "fr", "de"])
@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_segment_words_with_offsets_slice_back_to_the_words(text, language):
    spans = segment_words_with_offsets(text, language)
    assert [word for word, _, _ in spans] == segment_words(text, language)
    assert all(text[start:end] == word and word for word, start, end in spans)
    assert all(a[2] <= b[1] for a, b in itertools.pairwise(spans))
    # Only whitespace (and control characters) falls between words.
    covered = {i for _, start, end in spans for i in range(start, end)}
    assert all(text[i].isspace() or text[i] < " " for i in range(len(text)) if i not in covered)


def test_segment_words_with_offsets_exact():
    text = "  Don't stop,\twell-made  films!"
    assert segment_words_with_offsets(text) == [
        ("Do", 2, 4), ("n't", 4, 7), ("stop", 8, 12), (",", 12, 13), ("well-made", 14, 23), ("films", 25, 30),
        ("!", 30, 31)]


def test_segment_words_with_offsets_random_text():
    """Exact offsets on random strings of the characters the segmenter treats specially."""
    pieces = [*"aAnNtTs03 .,:/'’\"“”‘`-()&@#!?\t\n\u00a0\x01é東", "n't", "cannot", "DOTMULTI", "...", "Mr.",
              "U.S.", "aujourd'hui"]
    rng = random.Random(0)
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        for language in ("en", "fr"):
            spans = segment_words_with_offsets(text, language)
            assert all(text[start:end] == word and word for word, start, end in spans), (text, spans)


def test_word_tokenizer_lowercases_after_segmentation():
    # Segmenting the lowercased text would keep "home." whole (a "." before a lowercase word is an
    # abbreviation to Moses); the tokenizer splits the text as written.
    tokenizer = VocabTokenizer.build("word", ["We went home. Then we ate."], lowercase=True)
    assert tokenizer.tokenize("We went HOME. Then") == ["we", "went", "home", ".", "then"]


def test_word_tokenizer_built_on_text_reloads_with_identical_ids(tmp_path):
    texts = ["Mr. Smith can't go.", "It's 3.5 U.S. dollars, they'll say.", "I cannot believe it!"]
    tokenizer = build_tokenizer(TokenizerConfig(kind="word"), texts)
    assert {"Mr.", "ca", "n't", "3.5", "U.S.", "'ll", "can", "not"} <= set(tokenizer.itos)
    tokenizer.save(tmp_path, "words")
    meta = json.loads((tmp_path / "words.json").read_text(encoding="utf-8"))
    assert (meta["segmenter"], meta["language"]) == ("moses-penn-en", "en")
    loaded = load_tokenizer(tmp_path, "words")
    assert (loaded.segmenter, loaded.language, loaded.itos) == ("moses-penn-en", "en", tokenizer.itos)
    batch = [*texts, "Mrs. Smith won't go", ""]
    assert loaded.encode(batch) == tokenizer.encode(batch)


def test_french_word_tokenizer_records_its_segmenter(tmp_path):
    tokenizer = build_tokenizer(TokenizerConfig(kind="word", language="fr"), ["l'homme aujourd'hui"])
    assert tokenizer.itos == [*SPECIALS, "aujourd'hui", "homme", "l'"]
    tokenizer.save(tmp_path, "fr")
    meta = json.loads((tmp_path / "fr.json").read_text(encoding="utf-8"))
    assert (meta["segmenter"], meta["language"]) == ("moses-fr", "fr")
    loaded = load_tokenizer(tmp_path, "fr")
    assert loaded.language == "fr"
    assert loaded.encode("L'homme aujourd'hui") == tokenizer.encode("L'homme aujourd'hui") == [UNK_ID, 5, 4]


def test_segmenter_is_part_of_the_saved_file(tmp_path):
    # The tokenisation cache is keyed on a hash of the tokenizer files: the same vocabulary split by
    # other rules must not give the same file.
    itos = [*SPECIALS, "l'", "homme"]
    VocabTokenizer("word", itos, language="en").save(tmp_path, "en")
    VocabTokenizer("word", itos, language="fr").save(tmp_path, "fr")
    assert (tmp_path / "en.json").read_bytes() != (tmp_path / "fr.json").read_bytes()
    # The char kind does not split words, so it records no segmenter.
    VocabTokenizer("char", [*SPECIALS, "a"]).save(tmp_path, "chars")
    meta = json.loads((tmp_path / "chars.json").read_text(encoding="utf-8"))
    assert "segmenter" not in meta and "language" not in meta
    assert load_tokenizer(tmp_path, "chars").segmenter is None


def test_tokenizer_saved_without_a_segmenter_loads_as_english(tmp_path):
    # Files written before the segmenter was recorded (by the old regex segmenter).
    meta = {"kind": "word", "lowercase": False, "normalize_digits": False, "itos": [*SPECIALS, "do", "n't"]}
    (tmp_path / "old.json").write_text(json.dumps(meta), encoding="utf-8")
    loaded = load_tokenizer(tmp_path, "old")
    assert (loaded.segmenter, loaded.language) == ("moses-penn-en", "en")
    assert loaded.encode("don't") == [4, 5]


def test_tokenizer_saved_with_the_old_split_keys_loads(tmp_path, caplog):
    # Before "split" named dataset splits only, tokenizer files said pre_split and splitter.
    meta = {"kind": "word", "lowercase": False, "itos": [*SPECIALS, "don't"], "pre_split": True,
            "splitter": "whitespace", "language": "en"}
    (tmp_path / "old.json").write_text(json.dumps(meta), encoding="utf-8")
    loaded = load_tokenizer(tmp_path, "old")
    assert (loaded.pretokenized, loaded.segmenter) == (True, "whitespace")
    assert loaded.encode("don't") == [4] and not caplog.records


def test_tokenizer_saved_by_other_segmentation_rules_warns(tmp_path, caplog):
    meta = {"kind": "word", "lowercase": False, "segmenter": "moses-penn-en-0", "language": "en",
            "itos": list(SPECIALS)}
    (tmp_path / "future.json").write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="nlpseq.data"):
        load_tokenizer(tmp_path, "future")
    assert ("built with word segmenter 'moses-penn-en-0' but nlpseq now splits with 'moses-penn-en'"
            in caplog.text)


def test_unknown_language_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^tokenizer\.language: no word segmentation rules for 'english'"):
        build_tokenizer(TokenizerConfig(kind="word", language="english"), CORPUS)
    # Sentencepiece and char tokenizers do not split words: the language does not matter to them.
    assert build_tokenizer(TokenizerConfig(kind="char", language="english"), CORPUS).kind == "char"


def test_every_kind_keeps_the_one_protocol(sp_tokenizer):
    """Tasks call piece() and word_boundary_id on whatever tokenizer they hold, never its class."""
    word = VocabTokenizer.build("word", ["the cat sat", "the dog"])
    char = VocabTokenizer.build("char", ["ab ba"])
    assert [word.piece(i) for i in word.encode("the cat")] == ["the", "cat"]
    assert [char.piece(i) for i in char.encode("ab")] == ["a", "b"]
    pieces = [sp_tokenizer.piece(i) for i in sp_tokenizer.encode("alpha river")]
    assert "".join(pieces).replace(WORD_BOUNDARY, " ").strip() == "alpha river"
    assert {t.piece(EOS_ID) for t in (word, char, sp_tokenizer)} == {"</s>"}
    assert word.word_boundary_id is None and char.word_boundary_id is None
    boundary = sp_tokenizer.word_boundary_id  # the bare "▁" piece, when the model has one
    assert boundary is None or sp_tokenizer.piece(boundary) == WORD_BOUNDARY
