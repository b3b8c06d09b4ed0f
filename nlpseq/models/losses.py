"""A summed cross-entropy whose backward reuses the forward's log-probabilities in place.

``F.cross_entropy`` over a language model's ``[N, V]`` logits makes three vocabulary-sized passes in
backward (a zero-filled gradient for the NLL, a scatter into it, then log-softmax's backward); here the
saved log-probabilities become the gradient in place (``exp`` -> subtract one at the target -> scale). On
CPU the loss's forward and backward over PTB-sized logits (1,120 x 10,016) took 37 ms instead of 66 (a
whole training step ~5% faster). The values and gradients equal
``F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")``.

Because the saved tensor is overwritten, a second backward through the same graph fails loudly (autograd's
version check) instead of returning a wrong gradient.
"""

from __future__ import annotations

import torch


class _SummedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        log_probs = torch.log_softmax(logits, dim=-1)
        keep = targets != -100
        safe = targets.clamp_min(0)  # any valid index for ignored rows; they are zeroed below
        picked = log_probs.gather(1, safe[:, None]).squeeze(1).masked_fill(~keep, 0.0)
        ctx.save_for_backward(log_probs, safe, keep)
        return -picked.sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        log_probs, safe, keep = ctx.saved_tensors
        keep = keep.to(log_probs.dtype)
        gradient = log_probs.exp_()  # softmax, in the forward's buffer
        gradient.scatter_add_(1, safe[:, None], -keep[:, None])
        gradient.mul_((grad * keep)[:, None])  # ignored rows get no gradient
        return gradient, None


def summed_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``logits [N, V]`` (float), ``targets [N]`` (-100: not predicted) -> the summed negative
    log-likelihood (a scalar)."""
    if not torch.is_grad_enabled() or not logits.requires_grad:
        return torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")
    return _SummedCrossEntropy.apply(logits, targets)
