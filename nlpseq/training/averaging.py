"""Weight averaging: during training (an exponential moving average, or ASGD's running mean) and
afterwards (the mean of the last N evaluated checkpoints).

Averaging the weights of the last few checkpoints of one run (Vaswani et al. 2017; Junczys-Dowmunt et
al. 2016) smooths the noise of the last steps and usually gains a little BLEU over any one of them. The
trainer keeps them with ``trainer.keep_checkpoints: N`` as ``checkpoints/step-XXXXXXX.pt``;
:func:`average_checkpoints` writes ``checkpoints/averaged.pt``, which ``evaluate``/``predict`` load
with ``--checkpoint averaged``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from nlpseq.config import TrainerConfig
from nlpseq.errors import NlpseqError
from nlpseq.training.checkpoint import save_checkpoint
from nlpseq.training.run_files import load_state, mismatch

log = logging.getLogger("nlpseq.train")


def running_average(model: nn.Module, config: TrainerConfig) -> AveragedModel | None:
    """The averaged copy of ``model`` the trainer updates after each optimizer step, or None.

    ``ema_decay``: an exponential moving average, updated from the first step (it smooths the step-to-
    step noise of small-batch training). ``optimizer: asgd``: the plain mean of the weights of every
    step since averaging began (Polyak & Juditsky 1992), which the trainer starts at ``asgd_start`` or,
    as AWD-LSTM's NT-ASGD, once validation stops improving. Buffers are averaged too.
    """
    if config.ema_decay:
        return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    if config.optimizer == "asgd":
        return AveragedModel(model, use_buffers=True)
    return None


def average_checkpoints(run_dir: str | Path, last: int) -> Path:
    """Average the weights of the ``last`` newest ``step-*.pt`` of ``run_dir``; return the file written.

    Floating-point tensors are averaged in float64 and cast back; integer buffers (counters) are
    taken from the newest checkpoint.
    """
    folder = Path(run_dir) / "checkpoints"
    paths = sorted(folder.glob("step-*.pt"))
    if last < 1:
        raise NlpseqError(f"--last must be at least 1, got {last}")
    if len(paths) < last:
        raise NlpseqError(f"{folder}: {len(paths)} step checkpoint(s) here, fewer than --last {last}; train "
                          "with trainer.keep_checkpoints set to keep them")
    paths = paths[-last:]
    sums: dict[str, torch.Tensor] = {}
    newest: dict[str, torch.Tensor] = {}
    first: dict[str, torch.Tensor] = {}
    for path in paths:
        weights = load_state(path)  # a dict of finite weights, or one line naming the file
        first = first or weights
        # Names and shapes both: tensors of another shape would broadcast or fail mid-sum.
        problem = mismatch(first, weights)
        if problem is not None:
            raise NlpseqError(f"{path}: does not match {paths[0].name} ({problem}): another model?")
        for name, tensor in weights.items():
            if tensor.is_floating_point():
                sums[name] = sums.get(name, torch.zeros_like(tensor, dtype=torch.float64)) + tensor.double()
            else:
                sums.setdefault(name, tensor)
            newest[name] = tensor
    averaged = {name: (total / len(paths)).to(newest[name].dtype) if newest[name].is_floating_point()
                else newest[name] for name, total in sums.items()}
    out = folder / "averaged.pt"
    save_checkpoint(out, {"model": averaged, "averaged": [path.name for path in paths]})
    log.info("averaged %s into %s", ", ".join(path.name for path in paths), out)
    return out
