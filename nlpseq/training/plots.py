"""PNG figures for the run folder: training curves and confusion matrices."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt

from nlpseq.training.metrics_log import read_rows

log = logging.getLogger("nlpseq.train")


def plot_curves_or_warn(metrics_file: str | Path, out: str | Path, metric: str) -> None:
    """:func:`plot_curves`, where a failure (a full disk, a damaged metrics file) is a warning: a
    figure is a view of metrics.jsonl, never a reason to stop a training."""
    try:
        plot_curves(metrics_file, out, metric)
    except Exception as error:  # matplotlib raises many types; none of them should end the run
        _warn(out, "training curves", error)


def _warn(out: str | Path, what: str, error: Exception) -> None:
    plt.close("all")  # a figure left open by the failure
    line = str(error).splitlines()[0] if str(error) else ""
    log.warning("%s: %s not drawn (%s: %s)", out, what, type(error).__name__, line)


def plot_curves(metrics_file: str | Path, out: str | Path, metric: str) -> None:
    """Training loss per step and the validation ``metric`` per evaluation, from metrics.jsonl."""
    train_steps, train_loss, valid_steps, valid_metric = [], [], [], []
    rows, bad = read_rows(Path(metrics_file))
    if bad:
        log.warning("%s: skipped %d unparsable lines", metrics_file, bad)
    for row in rows:
        if row.get("split") == "train" and "loss" in row:
            train_steps.append(row["step"])
            train_loss.append(row["loss"])
        elif row.get("split") == "valid" and metric in row:
            valid_steps.append(row["step"])
            valid_metric.append(row[metric])
    fig, left = plt.subplots(figsize=(7, 4))
    left.plot(train_steps, train_loss, color="tab:blue", label="train loss")
    left.set_xlabel("optimizer step")
    left.set_ylabel("train loss", color="tab:blue")
    if valid_steps:
        right = left.twinx()
        right.plot(valid_steps, valid_metric, "o-", color="tab:orange", label=f"valid {metric}")
        right.set_ylabel(f"valid {metric}", color="tab:orange")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], out: str | Path) -> None:
    """The confusion matrix as a PNG; a failure (a full disk) is a warning, as for the curves."""
    try:
        _plot_confusion(matrix, labels, out)
    except Exception as error:  # see plot_curves_or_warn
        _warn(out, "confusion matrix", error)


def _plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], out: str | Path) -> None:
    size = max(3.0, 0.5 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    peak = max((max(row) for row in matrix), default=0)
    for g, row in enumerate(matrix):
        for p, count in enumerate(row):
            ax.text(p, g, str(count), ha="center", va="center",
                    color="white" if count > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_attention(result: dict[str, Any], path: Path) -> None:
    """A heatmap of one prediction's attention: target pieces (rows) x source pieces (columns)."""
    weights, sources, targets = result["attention"], result["source_pieces"], result["target_pieces"]
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(max(4.0, 0.35 * len(sources) + 2), max(3.0, 0.3 * len(targets) + 2)))
    axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(len(sources)), sources, rotation=90, fontsize=8)
    axes.set_yticks(range(len(targets)), targets, fontsize=8)
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
