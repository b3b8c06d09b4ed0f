"""The one training loop every task uses. It knows nothing about models beyond ``model(batch)``
returning ``loss`` (summed over what it predicts) and ``num_targets``, nor about data beyond
:class:`TrainingBatches`.

Reads top to bottom in :meth:`Trainer.fit`: resume, then per batch autocast forward, scaled backward,
every ``grad_accum`` micro-batches normalise + clip + step + schedule; evaluate every ``eval_every``
steps (or each epoch), keep ``best.pt`` by the named metric, stop early after ``patience`` evaluations
without improvement, and always leave ``last.pt`` to resume from. Running the same command again resumes.

Loss normalisation: a step's gradient is that of the summed loss of all its micro-batches on all
ranks, divided by the number of targets they predicted together (tokens for sequence tasks, examples
for classification; Joey NMT's ``normalization: tokens``). So a micro-batch weighs by its size, and
``grad_accum`` or the number of ranks change nothing but memory. Losses and counts accumulate on the
device and are read back only when a line is logged: no host sync per micro-batch.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from nlpseq import distributed
from nlpseq.config import TrainerConfig
from nlpseq.errors import TrainingDiverged
from nlpseq.fileio import remove_orphans
from nlpseq.training import checkpoint, run_files
from nlpseq.training.averaging import running_average
from nlpseq.training.batches import TrainingBatches
from nlpseq.training.budget import TimeBudget
from nlpseq.training.checkpoint import TrainState
from nlpseq.training.device import Precision, move
from nlpseq.training.metrics_log import MetricsLog
from nlpseq.training.optim import build_optimizer, build_scheduler
from nlpseq.training.plots import plot_curves_or_warn
from nlpseq.training.progress import Progress, wants_bar
from nlpseq.training.stopping import StopRequest
from nlpseq.training.unfreezing import gradual_unfreezing

log = logging.getLogger("nlpseq.train")

@dataclass
class Trainer:
    """Train ``model`` on ``batches`` and pick the best checkpoint by ``evaluate``.

    Args:
        model: ``model(batch)`` returns an object with ``loss`` (summed over the batch's targets) and
            ``num_targets`` (a tensor: how many targets it predicted).
        config: optimisation, evaluation and checkpoint settings (``metric`` and ``metric_mode`` set).
        run_dir: where ``checkpoints/``, ``metrics.jsonl`` and ``curves.png`` go (and ``tensorboard/``).
        batches: the training data (:class:`TrainingBatches`).
        evaluate: ``evaluate(model) -> {metric: value}`` on the validation data (every rank calls it).
        verbose: False: no progress bar (log lines go wherever logging sends them).
    """

    model: nn.Module
    config: TrainerConfig
    run_dir: Path
    batches: TrainingBatches
    evaluate: Callable[[nn.Module], dict[str, float]]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    verbose: bool = True

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.metrics_file = self.run_dir / "metrics.jsonl"
        self.rank, self.world = distributed.rank_and_world()
        self.metrics = MetricsLog(self.metrics_file, self.config.tensorboard, enabled=self.rank == 0)
        self.model.to(self.device)
        self.precision = Precision.choose(self.config.precision, self.device)
        if self.config.metric is None or self.config.metric_mode is None:
            raise ValueError("trainer.metric and trainer.metric_mode must be set (the task's defaults "
                             "are filled in when a recipe loads)")
        self.optimizer = build_optimizer(self.model, self.config)
        self.unfreezing = gradual_unfreezing(self.model, self.config, self.world)  # None: off
        self.batches.set_epoch(0)
        steps_per_epoch = max(1, math.ceil(len(self.batches) / self.config.grad_accum))
        self.total_steps = self.config.max_steps or steps_per_epoch * self.config.max_epochs
        self.scheduler = build_scheduler(self.optimizer, self.config, self.total_steps)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision.scale)
        self.state = TrainState()
        self.budget: TimeBudget | None = None  # set when fit() begins, after a resume
        self._boundary_rng = checkpoint.rng_state()
        self.stop_request = StopRequest()
        # The logging window's [loss, targets, tokens] on the device, saved in every checkpoint.
        self._window = torch.zeros(3, dtype=torch.float64, device=self.device)
        # Averaged weights (ema_decay or asgd), evaluated and kept as best.pt once averaging has begun.
        self.ema = running_average(self.model, self.config)
        self.wrapped = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    # ------------------------------------------------------------------------------------------
    def fit(self) -> TrainState:
        """Train until max_epochs / max_steps / early stopping; resume first if a checkpoint exists.

        Ctrl-C and SIGTERM are acted on at the next step boundary (after the step's logging and any
        evaluate + save group, never inside them): ``last.pt`` is saved there and the signal's exception
        raised (SIGTERM: :class:`Terminated`); the same command resumes exactly (:mod:`.stopping`).
        """
        with self.stop_request:
            return self._fit()

    def _fit(self) -> TrainState:
        self._pick_up()
        if self._done():
            log.info("training already finished at step %d; nothing to do", self.state.step)
            return self.state
        cfg = self.config
        self.wrapped.train()
        self.metrics.open()  # the TensorBoard event file, with trainer.tensorboard
        # A live bar on a terminal or in a notebook; logs and CI read the step line every log_every steps.
        progress = Progress(self.total_steps, self.state.step,
                            wants_bar(cfg.progress and self.verbose and self.rank == 0))
        # Running sums of the step being accumulated (the window's are self._window), kept on the
        # device: [loss, targets, tokens].
        window = self._window
        step_sums = torch.zeros(3, dtype=torch.float64, device=self.device)
        window_start = time.perf_counter()
        scale = torch.ones((), dtype=torch.float64, device=self.device)
        micro = 0
        stop = False
        try:
            while not (stop or self._done()):
                skip = self.state.batch_in_epoch
                self.batches.set_epoch(self.state.epoch, skip=skip)
                if self.unfreezing is not None:  # a function of the epoch: resumes exactly
                    self.unfreezing.apply(self.state.epoch)
                batches_left = len(self.batches)
                for position, batch in enumerate(self.batches, 1):
                    batch = move(batch, self.device)
                    last_of_epoch = position == batches_left
                    micro += 1
                    sync = micro == cfg.grad_accum or last_of_epoch
                    # DDP all-reduces gradients only on the micro-batch that steps.
                    quiet = self.world > 1 and not sync
                    scale = self._forward_backward(batch, micro == 1, quiet, scale, step_sums)
                    if not sync:
                        continue
                    step_targets = distributed.all_reduce_sum(step_sums[1].clone())
                    stepped = self._optimizer_step(scale / step_targets * self.world)
                    micro = 0
                    self.state.batch_in_epoch = skip + position
                    self._boundary_rng = checkpoint.rng_state()
                    if not stepped:  # a skipped step is not counted, logged or evaluated
                        self._stop_if_asked(last_of_epoch)
                        continue
                    window += step_sums
                    progress.advance()
                    # The last step of a run (max_steps, max_minutes) logs its partial window too, so
                    # results.json's time and tokens cover every step.
                    finishing = self._done()
                    if self.state.step % cfg.log_every == 0 or last_of_epoch or finishing:
                        self._log_window(window, time.perf_counter() - window_start, progress)
                        window_start = time.perf_counter()
                    if cfg.eval_every and self.state.step % cfg.eval_every == 0:
                        paused = time.perf_counter()
                        stop = self._evaluate_and_save()
                        window_start += time.perf_counter() - paused  # tokens/s counts training only
                    if stop or finishing:
                        break
                    self._stop_if_asked(last_of_epoch)
                else:
                    self.state.epoch += 1
                    self.state.batch_in_epoch = 0
                    if not cfg.eval_every:
                        stop = self._evaluate_and_save()
                    window_start = time.perf_counter()
                    if not stop:
                        self._stop_if_asked()
            # A final evaluation when the last one is stale, so best.pt reflects the end of training.
            if self.state.evaluated_step != self.state.step and not self._early_stopped():
                self._evaluate_and_save()
            self._save("last")
            if self.stop_request.agreed(self.world, self.device):  # a signal in the final group
                self.stop_request.check()
        finally:
            progress.close()
            self.metrics.close()
        return self.state

    def _stop_if_asked(self, end_of_epoch: bool = False) -> None:
        """At a step boundary: on a noted signal, save ``last.pt`` (the RNG the step left) and stop.
        An epoch's last step waits for the epoch's end (its evaluation, the epoch count moved)."""
        if not end_of_epoch and self.stop_request.agreed(self.world, self.device):
            log.warning("interrupted at step %d: saving checkpoints/last.pt", self.state.step)
            self._save("last", rng=self._boundary_rng)
            self.stop_request.check()

    def _pick_up(self) -> None:
        """Before the loop: clear files a killed write left, resume from ``last.pt`` if there is one,
        and start the time budget from the run's wall time so far."""
        if self.rank == 0:
            for orphan in remove_orphans(self.checkpoint_dir) + remove_orphans(self.run_dir):
                log.warning("removed %s, left by a run killed while writing it", orphan)
        if (self.checkpoint_dir / "last.pt").is_file():
            self.resume(self.checkpoint_dir / "last.pt")
        self.metrics.drop_after(self.state.step)  # rows logged after last.pt are logged again (rank 0)
        self.budget = TimeBudget(self.state.wall_seconds, self.config.max_minutes, self.device)

    def _forward_backward(self, batch: dict[str, Any], first: bool, quiet: bool, scale: torch.Tensor,
                          step_sums: torch.Tensor) -> torch.Tensor:
        """One micro-batch: loss, backward, and its [loss, targets, tokens] added to ``step_sums``
        (on the device). Returns the scale backward divided by. ``quiet``: DDP does not all-reduce
        (not the micro-batch that steps)."""
        with self.wrapped.no_sync() if quiet else contextlib.nullcontext():
            with self.precision.autocast(self.device):
                output = self.wrapped(batch)
            targets = output.num_targets.detach().to(torch.float64)
            if first:
                # Backward divides by the first micro-batch's count (so fp16 gradients keep a mean
                # loss's magnitude); the step corrects it to the whole step's count.
                scale = targets.clamp(min=1.0)
                step_sums.zero_()
            self.scaler.scale(output.loss.float() / scale).backward()
        step_sums += torch.stack([output.loss.detach().to(torch.float64), targets,
                                  batch["num_tokens"].to(torch.float64)])
        return scale

    def _log_window(self, window: torch.Tensor, elapsed: float, progress: Progress) -> None:
        """Log the training rows of the window summed in ``window`` ([loss, targets, tokens], all ranks
        summed here; the one host read of it), then clear it. The step line is logged with or without a
        bar (train.log keeps it), with the run's elapsed time and an ETA."""
        loss_sum, target_count, tokens = distributed.all_reduce_sum(window).tolist()
        loss_avg = loss_sum / max(target_count, 1.0)
        self.state.train_seconds += elapsed
        self.state.train_tokens += int(tokens)
        row = {"split": "train", "step": self.state.step, "epoch": self.state.epoch, "loss": loss_avg,
               "lr": self.optimizer.param_groups[0]["lr"], "tokens_per_s": tokens / max(elapsed, 1e-9)}
        self.metrics.write(row)
        progress.show(loss_avg, row["tokens_per_s"])
        # The budget left from the wall time the last step recorded: reading the clock here again
        # would move it for nothing (and tests drive the budget's clock read by read).
        minutes = self.config.max_minutes
        left = None if minutes is None else 60 * minutes - self.state.wall_seconds
        times = progress.times(self.state.step, self.state.wall_seconds, left)
        log.info("step %d/%d epoch %d loss %.4f lr %.2e %.0f tokens/s %s", self.state.step,
                 self.total_steps, self.state.epoch, loss_avg, row["lr"], row["tokens_per_s"], times)
        window.zero_()

    def _optimizer_step(self, normalise: torch.Tensor) -> bool:
        """Scale gradients by ``normalise`` (a device tensor: per target over the step, see the module
        docstring; DDP's averaging over ranks is undone in it), clip, step, schedule.

        A step whose gradient norm is not finite (a NaN or infinite loss gives one) is skipped and
        counted: the weights never take a NaN. ``trainer.max_bad_steps`` of them in a row stop training.
        Returns whether the step was taken.
        """
        cfg = self.config
        self.scaler.unscale_(self.optimizer)  # a no-op unless fp16 scaling is on
        grads = [param.grad for param in self.model.parameters() if param.grad is not None]
        for grad in grads:
            grad.mul_(normalise.to(grad.dtype))
        if cfg.grad_clip:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        else:
            norm = nn.utils.get_total_norm(grads)
        # One host read per optimizer step (GradScaler makes the same one): every rank sees the same
        # all-reduced gradients, so all take the same decision.
        if not bool(torch.isfinite(norm)):
            return self._skip_step()
        self.state.bad_steps = 0
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if not isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step()
        self.state.step += 1
        if self.config.asgd_start is not None and self.state.step > self.config.asgd_start:
            self._start_asgd(f"step {self.config.asgd_start} (trainer.asgd_start)")
        if self._averaging():
            self.ema.update_parameters(self.model)
        return True

    def _averaging(self) -> bool:
        """Whether averaged weights exist and are updated: always with ema_decay; with asgd, from the
        step averaging began."""
        return self.ema is not None and (self.config.optimizer != "asgd" or self.state.asgd_since is not None)

    def _start_asgd(self, reason: str) -> None:
        if self.config.optimizer == "asgd" and self.state.asgd_since is None:
            self.state.asgd_since = self.state.step
            log.info("ASGD: averaging the weights from step %d on (%s)", self.state.step, reason)

    def _evaluated_model(self) -> nn.Module:
        """The weights evaluation and best.pt use: the averaged ones once averaging has begun."""
        return self.ema.module if self._averaging() else self.model

    def _skip_step(self) -> bool:
        if self.scaler.is_enabled():  # fp16: let the scaler see the overflow and lower its scale
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.bad_steps += 1
        self.state.skipped_steps += 1
        log.warning("optimizer step %d skipped: the loss or gradient is not finite (%d in a row)",
                    self.state.step + 1, self.state.bad_steps)
        if self.state.bad_steps >= self.config.max_bad_steps:
            raise TrainingDiverged.bad_steps(self.state.step, self.state.bad_steps)
        return False

    def _done(self) -> bool:
        cfg = self.config
        return (self.state.epoch >= cfg.max_epochs or (cfg.max_steps is not None and self.state.step >=
                cfg.max_steps) or self._early_stopped() or self._out_of_time())

    def _out_of_time(self) -> bool:
        """Whether ``trainer.max_minutes`` are gone (read after every optimizer step); keeps the
        state's ``wall_seconds`` current for the checkpoints. A run always takes its first step, so
        even a budget gone before it began ends with an evaluation and a best.pt."""
        if self.budget is None or self.state.step == 0:
            return False
        self.state.wall_seconds = self.budget.spent()
        return self.budget.over(self.world)

    def _early_stopped(self) -> bool:
        return self.config.patience is not None and self.state.bad_evals > self.config.patience

    def _evaluate_and_save(self) -> bool:
        """Evaluate, update best/early-stopping state, write checkpoints. True means stop training."""
        cfg = self.config
        self.wrapped.eval()
        # Evaluating must not move the training RNG: how often one evaluates never changes training.
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), self.precision.autocast(self.device):
            metrics = self.evaluate(self._evaluated_model())
        self.wrapped.train()
        if cfg.metric not in metrics:
            raise KeyError(f"trainer.metric={cfg.metric!r} is not among the evaluation metrics: "
                           f"{', '.join(sorted(metrics))}")
        value = float(metrics[cfg.metric])
        self.state.evaluated_step = self.state.step
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(value)
        best = self.state.best_metric
        improved = best is None or (value > best if cfg.metric_mode == "max" else value < best)
        if improved:
            self.state.best_metric, self.state.best_step, self.state.bad_evals = value, self.state.step, 0
        else:
            self.state.bad_evals += 1
            if cfg.asgd_start is None and self.state.bad_evals >= cfg.asgd_nonmono:
                self._start_asgd(f"{self.state.bad_evals} evaluations without improvement")
        self.metrics.write({"split": "valid", "step": self.state.step, "epoch": self.state.epoch, **metrics})
        log.info("step %d valid %s=%.4f (best %.4f at step %d)", self.state.step, cfg.metric, value,
                 self.state.best_metric, self.state.best_step)
        self.state.window = self._window.tolist()  # what every checkpoint of this group carries
        if improved:
            self._save("best")
        self._keep_step_checkpoint()  # before last.pt: a kill between them redoes both on resume
        self._save("last")
        if self.rank == 0:
            plot_curves_or_warn(self.metrics_file, self.run_dir / "curves.png", cfg.metric)
        if cfg.patience is not None and self.state.bad_evals > cfg.patience:
            log.info("early stopping: %d evaluations without improvement", self.state.bad_evals)
            return True
        return False

    # ------------------------------------------------------------------------------------------
    def _save(self, name: str, rng: dict[str, Any] | None = None) -> None:
        if self.rank != 0:
            return
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            # Reachable with finite gradients and a huge learning rate; never write such weights.
            raise TrainingDiverged.weights(self.state.step, f"{name}.pt")
        self.state.window = self._window.tolist()  # a host read, once per save
        payload = {**checkpoint.state_dicts(self._parts()), "rng": rng or checkpoint.rng_state(),
                   "state": asdict(self.state)}
        if self.ema is not None and name == "best":  # what inference loads: the weights evaluated
            payload["model"] = self._evaluated_model().state_dict()
        checkpoint.save_checkpoint(self.checkpoint_dir / f"{name}.pt", payload)

    def _keep_step_checkpoint(self) -> None:
        if self.config.keep_checkpoints and self.rank == 0:
            checkpoint.keep_step_checkpoint(
                self.checkpoint_dir, self.config.keep_checkpoints, self.state.step,
                {"model": self._evaluated_model().state_dict(), "state": asdict(self.state)})

    def _parts(self) -> dict[str, Any]:
        """What a checkpoint holds the state dict of, by payload key (None: not in this run)."""
        return {"model": self.model, "optimizer": self.optimizer, "scheduler": self.scheduler,
                "scaler": self.scaler, "ema": self.ema}

    def resume(self, path: Path) -> None:
        # Checked first: a last.pt whose model is {} or of another shape, or lacks a part, is one line.
        parts = self._parts()
        required = ("rng", "state",
                    *(key for key, part in parts.items() if part is not None and key != "model"))
        payload = run_files.load_resume(self.model, path, self.device, required)
        checkpoint.load_state_dicts({**parts, "model": None}, payload)
        checkpoint.set_rng_state(payload["rng"])
        self.state = TrainState(**payload["state"])
        if self.rank == 0:  # the window rank 0 saved is its own: the other ranks' begin anew
            self._window = torch.tensor(self.state.window, dtype=torch.float64, device=self.device)
        log.info("resumed from %s at step %d (epoch %d, batch %d)", path, self.state.step,
                 self.state.epoch, self.state.batch_in_epoch)
