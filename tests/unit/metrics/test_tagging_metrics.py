"""Tests for nlpseq.metrics.tagging: hand-computed expectations, seqeval as the implementation."""

from __future__ import annotations

import re

import pytest

from nlpseq import schemes
from nlpseq.metrics.tagging import MODES, SCHEMES, entity_scores, token_accuracy


def test_token_accuracy() -> None:
    gold = [["DT", "NN", "VBZ"], ["UH"]]
    pred = [["DT", "VB", "VBZ"], ["NN"]]
    # 2 of 3 right in the first sentence, 0 of 1 in the second: 2 / 4.
    assert token_accuracy(gold, pred) == 0.5


def test_token_accuracy_length_mismatch() -> None:
    with pytest.raises(ValueError, match=re.escape("gold has 2 sentence(s) but pred has 1")):
        token_accuracy([["A"], ["B"]], [["A"]])
    with pytest.raises(ValueError, match=re.escape("sentence 1: gold has 2 tag(s) but pred has 1")):
        token_accuracy([["A"], ["B", "C"]], [["A"], ["B"]])


def test_token_accuracy_no_tokens() -> None:
    with pytest.raises(ValueError, match="no tokens"):
        token_accuracy([[]], [[]])


# Gold has 3 entities: PER (0-1), LOC (3), ORG (5) -- the last two in the second sentence.
# Pred has 2: PER (0-1), right; ORG (3), wrong (gold has LOC there); and misses ORG (5).
# P = 1/2, R = 1/3, F1 = 2PR / (P + R) = (1/3) / (5/6) = 0.4.
GOLD = [["B-PER", "I-PER", "O"], ["O", "O", "O", "B-LOC", "O", "B-ORG"]]
PRED = [["B-PER", "I-PER", "O"], ["O", "O", "O", "B-ORG", "O", "O"]]


@pytest.mark.parametrize("mode", ["default", "strict"])
def test_entity_scores_hand_computed(mode: str) -> None:
    scores = entity_scores(GOLD, PRED, mode=mode)
    assert scores["precision"] == pytest.approx(1 / 2)
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(0.4)


def test_entity_scores_per_type() -> None:
    # PER: 1 gold, 1 predicted, 1 right. LOC: 1 gold, 0 predicted (precision 0 by convention).
    # ORG: 1 gold (position 5), 1 predicted (position 3), none right.
    assert entity_scores(GOLD, PRED)["per_type"] == {
        "LOC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "ORG": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "PER": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
    }


def test_entity_scores_per_type_partial() -> None:
    # PER: gold 2, predicted 1 right -> P 1, R 1/2, F1 2/3.
    # LOC: gold 1, predicted 2 (one right) -> P 1/2, R 1, F1 2/3.
    gold = [["B-PER", "O", "B-PER", "O", "B-LOC", "O"]]
    pred = [["B-PER", "O", "O", "O", "B-LOC", "B-LOC"]]
    per_type = entity_scores(gold, pred)["per_type"]
    assert per_type["PER"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert per_type["LOC"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})


def test_default_and_strict_modes_differ_on_ill_formed_spans() -> None:
    # The prediction starts the PER span with I-PER, which IOB2 forbids.
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "B-LOC"]]
    # Default (conlleval): I-PER after O opens an entity, so PER (0-1) matches: 2 of 2 right.
    default = entity_scores(gold, pred, mode="default")
    assert (default["precision"], default["recall"], default["f1"]) == (1.0, 1.0, 1.0)
    # Strict IOB2: no PER entity is predicted; only LOC counts. P = 1/1, R = 1/2, F1 = 2/3.
    strict = entity_scores(gold, pred, scheme="IOB2", mode="strict")
    assert strict["precision"] == pytest.approx(1.0)
    assert strict["recall"] == pytest.approx(0.5)
    assert strict["f1"] == pytest.approx(2 / 3)
    assert strict["per_type"]["PER"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_strict_iobes() -> None:
    # S-LOC is a one-token entity and B-PER E-PER a two-token one; both right. The predicted
    # B-ORG without an E-ORG is not an entity in IOBES, so it costs nothing in strict mode.
    gold = [["S-LOC", "O", "B-PER", "E-PER", "O"]]
    pred = [["S-LOC", "O", "B-PER", "E-PER", "B-ORG"]]
    strict = entity_scores(gold, pred, scheme="IOBES", mode="strict")
    assert (strict["precision"], strict["recall"], strict["f1"]) == (1.0, 1.0, 1.0)
    # Default mode reads the lone B-ORG as an entity: P = 2/3, R = 1.
    assert entity_scores(gold, pred)["precision"] == pytest.approx(2 / 3)


def test_strict_iob1() -> None:
    # IOB1 (CoNLL-2003 as shipped): B-PER only where a PER follows a PER. Gold: PER[0:2], PER[2:3],
    # LOC[4:5]; the prediction merges the two PERs into PER[0:3]. P = 1/2, R = 1/3, F1 = 0.4.
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC"]]
    pred = [["I-PER", "I-PER", "I-PER", "O", "I-LOC"]]
    for mode in MODES:
        scores = entity_scores(gold, pred, scheme="IOB1", mode=mode)
        assert scores["precision"] == pytest.approx(1 / 2)
        assert scores["recall"] == pytest.approx(1 / 3)
        assert scores["f1"] == pytest.approx(0.4)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_nlpseq_reads_is_scored(scheme: str) -> None:
    assert SCHEMES == schemes.SCHEMES
    spans = [("PER", 0, 2), ("LOC", 3, 4)]
    tags = [schemes.from_spans(spans, 5, scheme)]
    strict = entity_scores(tags, tags, scheme=scheme, mode="strict")
    assert (strict["precision"], strict["recall"], strict["f1"]) == (1.0, 1.0, 1.0)
    assert set(strict["per_type"]) == {"PER", "LOC"}


def test_entity_scores_no_entities_anywhere() -> None:
    assert entity_scores([["O", "O"]], [["O", "O"]]) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "per_type": {},
    }


def test_entity_scores_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="valid modes: default, strict"):
        entity_scores(GOLD, PRED, mode="lenient")
    with pytest.raises(ValueError, match=r"valid schemes: IOB1, IOB2, IOBES$"):
        entity_scores(GOLD, PRED, scheme="BIO")
    with pytest.raises(ValueError, match=re.escape("sentence 0: gold has 3 tag(s) but pred has 2")):
        entity_scores([["O", "O", "O"]], [["O", "O"]])
