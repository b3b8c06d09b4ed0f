"""Training speed of the real pipeline against the raw kernel, in alternating rounds of one process.

A pipeline round is :meth:`Trainer.fit <nlpseq.training.trainer.Trainer.fit>` run on for ``steps`` more
optimizer steps: the task's batches, the model, the loss, backward, normalisation, clipping, the
optimizer and the schedule, exactly as ``nlpseq train`` runs them; its time is the trainer's own
``train_seconds`` (training only, as ``results.json`` counts it; evaluation and checkpoints between
rounds are not in it). A kernel round then replays the ``[B, T]`` shapes of the batches that round
trained on through :class:`~bench.harness.kernel.RawKernel`. Alternating the two spreads any drift of
a shared machine (another job, a clock) over both sides instead of biasing one.

The first pair of rounds (``warmup`` steps) is not counted: it pays for first-touch allocations and
kernel selection on both sides.

On CUDA the kernel rounds are timed between device synchronisations. The trainer reads its clock just
before its window's one host read, so the queued work of the last step of a round can fall outside
its time; the host read of the gradient norm in every step (``Trainer._optimizer_step``) bounds that
to part of one optimizer step per round.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from bench.harness.kernel import BatchRecord, RawKernel, RecordingBatches, kernel_layers
from bench.harness.machine import clock, peak_memory_mib, reset_peak_memory, synchronize
from bench.harness.report import efficiency, padding_share, tokens_per_s
from nlpseq.tasks.contract import Task
from nlpseq.training.trainer import Trainer


def measure_training(task: Task, run_dir: Path, device: torch.device, rounds: int, steps: int,
                     warmup: int) -> dict[str, Any]:
    """Pipeline vs kernel tokens/s over ``rounds`` timed rounds of ``steps`` optimizer steps each,
    after a warm-up pair of ``warmup`` steps; ``task`` is prepared, ``run_dir`` its run folder (the
    trainer leaves its checkpoints there, which the inference measurement then loads)."""
    torch.manual_seed(task.config.trainer.seed)
    model = task.build_model(training=True)
    batches = RecordingBatches(task.training_batches())
    total = warmup + rounds * steps
    # Evaluation, early stopping and averaging-for-evaluation are outside the step loop or change
    # nothing in it; log_every = steps makes one host read of the loss window per round.
    config = replace(task.config.trainer, max_steps=total, eval_every=None, patience=None, progress=False,
                     log_every=steps, max_minutes=None, init_from=None)
    metric = config.metric or "loss"
    trainer = Trainer(model, config, run_dir, batches, lambda m: {metric: 0.0}, device=device,
                      verbose=False)
    layers = kernel_layers(model)
    reset_peak_memory(device)
    kernel: RawKernel | None = None
    pipeline_s = kernel_s = 0.0
    counted: list[BatchRecord] = []
    done = 0
    for round_index in range(rounds + 1):
        length = warmup if round_index == 0 else steps
        seconds_before = trainer.state.train_seconds
        trainer.config = replace(trainer.config, max_steps=done + length)
        synchronize(device)
        state = trainer.fit()
        done = state.step
        pipeline_round = state.train_seconds - seconds_before
        records = batches.take()
        if kernel is None:
            kernel = RawKernel(layers, config, device, records)
        kernel.grow(records)
        start = clock(device)
        kernel.run(records)
        kernel_round = clock(device) - start
        if round_index > 0:
            pipeline_s += pipeline_round
            kernel_s += kernel_round
            counted += records
    tokens = sum(record.tokens for record in counted)
    pipeline = tokens_per_s(tokens, pipeline_s)
    raw = tokens_per_s(tokens, kernel_s)
    return {
        "steps_timed": rounds * steps, "rounds": rounds, "warmup_steps": warmup, "batches": len(counted),
        "tokens": tokens, "pipeline_seconds": round(pipeline_s, 3), "kernel_seconds": round(kernel_s, 3),
        "pipeline_tokens_per_s": round(pipeline, 1), "kernel_tokens_per_s": round(raw, 1),
        "efficiency": round(efficiency(pipeline, raw), 3),
        # Pooled over the sides an RNN reads; per side below (the task's own statistic, in
        # task_statistics, counts a translation row's longer side only).
        "padding_share": round(padding_share(counted), 4),
        "padding_by_side": {side: round(padding_share(counted, side), 4)
                            for side in sorted({side for record in counted for side in record.sides})},
        "skipped_steps": trainer.state.skipped_steps,
        # Both sides' peak (the kernel's is far below the model's); RSS on CPU, allocated on CUDA.
        "peak_memory_mib": round(peak_memory_mib(device), 1),
        "kernel": [{"rnn": layer.rnn_type, "input_size": layer.input_size, "hidden_size": layer.hidden_size,
                    "num_layers": layer.num_layers, "bidirectional": layer.bidirectional,
                    "shape": layer.shape_key, "modules": list(layer.modules)} for layer in layers],
        "batch_shapes": _shape_summary(counted),
        "task_statistics": batches.statistics(),
    }


def _shape_summary(records: list[BatchRecord]) -> dict[str, dict[str, float]]:
    """Per shape key: mean rows and time steps of the timed batches (the full list is not kept)."""
    summary: dict[str, dict[str, float]] = {}
    for key in sorted({key for record in records for key in record.shapes}):
        shapes = [record.shapes[key] for record in records if key in record.shapes]
        summary[key] = {"mean_rows": round(sum(s[0] for s in shapes) / len(shapes), 1),
                        "mean_steps": round(sum(s[1] for s in shapes) / len(shapes), 1),
                        "max_steps": max(s[1] for s in shapes)}
    return summary
