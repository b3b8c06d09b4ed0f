"""Tag schemes: exact conversions, round trips, validation, and CRF constraint masks."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from nlpseq.schemes import (
    SCHEMES,
    allowed_transitions,
    convert,
    from_spans,
    parse_tag,
    to_spans,
    validate,
)

# The same entities written in each scheme: adjacent same-type entities, single-token entities, an
# entity at the very start and one running to the very end.
SPANS = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5), ("PER", 5, 6), ("ORG", 6, 8)]
WRITTEN = {
    "IOB1": ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-PER", "I-ORG", "I-ORG"],
    "IOB2": ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-PER", "B-ORG", "I-ORG"],
    "IOBES": ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "S-PER", "B-ORG", "E-ORG"],
}

# More canonical IOB2 sequences for round trips.
ROUND_TRIP_IOB2 = [
    [],
    ["O"],
    ["B-PER"],
    ["B-PER", "B-PER", "B-PER"],
    ["B-PER", "I-PER", "I-PER", "B-PER", "I-PER"],
    ["O", "B-LOC", "O", "B-LOC", "I-LOC", "I-LOC", "O"],
    ["B-A", "B-B", "I-B", "B-A", "B-A", "I-A"],
    ["B-ORG-X", "I-ORG-X", "O"],  # a type that contains a hyphen
]


def test_parse_tag():
    assert parse_tag("O") == ("O", None)
    assert parse_tag("B-PER") == ("B", "PER")
    assert parse_tag("S-ORG-X") == ("S", "ORG-X")
    assert parse_tag("I-") == ("I", None)
    assert parse_tag("I") == ("I", None)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_exact_spans_and_tags(scheme: str):
    assert to_spans(WRITTEN[scheme], scheme) == SPANS
    assert from_spans(SPANS, 8, scheme) == WRITTEN[scheme]
    assert from_spans(list(reversed(SPANS)), 8, scheme) == WRITTEN[scheme]  # order does not matter


@pytest.mark.parametrize("source", SCHEMES)
@pytest.mark.parametrize("target", SCHEMES)
def test_exact_conversions(source: str, target: str):
    assert convert(WRITTEN[source], source, target) == WRITTEN[target]


@pytest.mark.parametrize("tags", ROUND_TRIP_IOB2)
def test_round_trip_iob1_iob2_iobes_iob1(tags: list[str]):
    iob1 = convert(tags, "IOB2", "IOB1")
    iob2 = convert(iob1, "IOB1", "IOB2")
    iobes = convert(iob2, "IOB2", "IOBES")
    assert iob2 == tags
    assert convert(iobes, "IOBES", "IOB1") == iob1
    for scheme, written in (("IOB1", iob1), ("IOB2", iob2), ("IOBES", iobes)):
        assert convert(written, scheme, scheme) == written  # canonical forms are fixed points
        assert to_spans(written, scheme) == to_spans(tags, "IOB2")


def test_hand_written_cases():
    assert convert(["B-PER", "B-PER", "I-LOC"], "IOB2", "IOB1") == ["I-PER", "B-PER", "I-LOC"]
    assert convert(["I-PER", "B-PER", "O", "I-PER"], "IOB1", "IOBES") == ["S-PER", "S-PER", "O", "S-PER"]
    assert convert(["B-X", "I-X", "I-X", "I-X"], "IOB2", "IOBES") == ["B-X", "I-X", "I-X", "E-X"]
    assert convert(["O", "O"], "IOBES", "IOB2") == ["O", "O"]


def test_lenient_reading_repairs_slips():
    # IOB2 with I- after O or after another type: conlleval reads it as starting an entity.
    assert to_spans(["O", "I-PER", "I-PER", "I-LOC"], "IOB2") == [("PER", 1, 3), ("LOC", 3, 4)]
    assert convert(["O", "I-PER", "I-PER", "I-LOC"], "IOB2", "IOB2") == ["O", "B-PER", "I-PER", "B-LOC"]
    # IOB1 with a B- that follows nothing of its type.
    assert convert(["B-PER", "O", "B-LOC"], "IOB1", "IOB1") == ["I-PER", "O", "I-LOC"]
    # IOBES left open, started with I-/E-, or continued after E-.
    assert to_spans(["B-PER", "O"], "IOBES") == [("PER", 0, 1)]
    assert to_spans(["I-PER", "E-PER"], "IOBES") == [("PER", 0, 2)]
    assert to_spans(["E-PER", "I-PER", "I-PER"], "IOBES") == [("PER", 0, 1), ("PER", 1, 3)]
    assert to_spans(["B-PER", "E-LOC", "S-PER", "E-PER"], "IOBES") == [
        ("PER", 0, 1),
        ("LOC", 1, 2),
        ("PER", 2, 3),
        ("PER", 3, 4),
    ]
    assert to_spans(["B-PER", "I-PER"], "IOBES") == [("PER", 0, 2)]


@pytest.mark.parametrize("scheme", ["IOB2", "IOBES"])
def test_lenient_reading_agrees_with_seqeval(scheme: str):
    seqeval = pytest.importorskip("seqeval.metrics.sequence_labeling")
    vocabulary = ["O"] + [
        f"{p}-{t}" for p in ("B", "I", "E", "S")[: 2 if scheme == "IOB2" else 4] for t in "AB"
    ]
    rng = random.Random(0)
    for _ in range(500):
        tags = [rng.choice(vocabulary) for _ in range(rng.randint(0, 7))]
        expected = [(kind, start, end + 1) for kind, start, end in seqeval.get_entities(tags)]
        assert to_spans(tags, scheme) == expected, tags


@pytest.mark.parametrize(
    ("tags", "scheme", "message"),
    [
        (["O", "I-"], "IOB2", r"position 1: tag 'I-'"),
        (["I"], "IOB1", r"position 0: tag 'I'"),
        (["B-PER", "E-PER"], "IOB2", r"position 1: tag 'E-PER' is not a valid IOB2 tag"),
        (["S-PER"], "IOB1", r"position 0: tag 'S-PER'"),
        (["O", "O", "X-PER"], "IOBES", r"position 2: tag 'X-PER'"),
        (["O-PER"], "IOBES", r"position 0: tag 'O-PER'"),
        ([""], "IOB2", r"position 0: tag ''"),
        (["<pad>"], "IOB2", r"position 0: tag '<pad>'"),
        (["b-PER"], "IOB2", r"position 0: tag 'b-PER'"),
    ],
)
def test_validate_names_position_and_tag(tags: list[str], scheme: str, message: str):
    with pytest.raises(ValueError, match=message):
        validate(tags, scheme)
    with pytest.raises(ValueError, match=message):
        to_spans(tags, scheme)


def test_validate_accepts_scheme_tags_and_non_canonical_order():
    validate(["O", "I-PER", "B-LOC", "I-LOC"], "IOB2")  # O -> I-PER is a transition question
    validate(["E-PER", "S-PER", "B-X", "I-X"], "IOBES")
    with pytest.raises(ValueError, match="unknown tag scheme 'BIO'"):
        validate(["O"], "BIO")


@pytest.mark.parametrize(
    "spans",
    [[("PER", 1, 1)], [("PER", 2, 5)], [("PER", -1, 1)], [("", 0, 1)], [("PER", 0, 2), ("LOC", 1, 3)]],
)
def test_from_spans_rejects_bad_spans(spans: list[tuple[str, int, int]]):
    with pytest.raises(ValueError):
        from_spans(spans, 4, "IOB2")


def _forbidden(labels: list[str], scheme: str | None) -> tuple[set[tuple[str, str]], set[str], set[str]]:
    transitions, start, end = allowed_transitions(labels, scheme)
    assert transitions.dtype == start.dtype == end.dtype == torch.bool
    assert transitions.shape == (len(labels), len(labels)) and start.shape == end.shape == (len(labels),)
    pairs = {(labels[i], labels[j]) for i, j in (~transitions).nonzero().tolist()}
    return (
        pairs,
        {labels[i] for i in (~start).nonzero().flatten().tolist()},
        {labels[i] for i in (~end).nonzero().flatten().tolist()},
    )


def _pad_pairs(labels: list[str]) -> set[tuple[str, str]]:
    return {(label, "<pad>") for label in labels} | {("<pad>", label) for label in labels}


def test_allowed_transitions_iob2_exact():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "<pad>"]
    pairs, start, end = _forbidden(labels, "IOB2")
    assert pairs == _pad_pairs(labels) | {
        ("O", "I-PER"),
        ("B-LOC", "I-PER"),
        ("I-LOC", "I-PER"),
        ("O", "I-LOC"),
        ("B-PER", "I-LOC"),
        ("I-PER", "I-LOC"),
    }
    assert start == {"I-PER", "I-LOC", "<pad>"}
    assert end == {"<pad>"}


def test_allowed_transitions_iob1_exact():
    labels = ["O", "B-PER", "I-PER", "I-LOC"]
    pairs, start, end = _forbidden(labels, "IOB1")
    assert pairs == {("O", "B-PER"), ("I-LOC", "B-PER")}
    assert start == {"B-PER"}
    assert end == set()


def test_allowed_transitions_iobes_exact():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"]
    pairs, start, end = _forbidden(labels, "IOBES")
    inside = {"B-PER", "I-PER"}
    outside = {"O", "E-PER", "S-PER", "S-LOC"}
    assert pairs == (
        {(a, b) for a in outside for b in ("I-PER", "E-PER")}
        | {(a, b) for a in inside for b in ("O", "B-PER", "S-PER", "S-LOC")}
    )
    assert start == {"I-PER", "E-PER"}
    assert end == {"B-PER", "I-PER"}


def test_allowed_transitions_without_scheme_forbids_only_pad():
    labels = ["NOUN", "VERB", "<pad>"]
    pairs, start, end = _forbidden(labels, None)
    assert pairs == _pad_pairs(labels)
    assert start == end == {"<pad>"}


def test_allowed_transitions_rejects_config_mistakes():
    with pytest.raises(ValueError, match=r"label 'E-PER' \(index 2\) is not a valid IOB2 tag"):
        allowed_transitions(["O", "B-PER", "E-PER"], "IOB2")
    with pytest.raises(ValueError, match=r"label 'PAD' \(index 1\)"):
        allowed_transitions(["O", "PAD"], "IOBES")
    with pytest.raises(ValueError, match="appears twice"):
        allowed_transitions(["O", "B-PER", "O"], "IOB2")
    with pytest.raises(ValueError, match="unknown tag scheme"):
        allowed_transitions(["O"], "iob2")


def _labels(scheme: str, types: str = "AB") -> list[str]:
    prefixes = ("B", "I", "E", "S") if scheme == "IOBES" else ("B", "I")
    return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in prefixes] + ["<pad>"]


def _legal(tags: list[str], labels: list[str], masks: tuple[torch.Tensor, ...]) -> bool:
    transitions, start, end = masks
    index = [labels.index(tag) for tag in tags]
    return (
        bool(start[index[0]])
        and bool(end[index[-1]])
        and all(bool(transitions[a, b]) for a, b in itertools.pairwise(index))
    )


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_path_from_spans_writes_is_legal(scheme: str):
    labels = _labels(scheme)
    masks = allowed_transitions(labels, scheme)
    rng = random.Random(0)
    for _ in range(500):
        length = rng.randint(1, 10)
        spans, position = [], rng.randint(0, 2)
        while position < length:
            end = rng.randint(position + 1, min(length, position + 3))
            spans.append((rng.choice("AB"), position, end))
            position = end + rng.choice([0, 0, 1])  # often adjacent, to exercise IOB1's B-
        tags = from_spans(spans, length, scheme)
        assert _legal(tags, labels, masks), tags


@pytest.mark.parametrize("scheme", SCHEMES)
def test_legal_paths_are_exactly_the_canonical_ones(scheme: str):
    # Exhaustive over short sequences: the CRF's legal paths are those from_spans can write, so a
    # constrained CRF can decode any canonical sequence and nothing else.
    labels = _labels(scheme)
    masks = allowed_transitions(labels, scheme)
    real = labels[:-1]
    for length in range(1, 5):
        for tags in itertools.product(real, repeat=length):
            tags = list(tags)
            assert _legal(tags, labels, masks) == (convert(tags, scheme, scheme) == tags), tags
