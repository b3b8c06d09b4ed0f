"""Translation decoding throughput of a trained run folder: batched vs. one sentence at a time, greedy
vs. beam search, and peak memory.

    python bench/decode.py RUN_DIR [--split test] [--limit 512] [--single 64] [--beam-size 5]

Reads the recipe's split (raw source lines), then in this one process times: beam search over all lines
in batches of 64 sentences (bucketed by length), the same beam search one sentence per call on the
first ``--single`` lines (the baseline), and greedy search batched. Prints one JSON object: sentences/s
for each, the batched/one-by-one ratio, and the peak resident memory of the process (CPU) or the peak
CUDA memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

import nlpseq


def timed(predictor: nlpseq.api.Predictor, lines: list[str], per_call: int) -> float:
    """Sentences per second translating ``lines`` ``per_call`` at a time."""
    start = time.perf_counter()
    for first in range(0, len(lines), per_call):
        predictor.predict(lines[first:first + per_call])
    return len(lines) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=512, help="lines for the batched runs")
    parser.add_argument("--single", type=int, default=64, help="lines for the one-by-one baseline")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    predictor = nlpseq.load(args.run_dir, device=args.device)
    predictor.task.prepare()
    lines = predictor.task.splits[args.split].dataset["source"][: args.limit]
    predictor.task.decoding.batch_size = args.batch_size
    predictor.set_options(beam_size=args.beam_size)
    predictor.predict(lines[:8])  # warm-up
    beam_batched = timed(predictor, lines, len(lines))
    beam_single = timed(predictor, lines[: args.single], 1)
    predictor.set_options(beam_size=1)
    greedy_batched = timed(predictor, lines, len(lines))
    peak = (torch.cuda.max_memory_allocated() / 2**20 if args.device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({
        "sentences": len(lines), "threads": torch.get_num_threads(), "device": args.device,
        f"beam{args.beam_size}_batched_sent_per_s": round(beam_batched, 1),
        f"beam{args.beam_size}_one_by_one_sent_per_s": round(beam_single, 1),
        "batched_over_one_by_one": round(beam_batched / beam_single, 1),
        "greedy_batched_sent_per_s": round(greedy_batched, 1),
        "greedy_over_beam": round(greedy_batched / beam_batched, 1),
        "peak_memory_mib": round(peak, 1),
    }))


if __name__ == "__main__":
    main()
