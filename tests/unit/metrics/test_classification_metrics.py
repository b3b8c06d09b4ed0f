"""nlpseq.metrics.classification against scikit-learn on seeded random labels.

scikit-learn is the reference here because its definitions are the ones papers and users compare with.
Two conventions are chosen explicitly on the scikit-learn side, and both are what we want:

- ``zero_division=0``: a class that is never predicted has precision 0 (and one never in gold has
  recall 0), counted against the model rather than skipped; scikit-learn's default gives the same 0 but
  warns.
- macro-F1 averages over the classes that occur in gold or in predictions (scikit-learn's default,
  ``labels=None``), not over every class of the label vocabulary: a class with no example and no
  prediction in an evaluation set says nothing about the model and would only pull the average towards
  0. Asking scikit-learn for ``labels=range(n)`` gives a different (lower) number in that case; the last
  test pins that difference down.
"""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from nlpseq.metrics.classification import classification_metrics

TOLERANCE = 1e-12


def random_labels(seed: int, size: int, gold_classes: list[int], pred_classes: list[int]):
    rng = random.Random(seed)
    gold = [rng.choice(gold_classes) for _ in range(size)]
    pred = [rng.choice(pred_classes) for _ in range(size)]
    return gold, pred


# (number of classes, classes that may occur in gold, classes that may be predicted)
CASES = {
    "2 classes, all used": (2, [0, 1], [0, 1]),
    "2 classes, 1 never predicted": (2, [0, 1], [0]),
    "2 classes, 1 never in gold": (2, [0], [0, 1]),
    "5 classes, all used": (5, [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]),
    # 2 is never predicted, 3 never in gold, 4 in neither.
    "5 classes, one of each kind": (5, [0, 1, 2], [0, 1, 3]),
}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("case", CASES)
def test_matches_scikit_learn(case: str, seed: int) -> None:
    num_classes, gold_classes, pred_classes = CASES[case]
    gold, pred = random_labels(seed, 50 + 37 * seed, gold_classes, pred_classes)
    labels = [f"class{c}" for c in range(num_classes)]

    metrics = classification_metrics(gold, pred, labels)

    assert metrics["accuracy"] == pytest.approx(accuracy_score(gold, pred), abs=TOLERANCE, rel=0)
    assert metrics["macro_f1"] == pytest.approx(
        f1_score(gold, pred, average="macro", zero_division=0), abs=TOLERANCE, rel=0
    )
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, pred, labels=list(range(num_classes)), zero_division=0
    )
    for c, label in enumerate(labels):
        row = metrics["per_class"][label]
        assert row["precision"] == pytest.approx(precision[c], abs=TOLERANCE, rel=0), label
        assert row["recall"] == pytest.approx(recall[c], abs=TOLERANCE, rel=0), label
        assert row["f1"] == pytest.approx(f1[c], abs=TOLERANCE, rel=0), label
        assert row["support"] == support[c], label
    assert metrics["confusion"] == confusion_matrix(gold, pred, labels=list(range(num_classes))).tolist()


def test_never_predicted_and_never_gold_classes_score_zero() -> None:
    gold, pred = random_labels(0, 200, [0, 1, 2], [0, 1, 3])
    per_class = classification_metrics(gold, pred, ["a", "b", "c", "d", "e"])["per_class"]
    # c (2) is in gold but never predicted; d (3) is predicted but never in gold; e (4) is in neither.
    assert per_class["c"]["precision"] == per_class["c"]["recall"] == per_class["c"]["f1"] == 0.0
    assert per_class["c"]["support"] > 0
    assert per_class["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert per_class["e"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_macro_f1_skips_classes_absent_from_gold_and_predictions() -> None:
    gold, pred = random_labels(1, 200, [0, 1, 2], [0, 1, 3])
    macro_f1 = classification_metrics(gold, pred, ["a", "b", "c", "d", "e"])["macro_f1"]
    # Over the 4 classes seen (0-3), as scikit-learn's default; class 4 is left out ...
    over_seen = f1_score(gold, pred, labels=[0, 1, 2, 3], average="macro", zero_division=0)
    assert macro_f1 == pytest.approx(over_seen, abs=TOLERANCE, rel=0)
    # ... whereas averaging over the whole label vocabulary would count it as an F1 of 0.
    over_all = f1_score(gold, pred, labels=[0, 1, 2, 3, 4], average="macro", zero_division=0)
    assert over_all == pytest.approx(macro_f1 * 4 / 5, abs=TOLERANCE, rel=0)
