"""Generation throughput of a language-model run folder: 64 samples in one batch vs one at a time.

    python bench/generate.py RUN_DIR [--samples 64] [--max-new-tokens 50] [--condition VALUE]

Times ``Predictor.generate`` for ``--samples`` samples of one prompt in one call (one forward step per
new token for the whole batch), then the same number one call each, in this one process, and reports
generated tokens/s for both and the ratio (samples stop at end-of-sequence, so the two sides generate
about, not exactly, the same number of tokens; tokens/s is counted on what each generated).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import nlpseq.api


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=50)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--condition", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default="best", help="best or last")
    args = parser.parse_args()

    predictor = nlpseq.api.Predictor(args.run_dir, device="cpu", checkpoint=args.checkpoint)
    options = {"max_new_tokens": args.max_new_tokens, "condition": args.condition, "top_k": 0}
    predictor.generate(args.prompt, num_samples=2, seed=99, **options)  # warm-up

    def tokens(results: list[dict]) -> int:
        return sum(len(r["tokens"]) for r in results)

    start = time.perf_counter()
    batched = tokens(predictor.generate(args.prompt, num_samples=args.samples, seed=args.seed, **options))
    batched_s = time.perf_counter() - start

    start = time.perf_counter()
    single = sum(tokens(predictor.generate(args.prompt, num_samples=1, seed=args.seed + i, **options))
                 for i in range(args.samples))
    single_s = time.perf_counter() - start

    report = {"run_dir": args.run_dir, "threads": torch.get_num_threads(), "samples": args.samples,
              "batched_tokens": batched, "batched_seconds": round(batched_s, 3),
              "batched_tokens_per_s": round(batched / batched_s, 1),
              "single_tokens": single, "single_seconds": round(single_s, 3),
              "single_tokens_per_s": round(single / single_s, 1),
              "speedup": round((batched / batched_s) / (single / single_s), 1)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
