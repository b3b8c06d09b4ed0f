"""One data preparation in a fresh process, so its peak memory is its own (run by bench/harness/scaling.py).

    python -m bench.harness.prepare_child [--threads 1] RECIPE [KEY=VALUE ...]

Loads the recipe with the overrides (the parent points ``data.train`` at a replicated copy, the run
folder and ``data.cache_dir`` at empty temporary folders, so nothing is read from an earlier cache),
runs ``task.prepare()`` and prints one JSON line: the seconds it took, the resident memory before it
(``base_mib``: interpreter, torch, datasets) and the peak during it (``peak_mib``), and the training
examples it made.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from bench.harness.machine import current_rss_mib, peak_rss_mib, reset_peak_memory
from nlpseq.recipes import find_recipe
from nlpseq.tasks import get_task, load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(find_recipe(args.recipe), args.overrides)
    task = get_task(config.task)(config, config.run_dir)
    base = current_rss_mib()
    reset_peak_memory(torch.device("cpu"))
    start = time.perf_counter()
    task.prepare()
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    try:
        train = task.split("train")
    except KeyError:
        train = None
    # A dataset has rows; a language model's stream counts its lines.
    examples = len(train) if hasattr(train, "__len__") else getattr(train, "examples", None)
    print(json.dumps({"seconds": round(seconds, 3), "base_mib": round(base, 1), "peak_mib": round(peak, 1),
                      "train_examples": examples}))


if __name__ == "__main__":
    main()
