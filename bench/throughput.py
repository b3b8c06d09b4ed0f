"""Training throughput and padding on a real corpus: bucketed batches vs. a plain shuffled baseline.

    python bench/throughput.py recipes/sentiment/mr_bigru.yaml [--steps 200]

Both arms train the recipe's model from the same initial weights for the same number of optimizer
steps in this one process; the report gives tokens/s of each and their ratio, and the share of
padded slots. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import torch
from torch.utils.data import DataLoader, Sampler

from nlpseq.config import load_config
from nlpseq.tasks import TASKS
from nlpseq.tasks.common import _Indexed
from nlpseq.training.trainer import move


class ShuffledFixedSize(Sampler[list[int]]):
    """Baseline: shuffled batches of a fixed number of rows, no length sorting."""

    def __init__(self, n: int, batch_size: int, seed: int):
        order = list(range(n))
        random.Random(seed).shuffle(order)
        self.batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def run_arm(task, loader, steps: int, state: dict, rows: int) -> dict[str, float]:
    model = task.build_model()
    model.load_state_dict(state)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    real = padded = 0
    done = 0
    start = time.perf_counter()
    while done < steps:
        for batch in loader:
            batch = move(batch, torch.device("cpu"))
            loss = model(batch).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            real += int(batch["num_tokens"])
            padded += batch["input_ids"].numel()
            done += 1
            if done == steps:
                break
    seconds = time.perf_counter() - start
    return {"steps": steps, "seconds": round(seconds, 2), "tokens": real,
            "tokens_per_s": round(real / seconds, 1), "padding_share": round(1 - real / padded, 4),
            "rows_per_batch": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    config = load_config(args.recipe, [*args.overrides, "run_dir=/tmp/nlpseq-bench"])
    task = TASKS[config.task](config, "/tmp/nlpseq-bench")
    task.prepare()
    train = task.splits["train"].dataset
    torch.manual_seed(0)
    state = task.build_model().state_dict()

    bucketed = task.loader(train, train=True)
    # The baseline uses the average rows per bucketed batch, so both arms see similar token counts.
    rows = round(len(train) / len(bucketed.batch_sampler))
    plain = DataLoader(_Indexed(train), batch_sampler=ShuffledFixedSize(len(train), rows, 0),
                       collate_fn=task.collate)
    report = {"recipe": args.recipe, "threads": torch.get_num_threads(),
              "baseline_shuffled": run_arm(task, plain, args.steps, state, rows),
              "bucketed": run_arm(task, bucketed, args.steps, state, rows)}
    report["speedup_tokens_per_s"] = round(report["bucketed"]["tokens_per_s"]
                                           / report["baseline_shuffled"]["tokens_per_s"], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
