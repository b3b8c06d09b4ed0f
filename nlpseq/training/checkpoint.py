"""Checkpoints: state dicts and plain data only, written atomically, loaded with weights_only=True."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nlpseq.errors import NlpseqError
from nlpseq.fileio import atomic_write


@dataclass
class TrainState:
    """Where training stands; saved in every checkpoint (plain data only)."""

    step: int = 0  # optimizer steps taken
    epoch: int = 0  # current epoch
    batch_in_epoch: int = 0  # batches of this epoch consumed at the last optimizer step
    best_metric: float | None = None
    best_step: int = 0
    bad_evals: int = 0  # evaluations since the best one (early stopping)
    evaluated_step: int = -1  # step of the latest evaluation
    train_seconds: float = 0.0  # in training steps only (what tokens/s divides by)
    wall_seconds: float = 0.0  # since training began, evaluations included (trainer.max_minutes)
    train_tokens: int = 0
    bad_steps: int = 0  # optimizer steps in a row skipped for a non-finite loss or gradient
    skipped_steps: int = 0  # all such steps
    asgd_since: int | None = None  # optimizer: asgd: the step its weight averaging began at
    # The logging window summed so far, [loss, targets, tokens]: a resumed run logs the same rows.
    window: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` via a temporary file and a rename: a crash never leaves half.
    A failed write (a full disk) is one NlpseqError naming ``path``."""

    def write(tmp: Path) -> None:
        try:
            torch.save(payload, tmp)
        except RuntimeError as error:  # torch's writer reports a full disk as RuntimeError, not OSError
            raise OSError(f"torch.save failed: {str(error).splitlines()[0]}; is the disk full?") from None

    atomic_write(path, write)


def keep_step_checkpoint(folder: Path, keep: int, step: int, payload: dict[str, Any]) -> None:
    """``payload`` (evaluated weights and state) as ``folder/step-XXXXXXX.pt``, the oldest beyond
    ``keep`` removed; ``nlpseq average`` reads them. Written before ``last.pt``, so a kill between the
    two leaves a ``last.pt`` from before this step, whose resume writes the file again."""
    save_checkpoint(folder / f"step-{step:07d}.pt", payload)
    for old in sorted(folder.glob("step-*.pt"))[:-keep]:
        old.unlink(missing_ok=True)


def state_dicts(parts: dict[str, Any]) -> dict[str, Any]:
    """``{key: part.state_dict()}`` for the parts that are not None (model, optimizer, ...)."""
    return {key: part.state_dict() for key, part in parts.items() if part is not None}


def load_state_dicts(parts: dict[str, Any], payload: dict[str, Any]) -> None:
    """Load each part that is not None from ``payload[key]`` (what :func:`state_dicts` saved)."""
    for key, part in parts.items():
        if part is not None:
            part.load_state_dict(payload[key])


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise NlpseqError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise NlpseqError(f"{path}: cannot load checkpoint ({type(error).__name__}: {error})") from None


def rng_state() -> dict[str, Any]:
    """The RNG states that shape training (dropout, sampling) as plain data and tensors."""
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
