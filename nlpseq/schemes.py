"""Span tag schemes (IOB1, IOB2, IOBES): reading, writing, converting, and CRF constraints.

A tag is ``"O"`` or ``PREFIX-TYPE`` (``B-PER``, ``I-LOC``, ``E-ORG``, ``S-MISC``). Which prefixes a
scheme uses, and where each may stand:

============  ==========================================================================
``IOB1``      ``I-X`` for every entity token; ``B-X`` only on the first token of an entity
              that directly follows another entity of the same type (CoNLL-2003 as shipped).
``IOB2``      every entity starts with ``B-X`` and continues with ``I-X``.
``IOBES``     a one-token entity is ``S-X``; a longer one is ``B-X I-X ... E-X``.
============  ==========================================================================

Example, the same four entities in each scheme::

    spans   PER[0:2] PER[2:3]  .   LOC[4:5] PER[5:7]
    IOB1    I-PER I-PER B-PER  O   I-LOC    I-PER I-PER
    IOB2    B-PER I-PER B-PER  O   B-LOC    B-PER I-PER
    IOBES   B-PER E-PER S-PER  O   S-LOC    B-PER E-PER

Three questions are kept apart:

* :func:`validate` asks whether each tag, on its own, belongs to the scheme (``E-PER`` is not an IOB2
  tag; ``I-`` has no type). It does not look at neighbours, so IOB2 data such as ``O I-PER`` passes.
* :func:`to_spans` reads any valid sequence leniently, like conlleval: a tag that cannot continue the
  current entity (``I-PER`` after ``O`` or after ``I-LOC``) starts a new one. That is how real data with
  such slips is read, and :func:`convert` turns it into the canonical form of the target scheme.
* :func:`allowed_transitions` says which neighbours are legal in the canonical form; a CRF built with
  those masks only ever decodes sequences that :func:`from_spans` could have written.

Plain tags with no scheme (POS tags) are not handled here: callers pass ``scheme=None`` and skip
conversion; :func:`allowed_transitions` accepts ``None`` and then forbids only the pad label.
"""

from __future__ import annotations

import torch

SCHEMES = ("IOB1", "IOB2", "IOBES")

# A padding label may sit in a label vocabulary so that padded positions have an index; no real tag
# sequence contains it, so the CRF must never enter it.
PAD_LABEL = "<pad>"

_PREFIXES = {"IOB1": ("B", "I"), "IOB2": ("B", "I"), "IOBES": ("B", "I", "E", "S")}

Span = tuple[str, int, int]


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; valid schemes: {', '.join(SCHEMES)}")


def parse_tag(tag: str) -> tuple[str, str | None]:
    """Split ``"B-PER"`` into ``("B", "PER")``; ``"O"`` gives ``("O", None)``.

    Only the first hyphen splits, so types may contain hyphens (``"B-ORG-X"`` -> ``("B", "ORG-X")``).
    A tag with no type (``"I"``, ``"I-"``) gives ``(prefix, None)``; :func:`validate` rejects it.
    """
    prefix, _, entity_type = tag.partition("-")
    return prefix, entity_type or None


def _is_valid(tag: str, scheme: str) -> bool:
    if tag == "O":
        return True
    prefix, entity_type = parse_tag(tag)
    return entity_type is not None and prefix in _PREFIXES[scheme]


def validate(tags: list[str], scheme: str) -> None:
    """Raise ``ValueError`` naming the first position and tag that do not belong to ``scheme``.

    Each tag is checked on its own: ``"O"`` or a prefix of the scheme followed by a non-empty type.
    Sequences that are valid tag by tag but not canonical (IOB2 ``O I-PER``, IOBES ``B-PER O``) pass:
    :func:`to_spans` reads them leniently and :func:`convert` repairs them.
    """
    _check_scheme(scheme)
    for position, tag in enumerate(tags):
        if not _is_valid(tag, scheme):
            prefixes = "/".join(f"{p}-" for p in _PREFIXES[scheme])
            raise ValueError(
                f"position {position}: tag {tag!r} is not a valid {scheme} tag "
                f"(expected 'O' or one of {prefixes} followed by a type)"
            )


def to_spans(tags: list[str], scheme: str) -> list[Span]:
    """Read entities as ``(type, start, end)`` with ``end`` exclusive, in order of ``start``.

    Lenient (conlleval) reading: ``B-`` and ``S-`` always start an entity; ``I-X`` and ``E-X``
    continue the current entity when it has type ``X`` and is still open, and otherwise start a new
    one; ``E-`` and ``S-`` close the entity they end. IOB1 and IOB2 are therefore read the same way.
    """
    validate(tags, scheme)
    spans: list[Span] = []
    current: str | None = None  # type of the open entity, None when outside
    start = 0
    for position, tag in enumerate(tags):
        prefix, entity_type = parse_tag(tag)
        continues = prefix in ("I", "E") and entity_type == current
        if current is not None and not continues:
            spans.append((current, start, position))
            current = None
        if entity_type is not None and not continues:
            current, start = entity_type, position
        if prefix in ("E", "S"):
            spans.append((entity_type, start, position + 1))
            current = None
    if current is not None:
        spans.append((current, start, len(tags)))
    return spans


