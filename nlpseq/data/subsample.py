"""A seeded, label-stratified share of a training split: the x axis of a learning curve.

Each label's examples are shuffled by a generator seeded with the seed *and the label*, and the first
``round(count * fraction)`` of them (at least one) are kept. So:

- every label keeps its share of the examples (the class balance of the full split), and none vanishes
  (a label missing from train would make its valid and test examples unknown labels);
- the draw depends on nothing but (seed, label, that label's examples in file order): not on the other
  labels, the hardware or ``PYTHONHASHSEED`` (``random.Random`` hashes a string seed with SHA-512);
- with one seed, a smaller fraction keeps a subset of what a larger one keeps (the same shuffled
  order, cut shorter), so the points of one curve differ only by the examples added.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

from nlpseq.data.sources import Split

log = logging.getLogger("nlpseq.data")


def stratified_sample(labels: Sequence[str], fraction: float, seed: int) -> list[int]:
    """Indices (ascending, so the file order stays) of the examples kept from examples whose labels are
    ``labels``: per label, ``max(1, round(count * fraction))`` of its examples, drawn with ``seed``."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    kept: list[int] = []
    for label, indices in by_label.items():
        order = list(indices)
        random.Random(f"{seed}:{label}").shuffle(order)
        kept.extend(order[:max(1, round(len(order) * fraction))])
    return sorted(kept)


def keep_fraction(split: Split, fraction: float, seed: int, label_column: str = "label") -> Split:
    """``split`` cut to a stratified ``fraction`` of its examples (:func:`stratified_sample`); logs how
    many it kept. A fraction of 1 returns the split as it is."""
    if fraction == 1:
        return split
    labels = split.dataset[label_column]
    kept = stratified_sample(labels, fraction, seed)
    log.info("data.train_fraction=%g: training on %d of %d examples (%s; stratified by label, seed %d)",
             fraction, len(kept), len(labels), split.source, seed)
    return Split(split.name, split.source, split.dataset.select(kept), split.skipped)
