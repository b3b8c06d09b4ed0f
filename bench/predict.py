"""Prediction throughput of a trained run folder on raw text: batched vs. one sentence at a time.

    python bench/predict.py RUN_DIR [--split test] [--limit 2000]

Reads the recipe's split, turns each example back into a raw line (tagging: words joined by spaces),
and times ``Predictor.predict`` on all lines at once (bucketed batches) and on a sample one line per
call (the baseline), in this one process. Reports sentences/s, words/s and the ratio.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import nlpseq


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None, help="at most this many lines")
    parser.add_argument("--single", type=int, default=200, help="lines for the one-by-one baseline")
    args = parser.parse_args()

    predictor = nlpseq.load(args.run_dir, device="cpu")
    predictor.task.prepare()
    dataset = predictor.task.splits[args.split].dataset
    column = "tokens" if "tokens" in dataset.column_names else "text"
    lines = [" ".join(row) if column == "tokens" else row for row in dataset[column]]
    lines = lines[: args.limit] if args.limit else lines
    words = sum(len(line.split()) for line in lines)

    start = time.perf_counter()
    predictor.predict(lines)
    batched = time.perf_counter() - start

    sample = lines[: args.single]
    start = time.perf_counter()
    for line in sample:
        predictor.predict([line])
    single = time.perf_counter() - start
    sample_words = sum(len(line.split()) for line in sample)

    report = {
        "run_dir": args.run_dir, "split": args.split, "threads": torch.get_num_threads(),
        "lines": len(lines), "words": words,
        "batched": {"seconds": round(batched, 2), "sentences_per_s": round(len(lines) / batched, 1),
                    "words_per_s": round(words / batched, 1)},
        "one_by_one": {"lines": len(sample), "seconds": round(single, 2),
                       "sentences_per_s": round(len(sample) / single, 1),
                       "words_per_s": round(sample_words / single, 1)},
    }
    report["speedup_sentences_per_s"] = round(report["batched"]["sentences_per_s"]
                                              / report["one_by_one"]["sentences_per_s"], 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