def from_spans(spans: list[Span], length: int, scheme: str) -> list[str]:
    """Write entities ``(type, start, end)`` (end exclusive) as ``length`` tags in canonical ``scheme``.

    Spans may come in any order but must be non-empty, inside ``[0, length)`` and non-overlapping;
    otherwise ``ValueError``.
    """
    _check_scheme(scheme)
    tags = ["O"] * length
    previous_end, previous_type = -1, None
    for entity_type, start, end in sorted(spans, key=lambda span: span[1]):
        if not entity_type or not 0 <= start < end <= length:
            raise ValueError(f"bad span {(entity_type, start, end)!r} for a sequence of length {length}")
        if start < previous_end:
            raise ValueError(f"span {(entity_type, start, end)!r} overlaps the span before it")
        if scheme == "IOBES":
            if end - start == 1:
                tags[start] = f"S-{entity_type}"
            else:
                tags[start : end - 1] = [f"I-{entity_type}"] * (end - 1 - start)
                tags[start] = f"B-{entity_type}"
                tags[end - 1] = f"E-{entity_type}"
        else:
            tags[start:end] = [f"I-{entity_type}"] * (end - start)
            # IOB1 spends a B- only where I- would merge the entity into its same-type neighbour.
            if scheme == "IOB2" or (start == previous_end and entity_type == previous_type):
                tags[start] = f"B-{entity_type}"
        previous_end, previous_type = end, entity_type
    return tags


def convert(tags: list[str], source: str, target: str) -> list[str]:
    """Convert ``tags`` from ``source`` to canonical ``target`` (also repairs ``source == target``)."""
    return from_spans(to_spans(tags, source), len(tags), target)


def _transition_allowed(
    scheme: str, from_prefix: str, from_type: str | None, to_prefix: str, to_type: str | None
) -> bool:
    """Whether ``to`` may directly follow ``from`` in canonical ``scheme`` (``"O"`` has prefix "O")."""
    # An entity of this type is open after `from` and may be continued by `to`.
    same_open = from_type is not None and from_type == to_type
    if scheme == "IOB2":
        return to_prefix != "I" or same_open
    if scheme == "IOB1":
        return to_prefix != "B" or same_open
    # IOBES: B-/I- open an entity that only I-/E- of its type may continue; O/E-/S- leave none open.
    if from_prefix in ("B", "I"):
        return to_prefix in ("I", "E") and same_open
    return to_prefix in ("O", "B", "S")


def allowed_transitions(
    labels: list[str], scheme: str | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Masks of the legal moves between ``labels`` in canonical ``scheme``, for :class:`CRF`.

    Returns ``(transitions [K, K], start [K], end [K])`` bool tensors, ``K = len(labels)``:
    ``transitions[i, j]`` is True when ``labels[j]`` may directly follow ``labels[i]``; ``start[j]`` /
    ``end[j]`` when a sequence may begin / end with ``labels[j]``.

    * IOB2 forbids ``I-X`` at the start and after anything but ``B-X`` / ``I-X``.
    * IOB1 forbids ``B-X`` at the start and after anything but ``B-X`` / ``I-X``.
    * IOBES forbids ``I-X`` / ``E-X`` at the start and after anything but ``B-X`` / ``I-X``; after
      ``B-X`` / ``I-X`` only ``I-X`` / ``E-X`` may follow; ``B-`` / ``I-`` may not end a sequence.
    * ``scheme=None`` (plain tags) allows every move.

    The label ``"<pad>"`` is allowed nowhere: never at the start or end, never entered or left. Any
    other label outside the scheme, or a repeated label, raises ``ValueError`` so that a config
    mistake is caught here rather than as silently odd decoding.
    """
    if scheme is not None:
        _check_scheme(scheme)
    seen: set[str] = set()
    for index, label in enumerate(labels):
        if label in seen:
            raise ValueError(f"label {label!r} (index {index}) appears twice in the label list")
        seen.add(label)
        if label != PAD_LABEL and scheme is not None and not _is_valid(label, scheme):
            raise ValueError(f"label {label!r} (index {index}) is not a valid {scheme} tag")

    num_tags = len(labels)
    parts = [parse_tag(label) for label in labels]
    real = torch.tensor([label != PAD_LABEL for label in labels], dtype=torch.bool)
    if scheme is None:
        transitions = torch.ones(num_tags, num_tags, dtype=torch.bool)
        start = torch.ones(num_tags, dtype=torch.bool)
        end = torch.ones(num_tags, dtype=torch.bool)
    else:
        transitions = torch.tensor(
            [[_transition_allowed(scheme, *a, *b) for b in parts] for a in parts], dtype=torch.bool
        ).reshape(num_tags, num_tags)  # reshape keeps [0, 0] for an empty label list
        # Starting is following an imaginary "O"; ending is being followed by one.
        start = torch.tensor([_transition_allowed(scheme, "O", None, *b) for b in parts], dtype=torch.bool)
        end = torch.tensor([_transition_allowed(scheme, *a, "O", None) for a in parts], dtype=torch.bool)
    transitions &= real[:, None] & real[None, :]
    return transitions, start & real, end & real
