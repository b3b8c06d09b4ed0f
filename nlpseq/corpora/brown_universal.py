"""Brown base tags -> the 12 universal tags of Petrov, Das & McDonald (2012).

Keys are the 92 base tags :func:`nlpseq.corpora.brown.base_tag` leaves once the ``-tl -hl -nc``
suffixes, the ``fw-`` prefix, negation ``*`` and all but the first part of ``+`` compounds are
gone. The table follows the universal tagset's own reading of the Penn Treebank (the tagset
most readers know) wherever a Brown tag has a PTB counterpart:

- auxiliaries and modals (be, do, have, md) are VERB: the 12-tag set has no AUX;
- subordinating conjunctions (``cs``: that, if, because) are ADP, as PTB ``IN`` is;
- possessive forms (``nn$``, ``pn$``, ``jj$`` ...) keep the class of the word without ``$``:
  the ``'s`` is part of the token, not a separate particle;
- wh-determiners are DET, wh-pronouns PRON, wh-adverbs ADV, as PTB ``WDT WP WRB``;
- negation ``*`` (not, n't) is ADV, as PTB ``RB``;
- ``nil`` marks the corpus's untagged leftovers (stray brackets, numbers): X;
- foreign words (``fw-nn``, 1,226 tokens) get the class of their underlying tag, because the
  base tag drops ``fw-``; a user who wants them as X finds the prefix in ``brown_full``.

Nothing here maps by default: :func:`nlpseq.corpora.brown.to_universal` raises on a tag not in
this table, so a new tag in the data cannot silently become X.
"""

from __future__ import annotations

UNIVERSAL_TAGS: tuple[str, ...] = (
    "NOUN",
    "VERB",
    "ADJ",
    "ADV",
    "PRON",
    "DET",
    "ADP",
    "NUM",
    "CONJ",
    "PRT",
    ".",
    "X",
)

BROWN_TO_UNIVERSAL: dict[str, str] = {
    # Punctuation. Brown's "." also covers ; ? ! and "," a few brackets tagged as commas.
    "'": ".",
    "''": ".",
    "``": ".",
    "(": ".",
    ")": ".",
    ",": ".",
    "--": ".",
    ".": ".",
    ":": ".",
    # Negation: not, n't.
    "*": "ADV",
    # Pre-qualifiers (quite, rather, such) modify adjectives and adverbs like PTB RB.
    "abl": "ADV",
    # Pre-quantifiers (all, half, both) are PTB PDT/DT.
    "abn": "DET",
    "abx": "DET",
    # Post-determiners (many, other, next, last) are PTB JJ.
    "ap": "ADJ",
    "ap$": "ADJ",
    # Articles (the, a, no, every).
    "at": "DET",
    # Forms of be, do, have and the modals.
    "be": "VERB",
    "bed": "VERB",
    "bedz": "VERB",
    "beg": "VERB",
    "bem": "VERB",
    "ben": "VERB",
    "ber": "VERB",
    "bez": "VERB",
    "do": "VERB",
    "dod": "VERB",
    "doz": "VERB",
    "hv": "VERB",
    "hvd": "VERB",
    "hvg": "VERB",
    "hvn": "VERB",
    "hvz": "VERB",
    "md": "VERB",
    # Conjunctions: coordinating -> CONJ, subordinating -> ADP (see the module docstring).
    "cc": "CONJ",
    "cs": "ADP",
    # Cardinal numbers; ordinals (first, second) are adjectives as in PTB.
    "cd": "NUM",
    "cd$": "NUM",
    "od": "ADJ",
    # Determiners (this, some, these, either) and existential there (PTB EX -> DET).
    "dt": "DET",
    "dt$": "DET",
    "dti": "DET",
    "dts": "DET",
    "dtx": "DET",
    "ex": "DET",
    # Prepositions.
    "in": "ADP",
    # Adjectives: plain, comparative, semantically superlative (main, chief), superlative.
    "jj": "ADJ",
    "jj$": "ADJ",
    "jjr": "ADJ",
    "jjs": "ADJ",
    "jjt": "ADJ",
    # Untagged leftovers of the corpus.
    "nil": "X",
    # Nouns: common, proper, adverbial (home, today, Sunday), singular and plural.
    "nn": "NOUN",
    "nn$": "NOUN",
    "nns": "NOUN",
    "nns$": "NOUN",
    "np": "NOUN",
    "np$": "NOUN",
    "nps": "NOUN",
    "nps$": "NOUN",
    "nr": "NOUN",
    "nr$": "NOUN",
    "nrs": "NOUN",
    # Pronouns: nominal (something, one), possessive, reflexive, object, subject.
    "pn": "PRON",
    "pn$": "PRON",
    "pp$": "PRON",
    "pp$$": "PRON",
    "ppl": "PRON",
    "ppls": "PRON",
    "ppo": "PRON",
    "pps": "PRON",
    "ppss": "PRON",
    # Qualifiers (very, too) and post-qualifiers (enough, indeed) are PTB RB.
    "ql": "ADV",
    "qlp": "ADV",
    # Adverbs: plain, possessive (else's), comparative, superlative, nominal (here, afar).
    "rb": "ADV",
    "rb$": "ADV",
    "rbr": "ADV",
    "rbt": "ADV",
    "rn": "ADV",
    # Particles: verb particles (up, out) and infinitival to.
    "rp": "PRT",
    "to": "PRT",
    # Interjections: the universal set has no INTJ, and PTB UH maps to X.
    "uh": "X",
    # Lexical verbs.
    "vb": "VERB",
    "vbd": "VERB",
    "vbg": "VERB",
    "vbn": "VERB",
    "vbz": "VERB",
    # Wh-words.
    "wdt": "DET",
    "wp$": "PRON",
    "wpo": "PRON",
    "wps": "PRON",
    "wql": "ADV",
    "wrb": "ADV",
}
