"""Gradual unfreezing (ULMFiT, Howard & Ruder 2018): fine-tune a pretrained model from the top down.

At epoch 0 only the top layer group (the output layer) trains; each later epoch one group more, down
to the embedding; from epoch ``len(groups) - 1`` on, everything trains. What is frozen is a function of
the epoch alone, so a resumed run freezes exactly what the uninterrupted one did. For a classifier with
an embedding and two encoder layers (groups bottom to top: embedding, layer 0, layer 1, head)::

    epoch 0: head                     epoch 2: head, layer 1, layer 0
    epoch 1: head, layer 1            epoch 3+: everything

A frozen parameter has ``requires_grad`` False, so backward leaves its ``.grad`` None and the optimizer
skips it entirely: AdamW's decoupled weight decay and SGD's momentum, which would move a parameter
whose gradient is merely zero, never touch it.
"""

from __future__ import annotations

import logging

from torch import nn

from nlpseq.config import TrainerConfig
from nlpseq.errors import ConfigError
from nlpseq.training.optim import layer_groups

log = logging.getLogger("nlpseq.train")


class GradualUnfreezing:
    """Sets ``requires_grad`` on the layer groups (bottom to top) for an epoch: :meth:`apply`.

    A parameter that was frozen before (``model.embedding.freeze``) stays frozen.
    """

    def __init__(self, groups: list[list[nn.Parameter]]):
        self.groups = groups
        self.trainable = [[param.requires_grad for param in group] for group in groups]

    def trained_groups(self, epoch: int) -> int:
        """How many groups, counted from the top, train in ``epoch`` (0-based)."""
        return min(len(self.groups), epoch + 1)

    def apply(self, epoch: int) -> None:
        first = len(self.groups) - self.trained_groups(epoch)  # groups first.. (bottom-up index) train
        for index, (group, trainable) in enumerate(zip(self.groups, self.trainable, strict=True)):
            for param, allowed in zip(group, trainable, strict=True):
                param.requires_grad_(allowed and index >= first)
        log.info("gradual unfreezing: epoch %d trains the top %d of %d layer groups", epoch,
                 self.trained_groups(epoch), len(self.groups))


def gradual_unfreezing(model: nn.Module, config: TrainerConfig, world: int = 1) -> GradualUnfreezing | None:
    """The unfreezing ``trainer.gradual_unfreezing`` asks for (None when off). Call it after the
    optimizer is built: the optimizer must hold the parameters that are frozen at first."""
    if not config.gradual_unfreezing:
        return None
    if world > 1:
        # DDP expects every parameter that required a gradient when it wrapped the model to get one.
        raise ConfigError("trainer.gradual_unfreezing: not supported with more than one process (DDP "
                          "needs the same trainable parameters at every step); train on one device")
    return GradualUnfreezing(layer_groups(model, "trainer.gradual_unfreezing"))
