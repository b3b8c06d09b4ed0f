"""What a run starts from, logged once before its first step (Flair and Joey NMT print the like).

Examples per split, each class set (labels, tags, conditions) with its training counts, vocabulary
sizes, and total and trainable parameters. A task says what its data holds through
:meth:`nlpseq.tasks.contract.Task.describe` (a :class:`DataSummary`); the wording, the parameter count
and the rule for a suspiciously rare class live here, the same for every task. A rare class is often a
typo: a stray ``"Positive"`` among ``"positive"`` silently becomes a class of one, which the model can
never learn and which drags macro-F1 down.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from torch import nn

log = logging.getLogger("nlpseq.train")

# A class with fewer training examples than this is warned about whatever its share.
RARE_COUNT = 5
# Classes shown on the counts line; a longer set ends in "... (N more)" (the rare ones are warned
# about one by one anyway).
SHOWN_CLASSES = 30


@dataclass
class ClassCounts:
    """How often each class of one set occurs in the training split.

    Args:
        name: what the set is called in the log (``"labels"``, ``"tags"``, ``"conditions"``).
        counts: class -> training count (classes that never occur are left out).
        unit: what one count is (``"examples"``, ``"tokens"``, ``"entities"``).
        rare_share: a class under this share of the set's total is warned about too (besides one
            under :data:`RARE_COUNT`); 0 where small shares are normal (tags counted per token).
    """

    name: str
    counts: Counter[str] | dict[str, int]
    unit: str = "examples"
    rare_share: float = 0.01

    def rare(self) -> list[tuple[str, int]]:
        """The classes under the count or the share limit, rarest first."""
        total = sum(self.counts.values())
        found = [(name, n) for name, n in self.counts.items()
                 if n < RARE_COUNT or n < self.rare_share * total]
        return sorted(found, key=lambda item: (item[1], item[0]))


@dataclass
class DataSummary:
    """What a prepared task holds, for the start-of-run log (:meth:`Task.describe`).

    Args:
        examples: split name -> number of examples, in the splits' order.
        unit: what one example is (``"examples"``, ``"sentences"``, ``"pairs"``, ``"lines"``).
        vocabularies: name -> entries (tokenizers, label sets).
        classes: the class sets with their training counts.
    """

    examples: dict[str, int] = field(default_factory=dict)
    unit: str = "examples"
    vocabularies: dict[str, int] = field(default_factory=dict)
    classes: list[ClassCounts] = field(default_factory=list)


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) parameters; a tensor shared by two modules (tied embeddings) counts once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def summary_lines(summary: DataSummary, model: nn.Module) -> list[tuple[int, str]]:
    """The start-of-run lines as (logging level, message)."""
    lines: list[tuple[int, str]] = []
    if summary.examples:
        sizes = ", ".join(f"{name} {n:,}" for name, n in summary.examples.items())
        lines.append((logging.INFO, f"data: {sizes} {summary.unit}"))
    for counts in summary.classes:
        ranked = sorted(counts.counts.items(), key=lambda item: (-item[1], item[0]))
        shown = ", ".join(f"{name} {n:,}" for name, n in ranked[:SHOWN_CLASSES])
        more = f" ... ({len(ranked) - SHOWN_CLASSES} more)" if len(ranked) > SHOWN_CLASSES else ""
        each = counts.name.removesuffix("s")  # "labels" -> "label", "entity types" -> "entity type"
        lines.append((logging.INFO, f"training {counts.unit} per {each} ({len(ranked)} {counts.name}): "
                                    f"{shown}{more}"))
        total = sum(counts.counts.values())
        for name, n in counts.rare():
            lines.append((logging.WARNING,
                          f"{counts.name}: {name!r} is only {n:,} of the {total:,} training {counts.unit} "
                          f"({n / max(total, 1):.1%}): a class this rare is often a typo or a case variant "
                          "of another; check the data"))
    if summary.vocabularies:
        sizes = ", ".join(f"{name} {n:,}" for name, n in summary.vocabularies.items())
        lines.append((logging.INFO, f"vocabularies: {sizes} entries"))
    total, trainable = parameter_counts(model)
    lines.append((logging.INFO, f"model: {total:,} parameters, {trainable:,} trainable"))
    return lines


def log_run_summary(summary: DataSummary, model: nn.Module, setup: str) -> None:
    """Log :func:`summary_lines`, then ``setup`` (batches per epoch, device)."""
    for level, message in summary_lines(summary, model):
        log.log(level, "%s", message)
    log.info("%s", setup)
