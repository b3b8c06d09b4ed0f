"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence


def confusion_matrix(gold: Sequence[int], pred: Sequence[int], num_classes: int) -> list[list[int]]:
    """``matrix[g][p]`` counts examples of gold class g predicted as p."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    matrix = [[0] * num_classes for _ in range(num_classes)]
    for g, p in zip(gold, pred, strict=True):
        matrix[g][p] += 1
    return matrix


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def classification_metrics(
    gold: Sequence[int], pred: Sequence[int], labels: Sequence[str]
) -> dict[str, object]:
    """All classification metrics as plain data (fractions in 0..1).

    Returns ``accuracy``, ``macro_f1``, ``per_class`` {label: precision, recall, f1, support} and
    ``confusion`` (rows gold, columns predicted, in ``labels`` order). Macro-F1 averages over the
    classes that occur in gold or predictions, as scikit-learn does with zero_division=0.
    """
    n = len(labels)
    matrix = confusion_matrix(gold, pred, n)
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for c, label in enumerate(labels):
        tp = matrix[c][c]
        predicted = sum(matrix[g][c] for g in range(n))
        support = sum(matrix[c])
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        if support or predicted:
            f1s.append(f1)
    correct = sum(matrix[c][c] for c in range(n))
    return {
        "accuracy": _ratio(correct, len(gold)),
        "macro_f1": _ratio(sum(f1s), len(f1s)),
        "per_class": per_class,
        "confusion": matrix,
    }
