"""Metrics for sequence tagging: token accuracy (POS) and entity-level scores (NER, via seqeval).

Entity scores come in seqeval's two modes, which disagree on ill-formed tag sequences:

- ``"default"`` follows the conlleval script that CoNLL-2003 results are reported with: an ``I-X``
  with no ``B-X`` before it still opens an entity. This is the number to compare with papers.
- ``"strict"`` decodes entities by the rules of a named scheme (IOB1, IOB2 or IOBES), so a span that the
  scheme does not allow is not an entity. It rewards taggers (e.g. with a CRF) that only emit valid
  sequences, and is the number to use when the scheme matters downstream.
"""

from __future__ import annotations

from typing import Any

from seqeval import scheme as seqeval_scheme
from seqeval.metrics import sequence_labeling, v1
from seqeval.scheme import Entities

# The schemes nlpseq reads and writes (IOB1, IOB2, IOBES); seqeval's classes of the same names decode
# them in strict mode.
from nlpseq.schemes import SCHEMES

MODES = ("default", "strict")


def _check_same_shape(gold: list[list[str]], pred: list[list[str]]) -> None:
    """Raise ValueError unless gold and pred have the same number of sentences and tags per sentence.

    Names the first differing sentence, which is far easier to act on than two length lists.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentence(s) but pred has {len(pred)}")
    for index, (gold_tags, pred_tags) in enumerate(zip(gold, pred, strict=True)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(
                f"sentence {index}: gold has {len(gold_tags)} tag(s) but pred has {len(pred_tags)}"
            )


def token_accuracy(gold: list[list[str]], pred: list[list[str]]) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag, over all sentences (0..1).

    Raises ValueError if the shapes differ, and if there are no tokens (the fraction is undefined).
    """
    _check_same_shape(gold, pred)
    total = sum(len(tags) for tags in gold)
    if total == 0:
        raise ValueError("token accuracy is undefined: there are no tokens")
    correct = sum(
        gold_tag == pred_tag
        for gold_tags, pred_tags in zip(gold, pred, strict=True)
        for gold_tag, pred_tag in zip(gold_tags, pred_tags, strict=True)
    )
    return correct / total


def entity_scores(
    gold: list[list[str]],
    pred: list[list[str]],
    scheme: str = "IOB2",
    mode: str = "default",
) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (micro-averaged) plus per-type scores, via seqeval.

    Args:
        gold: gold tags, one list per sentence.
        pred: predicted tags, same shape as ``gold``.
        scheme: the tagging scheme, one of :data:`SCHEMES`; used by ``mode="strict"`` only (the
            default mode reads IOB1, IOB2 and IOBES alike), but always checked so a typo fails early.
        mode: ``"default"`` (conlleval-compatible) or ``"strict"``; see the module docstring.

    Returns:
        ``{"precision", "recall", "f1"}`` as fractions in 0..1, and ``"per_type"``:
        ``{TYPE: {"precision", "recall", "f1", "support"}}`` where support is the number of gold
        entities of that type. A score whose denominator is zero (no predicted entities for
        precision, no gold ones for recall) is 0.0, as in seqeval with ``zero_division=0``.

    An entity counts as correct only if its type, start and end all match.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; valid schemes: {', '.join(SCHEMES)}")
    _check_same_shape(gold, pred)

    # seqeval returns per-type arrays in sorted order of the entity types found in gold or pred, and
    # labels them (in its classification_report) by recomputing that set, as done here. The report
    # itself is not used because it also averages over types, which warns when there are none.
    if mode == "strict":
        scheme_class = getattr(seqeval_scheme, scheme)
        types = Entities(gold, scheme_class).unique_tags | Entities(pred, scheme_class).unique_tags

        def scores(average: str | None) -> tuple:
            return v1.precision_recall_fscore_support(
                gold, pred, average=average, zero_division=0, scheme=scheme_class
            )
    else:
        types = {name for name, _, _ in sequence_labeling.get_entities(gold)}
        types |= {name for name, _, _ in sequence_labeling.get_entities(pred)}

        def scores(average: str | None) -> tuple:
            return sequence_labeling.precision_recall_fscore_support(
                gold, pred, average=average, zero_division=0
            )

    precision, recall, f1, _ = scores("micro")
    type_precision, type_recall, type_f1, type_support = scores(None)
    per_type = {
        name: {
            "precision": float(type_precision[i]),
            "recall": float(type_recall[i]),
            "f1": float(type_f1[i]),
            "support": int(type_support[i]),
        }
        for i, name in enumerate(sorted(types))
    }
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "per_type": per_type,
    }
