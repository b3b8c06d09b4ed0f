"""Plain-text helpers of the pretraining corpora: paragraphs, sentences, and markup stripped to prose.

The pretraining sources come as running text (State of the Union addresses, Wikipedia extracts, a
novel), as MediaWiki markup (gensim's test articles) and as roff (French manual pages). Everything
becomes one sentence a line, because the mix is deduplicated and filtered sentence by sentence.

The sentence splitter is a rule, not a model: a break after ``.``/``!``/``?`` (and any closing
quotes or brackets) followed by space and an upper-case letter, digit or opening quote, unless the
word before the stop is a known abbreviation or a single capital (an initial). It errs towards long
sentences, which cost nothing here: a missed break only makes a line longer.
"""

from __future__ import annotations

import re

_SPACE = re.compile(r"\s+")
_BREAK = re.compile(r"([.!?]+[\"'\u201d\u2019)\]]*)\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9\u00c0-\u00dd])")
_LAST_WORD = re.compile(r"(\S+)$")
# Lower-cased, without the stop. English and French forms both: one splitter serves both mixes.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr st jr sr prof gen gov col capt lt sgt rev hon messrs mme mlle mm m no nos vol vols "
    "fig figs ch chap art sec p pp ed eds etc e.g i.e cf vs al approx dept est inc ltd co corp jan feb "
    "mar apr jun jul aug sep sept oct nov dec u.s u.s.a u.k d.c a.m p.m ave bros".split())


def collapse(text: str) -> str:
    """Whitespace runs (newlines included) to one space, ends stripped."""
    return _SPACE.sub(" ", text).strip()


