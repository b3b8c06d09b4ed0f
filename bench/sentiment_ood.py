"""Sentiment models on text they were not trained on: MR test against tweets, product reviews and
newspaper editorials (the `sentiment-ood` corpus), one row per run folder.

    nlpseq data fetch sentiment-ood
    python bench/sentiment_ood.py runs/mr_bigru runs/mr_pretrained [--json out.json]

Each run is evaluated on its recipe's own test split and on each out-of-domain file through
``Predictor.evaluate(data=...)``, exactly as ``nlpseq evaluate RUN --data FILE`` would. Prints a
markdown table of accuracy and macro-F1 (percent).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nlpseq
from nlpseq.corpora import corpus_dir
from nlpseq.corpora.sentiment_ood import FILES


def evaluate_run(run_dir: str, ood: Path) -> dict[str, dict[str, float]]:
    """``{"test": metrics, "tweets": metrics, ...}`` for one run folder."""
    predictor = nlpseq.load(run_dir, device="cpu")
    scores = {"test": predictor.evaluate("test")}
    for name in FILES:
        scores[name.removesuffix(".jsonl")] = predictor.evaluate(data=ood / name)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="finished classification run folders (MR labels)")
    parser.add_argument("--ood", type=Path, default=None, help="the sentiment-ood folder (default: data/)")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    args = parser.parse_args()
    ood = args.ood or corpus_dir("sentiment-ood")
    results = {run: evaluate_run(run, ood) for run in args.runs}
    sets = ["test", *(name.removesuffix(".jsonl") for name in FILES)]
    print("| run | " + " | ".join(f"{name} acc. / macro-F1" for name in sets) + " |")
    print("|---|" + "---|" * len(sets))
    for run, scores in results.items():
        cells = [f"{100 * scores[name]['accuracy']:.1f} / {100 * scores[name]['macro_f1']:.1f}"
                 for name in sets]
        print(f"| {run} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
