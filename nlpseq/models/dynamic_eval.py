"""Dynamic evaluation of a stream language model (Krause et al. 2018, "Dynamic Evaluation of Neural
Sequence Models", their SGD variant with a decay back to the trained weights).

The model goes on learning while it is scored. Each BPTT window is first scored, then one gradient
step on that window's mean loss moves the weights, and a decay pulls them back towards the trained
ones::

    theta <- theta - lr * grad(mean loss of the window just scored)
    theta <- theta + decay * (theta_trained - theta)

so that a held-out text's own names and turns of phrase, once read, cost less the next time they
come. It is a different protocol from static evaluation, not a better model: papers report the two
apart, and so does nlpseq (``nlpseq evaluate RUN --dynamic-lr LR``).

Every token is scored by weights that have learnt only from the text before it: the stream runs as
one column, in order. (With several columns, as static evaluation batches it, a column would be
scored by weights that had already learnt from the windows of the columns after it, text that comes
later in the stream.) So the summed loss is still a sequential code length of the text, and with
``lr = 0`` it equals static evaluation over one column. The steps run on a copy of the model; the
caller's weights never change.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from nlpseq.data.stream import StreamBatches
from nlpseq.models.language_model import LanguageModel


def dynamic_windows(model: LanguageModel, ids: torch.Tensor, bptt: int, lr: float, decay: float = 0.0
                    ) -> Iterator[tuple[float, int]]:
    """Score the stream ``ids [N]`` window by window (``bptt`` tokens each), adapting a copy of
    ``model`` after each; yield every window's (summed loss in nats, predicted tokens)."""
    if lr < 0 or not 0 <= decay < 1:
        raise ValueError(f"dynamic evaluation needs lr >= 0 and 0 <= decay < 1, got {lr} and {decay}")
    adapted = copy.deepcopy(model)
    # Dropout off: the steps adapt the weights to the text, they are not training regularisation.
    adapted.eval()
    params = [p for p in adapted.parameters() if p.requires_grad]
    # The trained weights are kept only for the decay to pull towards.
    trained = [p.detach().clone() if decay else None for p in params]
    device = next(adapted.parameters()).device
    state = None
    # cuDNN's fused RNN refuses a backward pass in eval mode; off cuDNN the same step runs on ATen's.
    with torch.backends.cudnn.flags(enabled=False):
        for batch in StreamBatches(ids, 1, bptt, rank=0, world=1):
            targets = batch["targets"].to(device).flatten()
            with torch.enable_grad():
                logits, state = adapted.score(batch["input_ids"].to(device), state)
                loss = F.cross_entropy(logits.flatten(0, 1).float(), targets, reduction="sum")
                grads = torch.autograd.grad(loss / targets.numel(), params, allow_unused=True)
            with torch.no_grad():
                for param, grad, start in zip(params, grads, trained, strict=True):
                    if grad is not None:
                        param.sub_(grad, alpha=lr)
                    if start is not None:
                        param.lerp_(start, decay)  # theta + decay * (theta_trained - theta), in place
            state = adapted.detach_state(state)
            yield loss.item(), targets.numel()


def dynamic_total_loss(model: LanguageModel, ids: torch.Tensor, bptt: int, lr: float, decay: float = 0.0
                       ) -> tuple[float, int]:
    """(summed loss, predicted tokens) of the stream ``ids`` under dynamic evaluation."""
    total, count = 0.0, 0
    for loss, tokens in dynamic_windows(model, ids, bptt, lr, decay):
        total += loss
        count += tokens
    return total, count
