"""Training throughput and padding on a real corpus: bucketed batches vs. a plain shuffled baseline.

    python bench/throughput.py sentiment/mr_bigru [--steps 200] [KEY=VALUE ...]

Both arms run the real training loop (:class:`nlpseq.training.trainer.Trainer`: autocast, loss
normalisation, clipping, optimizer) on the recipe's model from the same initial weights for the same
number of optimizer steps, in this one process; only the batches differ. The report gives tokens/s of
each arm (training time only, as ``results.json`` counts it), their ratio, and the share of padded
slots. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from nlpseq.recipes import find_recipe
from nlpseq.tasks import get_task, load_config
from nlpseq.tasks.common import _Indexed
from nlpseq.training.batches import TrainingBatches
from nlpseq.training.trainer import Trainer


class ShuffledFixedSize:
    """Baseline TrainingBatches: shuffled batches of a fixed number of rows, no length sorting."""

    def __init__(self, dataset: Any, collate: Any, batch_size: int, seed: int):
        self.dataset, self.collate, self.batch_size, self.seed = dataset, collate, batch_size, seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        order = list(range(len(self.dataset)))
        random.Random(self.seed + epoch).shuffle(order)
        self.batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)][skip:]

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return iter(DataLoader(_Indexed(self.dataset), batch_sampler=self.batches, collate_fn=self.collate))

    def statistics(self) -> dict[str, float]:
        lengths = self.dataset["length"]
        real = sum(lengths)
        padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in self.batches)
        return {"padding_share": round(1 - real / padded, 4)}


def run_arm(task: Any, batches: TrainingBatches, steps: int, state: dict[str, torch.Tensor]
            ) -> dict[str, Any]:
    model = task.build_model(training=True)
    model.load_state_dict(state)
    config = replace(task.config.trainer, max_steps=steps, eval_every=None, progress=False, log_every=steps,
                     patience=None, ema_decay=None)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model, config, Path(run_dir), batches, lambda m: {config.metric: 0.0})
        done = trainer.fit()
    return {"steps": done.step, "train_seconds": round(done.train_seconds, 2), "tokens": done.train_tokens,
            "tokens_per_s": round(done.train_tokens / done.train_seconds, 1), **batches.statistics()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe", help="recipe name or path")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per arm")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as run_dir:
        config = load_config(find_recipe(args.recipe), [*args.overrides, f"run_dir={run_dir}"])
        task = get_task(config.task)(config, run_dir)
        task.prepare()
        torch.manual_seed(0)
        state = task.build_model(training=True).state_dict()
        bucketed = task.training_batches()
        train = task.split("train")
        # The baseline uses the average rows per bucketed batch, so both arms see similar token counts.
        rows = round(len(train) / len(bucketed))
        report = {"recipe": args.recipe, "threads": torch.get_num_threads(), "rows_per_batch": rows,
                  "baseline_shuffled": run_arm(task, ShuffledFixedSize(train, task.collate, rows, 0),
                                               args.steps, state),
                  "bucketed": run_arm(task, bucketed, args.steps, state)}
    report["speedup_tokens_per_s"] = round(report["bucketed"]["tokens_per_s"]
                                           / report["baseline_shuffled"]["tokens_per_s"], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
