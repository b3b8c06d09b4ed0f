"""Where and how the trainer runs: device choice, mixed precision, moving batches, SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

import torch

from nlpseq.errors import ConfigError, Terminated
from nlpseq.training.batches import Batch

log = logging.getLogger("nlpseq.train")


@dataclass
class Precision:
    """How to run forward passes: autocast dtype (None: fp32) and whether to scale fp16 gradients."""

    dtype: torch.dtype | None
    scale: bool

    @classmethod
    def choose(cls, requested: str, device: torch.device) -> Precision:
        if device.type != "cuda":
            if requested in ("bf16", "fp16"):
                log.info("precision=%s applies on CUDA only; training in fp32 on %s", requested, device)
            return cls(None, False)
        if requested == "auto":
            requested = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return {"fp32": cls(None, False), "bf16": cls(torch.bfloat16, False),
                "fp16": cls(torch.float16, True)}[requested]

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)


def choose_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when there is a GPU, else CPU. A device that is not here is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"trainer.device: {name!r}, but this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s); use auto or cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"trainer.device: {name!r}, but MPS is not available here; use auto or cpu")
    return device


def move(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}


def raise_on_sigterm() -> Any:
    """Make SIGTERM raise :class:`Terminated` in this thread (so training saves and stops like on
    Ctrl-C); return the previous handler to restore, or None where signals cannot be set."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)