def paragraphs(text: str) -> list[str]:
    """Blocks of non-blank lines, each joined into one line of collapsed text."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return [block for block in (collapse(block) for block in blocks) if block]


def split_sentences(text: str) -> list[str]:
    """The sentences of one paragraph (whitespace collapsed first), in order; none for blank text."""
    text = collapse(text)
    sentences: list[str] = []
    start = 0
    for match in _BREAK.finditer(text):
        before = _LAST_WORD.search(text, start, match.start())
        word = (before.group(1) if before else "").lower().lstrip("(\"'\u201c\u2018")
        if match.group(1).startswith(".") and (word in ABBREVIATIONS or re.fullmatch(r"[a-z]", word)):
            continue
        sentences.append(text[start:match.end(1)])
        start = match.end()
    if start < len(text):
        sentences.append(text[start:])
    return [sentence for sentence in sentences if sentence]


def running_text(text: str) -> list[str]:
    """Paragraphs (blank-line separated) split into sentences: a book, an address, an extract."""
    return [sentence for block in paragraphs(text) for sentence in split_sentences(block)]


# --- MediaWiki markup --------------------------------------------------------------------------

_WIKI_DROP = [
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"<ref[^>/]*/>", re.I),
    re.compile(r"<ref[^>]*>.*?</ref>", re.I | re.S),
    re.compile(r"<(math|gallery|timeline|code|pre|score|syntaxhighlight)[^>]*>.*?</\1>", re.I | re.S),
]
_WIKI_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_WIKI_EXTERNAL = re.compile(r"\[(?:https?|ftp)://\S+(?: ([^\]]*))?\]")
_WIKI_FILE = re.compile(r"^(?:file|image|category|media):", re.I)


def _drop_nested(text: str, opening: str, closing: str) -> str:
    """Remove every (possibly nested) ``opening ... closing`` span: templates ``{{ }}``, tables ``{| |}``."""
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(text):
        if text.startswith(opening, index):
            depth += 1
            index += len(opening)
        elif depth and text.startswith(closing, index):
            depth -= 1
            index += len(closing)
        else:
            if not depth:
                out.append(text[index])
            index += 1
    return "".join(out)


def _drop_file_links(text: str) -> str:
    """Remove ``[[File:...]]``/``[[Category:...]]`` links whole (their captions may hold links)."""
    out: list[str] = []
    index = 0
    while True:
        start = text.find("[[", index)
        if start < 0:
            out.append(text[index:])
            return "".join(out)
        out.append(text[index:start])
        if not _WIKI_FILE.match(text[start + 2:start + 12]):
            out.append("[[")
            index = start + 2
            continue
        depth, index = 0, start
        while index < len(text):
            if text.startswith("[[", index):
                depth, index = depth + 1, index + 2
            elif text.startswith("]]", index):
                depth, index = depth - 1, index + 2
                if depth == 0:
                    break
            else:
                index += 1


def strip_wikitext(markup: str) -> list[str]:
    """The prose paragraphs of one article's wikitext: templates, tables, references, file links,
    headings, lists and HTML dropped, links replaced by their text, bold/italic quotes removed."""
    text = markup
    for pattern in _WIKI_DROP:
        text = pattern.sub("", text)
    text = _drop_nested(_drop_nested(text, "{{", "}}"), "{|", "|}")
    text = _drop_file_links(text)
    text = _WIKI_LINK.sub(r"\1", text)
    text = _WIKI_EXTERNAL.sub(lambda match: match.group(1) or "", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"'{2,}", "", text)
    text = text.replace("&nbsp;", " ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    kept = []
    for line in text.split("\n"):
        stripped = line.strip()
        # Headings, list items, indents, table leftovers and redirects are not running prose.
        if (stripped and stripped[0] in "=*#:;|!{}") or stripped.upper().startswith("#REDIRECT"):
            kept.append("")
        else:
            kept.append(stripped)
    return [block for block in paragraphs("\n".join(kept)) if len(block.split()) >= 5]


# --- roff (manual pages) -----------------------------------------------------------------------

_ROFF_ESCAPES = [
    (re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)"), ""),   # font changes \fB \fI \fR \f(CW \f[B]
    (re.compile(r"\\s[+-]?\d+"), ""),               # size changes
    (re.compile(r"\\\*(?:\[[^\]]*\]|\(..|.)"), ""),  # strings \*(lq
    (re.compile(r"\\\((?:lq|rq|Lq|Rq)"), '"'),
    (re.compile(r"\\\((?:oq|cq|aq)"), "'"),
    (re.compile(r"\\\((?:em|en|hy)"), "-"),
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),        # other named glyphs
    (re.compile(r"\\[-e]"), lambda match: "-" if match.group(0) == "\\-" else "\\"),
    (re.compile(r"\\[&|^~0 ]|\\c|\\:"), lambda match: " " if match.group(0) in ("\\ ", "\\0", "\\~") else ""),
]
_ROFF_TEXT = {"B", "I", "SM", "SB"}
_ROFF_ALTERNATE = {"BR", "RB", "BI", "IB", "RI", "IR"}


def _roff_arguments(rest: str) -> list[str]:
    return [arg[1:-1] if len(arg) > 1 and arg.startswith('"') and arg.endswith('"') else arg
            for arg in re.findall(r'"[^"]*"|\S+', rest)]


def _roff_unescape(text: str) -> str:
    for pattern, replacement in _ROFF_ESCAPES:
        text = pattern.sub(replacement, text)
    return text


def strip_roff(source: str) -> list[str]:
    """The prose paragraphs of one manual page: macros that break (``.SH``, ``.PP``, ``.TP`` ...)
    end a paragraph, text macros (``.B``, ``.BR`` ...) keep their words, escapes are removed,
    comments, tables (``.TS``/``.TE``) and no-fill examples (``.nf``/``.EX``) dropped."""
    lines: list[str] = []
    skipping = False
    for raw in source.replace("\r\n", "\n").split("\n"):
        if raw.startswith(('.\\"', "'\\\"", '\\"')) or raw.startswith(".\\}"):
            continue
        if raw.startswith((".", "'")):
            name, _, rest = raw[1:].strip().partition(" ")
            if name in ("TS", "nf", "EX"):
                skipping = True
            if name in ("TE", "fi", "EE"):
                skipping = False
            if name in _ROFF_TEXT:
                lines.append(_roff_unescape(" ".join(_roff_arguments(rest))))
            elif name in _ROFF_ALTERNATE:
                lines.append(_roff_unescape("".join(_roff_arguments(rest))))
            else:
                # a break macro, or one this reader does not know (requests, definitions): a break
                lines.append("")
            continue
        if not skipping:
            lines.append(_roff_unescape(raw))
    return [block for block in paragraphs("\n".join(lines)) if len(block.split()) >= 5]
