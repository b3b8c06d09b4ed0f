"""Learning curve: test accuracy against the number of training labels, from scratch vs. pretrained.

    python bench/learning_curve.py [--fractions 0.1,0.25,0.5,1] [--seeds 13,14,15]
        [--scratch sentiment/mr_bigru] [--pretrained sentiment/mr_pretrained]
        [--out runs/learning_curve] [--png docs/img/learning_curve_mr.png]

Trains each recipe on a stratified share of its training data (``data.train_fraction``; the share is
drawn with the run's ``trainer.seed``) for every (fraction, seed), each into its own run folder under
``--out`` through the Python API (:func:`nlpseq.train`). A run whose ``results.json`` exists is read,
not trained, so an interrupted bench resumes where it stopped (an unfinished run resumes from its
``last.pt``). Writes ``OUT/learning_curve.json`` (test accuracy per recipe, fraction and seed) and the
plot: x the training labels used (log scale), y test accuracy; a line per recipe through the mean over
seeds, in a band from the lowest to the highest seed.

The pretrained recipe trains its language model first when that has no finished run (hours on CPU);
every run of that recipe then starts from the same one. The whole bench takes hours: run it on a
machine of its own, not in CI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # no display on servers
import matplotlib.pyplot as plt

FRACTIONS = (0.1, 0.25, 0.5, 1.0)
SEEDS = (13, 14, 15)


def run_name(recipe: str, fraction: float, seed: int) -> str:
    """The run folder's name under ``--out``: ``mr_bilstm_f0.25_s13``."""
    return f"{recipe.rsplit('/', 1)[-1]}_f{fraction:g}_s{seed}"


def train_examples(run_dir: Path) -> int:
    """How many training examples a finished run trained on: its own config's data read again and cut
    as training cut it (:meth:`~nlpseq.tasks.classification.ClassificationTask.read_splits`)."""
    from nlpseq.tasks import get_task, load_config

    config = load_config(run_dir / "config.yaml", saved=True)
    return len(get_task(config.task)(config, run_dir).read_splits()["train"].dataset)


def run_point(recipe: str, fraction: float, seed: int, out: Path) -> dict[str, Any]:
    """One (recipe, fraction, seed): trained unless its results.json exists, then read."""
    import nlpseq

    run_dir = out / run_name(recipe, fraction, seed)
    results_file = run_dir / "results.json"
    if results_file.is_file():
        print(f"{run_dir}: finished, read", file=sys.stderr, flush=True)
        results = json.loads(results_file.read_text(encoding="utf-8"))
    else:
        print(f"{run_dir}: training (log: {run_dir / 'train.log'})", file=sys.stderr, flush=True)
        results = nlpseq.train(recipe, {"run_dir": str(run_dir), "data.train_fraction": fraction,
                                        "trainer.seed": seed}, verbose=False)
    return {"recipe": recipe, "fraction": fraction, "seed": seed, "run_dir": str(run_dir),
            "train_examples": train_examples(run_dir), "test_accuracy": results["test"]["accuracy"]}


def write_results(points: list[dict[str, Any]], path: Path) -> None:
    """The bench's JSON: ``{"points": [{recipe, fraction, seed, run_dir, train_examples,
    test_accuracy}, ...]}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"points": points}, indent=1) + "\n", encoding="utf-8")


def read_results(path: Path) -> list[dict[str, Any]]:
    """The points :func:`write_results` wrote."""
    return json.loads(path.read_text(encoding="utf-8"))["points"]


def curves(points: list[dict[str, Any]]) -> dict[str, list[tuple[float, float, float, float]]]:
    """Per recipe, one (training examples, mean, min, max test accuracy over seeds) per fraction, in
    fraction order. The count is the seeds' mean (stratified counts do not depend on the seed)."""
    grouped: dict[str, dict[float, list[dict[str, Any]]]] = {}
    for point in points:
        grouped.setdefault(point["recipe"], {}).setdefault(point["fraction"], []).append(point)
    lines = {}
    for recipe, by_fraction in grouped.items():
        lines[recipe] = []
        for fraction in sorted(by_fraction):
            accuracy = [p["test_accuracy"] for p in by_fraction[fraction]]
            count = statistics.fmean(p["train_examples"] for p in by_fraction[fraction])
            lines[recipe].append((count, statistics.fmean(accuracy), min(accuracy), max(accuracy)))
    return lines


def plot_learning_curve(points: list[dict[str, Any]], path: Path, title: str = "MR sentiment") -> None:
    """The PNG: test accuracy (%) against training labels used, a line and a min-max band per recipe."""
    fig, axes = plt.subplots(figsize=(6.5, 4))
    for recipe, line in curves(points).items():
        counts, mean, low, high = (list(column) for column in zip(*line, strict=True))
        drawn = axes.plot(counts, [100 * a for a in mean], "o-", label=recipe)[0]
        axes.fill_between(counts, [100 * a for a in low], [100 * a for a in high],
                          color=drawn.get_color(), alpha=0.2, linewidth=0)
    axes.set_xscale("log")
    # Ticks at the counts trained on, written out: "850", not "10^3" and unlabelled minor ticks.
    ticks = sorted({count for line in curves(points).values() for count, *_ in line})
    axes.set_xticks(ticks, [f"{count:,.0f}" for count in ticks])
    axes.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axes.set_xlabel("training labels used")
    axes.set_ylabel("test accuracy (%)")
    seeds = len({p["seed"] for p in points})
    axes.set_title(f"{title}: mean over {seeds} seed{'s' if seeds != 1 else ''}, band min to max")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def numbers(text: str, kind: type) -> list:
    """``"0.1,0.25"`` -> [0.1, 0.25] (argparse type of the list options)."""
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fractions", type=lambda t: numbers(t, float), default=list(FRACTIONS),
                        help="shares of the training data (comma-separated; default 0.1,0.25,0.5,1)")
    parser.add_argument("--seeds", type=lambda t: numbers(t, int), default=list(SEEDS),
                        help="trainer.seed values, each also drawing its own subset (default 13,14,15)")
    parser.add_argument("--scratch", default="sentiment/mr_bigru",
                        help="the from-scratch recipe (default: nlpseq's default recipe)")
    parser.add_argument("--pretrained", default="sentiment/mr_pretrained", help="the pretrained recipe")
    parser.add_argument("--out", type=Path, default=Path("runs/learning_curve"),
                        help="folder of the run folders and learning_curve.json")
    parser.add_argument("--png", type=Path, default=Path("docs/img/learning_curve_mr.png"))
    args = parser.parse_args(argv)
    if not args.fractions or any(not 0 < f <= 1 for f in args.fractions):
        parser.error(f"--fractions: each must be in (0, 1], got {args.fractions}")

    points = []
    for recipe in (args.scratch, args.pretrained):
        for fraction in args.fractions:
            for seed in args.seeds:
                points.append(run_point(recipe, fraction, seed, args.out))
                write_results(points, args.out / "learning_curve.json")  # what is done so far
    plot_learning_curve(points, args.png)
    print(json.dumps({"json": str(args.out / "learning_curve.json"), "png": str(args.png),
                      "curves": curves(points)}, indent=1))


if __name__ == "__main__":
    main()
